"""Benchmark contamination: how much of a test item already appears in the training data.

If a benchmark's questions (and answers) are in the pretraining corpus, a model
can score by remembering them, and the score no longer measures what it claims.
GPT-3's authors flagged a test item when one of its 13-word n-grams occurred in
the training data (Brown et al., 2020); later reports use the fraction of an
item's n-grams found in the corpus. Both are computed here from a set of the
corpus' n-grams, built once.
"""

from __future__ import annotations

from fmref._validate import check_positive_int
from fmref.data.dedup import normalize_text

__all__ = ["ngrams", "build_ngram_index", "overlap_fraction", "find_contaminated"]


def _check_n(n):
    check_positive_int("n", n)


def ngrams(text, n=13):
    """The set of word ``n``-grams of the normalised text.

    Parameters
    ----------
    text : str
        Any text, normalised with :func:`fmref.data.dedup.normalize_text`.
    n : int, default 13
        Words per n-gram (13 as in GPT-3's contamination study). A text with
        fewer words gives one n-gram of them all.

    Returns
    -------
    set of tuple of str
        The n-grams.

    Raises
    ------
    ValueError
        If ``n < 1``.

    Examples
    --------
    >>> from fmref.data.contamination import ngrams
    >>> sorted(ngrams("To be, or not to be.", n=5))
    [('be', 'or', 'not', 'to', 'be'), ('to', 'be', 'or', 'not', 'to')]
    """
    _check_n(n)
    words = normalize_text(text).split()
    if len(words) <= n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def build_ngram_index(docs, n=13):
    """Every word ``n``-gram of a corpus, for fast look-ups.

    Parameters
    ----------
    docs : iterable of str
        The training corpus.
    n : int, default 13
        Words per n-gram.

    Returns
    -------
    set of tuple of str
        The union of :func:`ngrams` over the documents.

    Raises
    ------
    ValueError
        If ``n < 1``.

    Examples
    --------
    >>> from fmref.data.contamination import build_ngram_index
    >>> len(build_ngram_index(["a b c d", "c d e"], n=2))
    4
    """
    _check_n(n)
    index = set()
    for doc in docs:
        index |= ngrams(doc, n)
    return index


def overlap_fraction(text, index, n=13):
    """Fraction of a text's ``n``-grams that occur in the corpus index.

    Parameters
    ----------
    text : str
        A benchmark item.
    index : set
        From :func:`build_ngram_index` with the same ``n``.
    n : int, default 13
        Words per n-gram.

    Returns
    -------
    float
        In ``[0, 1]``; 0 for an empty text.

    Raises
    ------
    ValueError
        If ``n < 1``.

    Examples
    --------
    >>> from fmref.data.contamination import build_ngram_index, overlap_fraction
    >>> index = build_ngram_index(["the capital of france is paris and it is large"], n=3)
    >>> overlap_fraction("What is the capital of France? Paris", index, n=3)
    0.4
    """
    grams = ngrams(text, n)
    return len(grams & index) / len(grams) if grams else 0.0


def find_contaminated(items, docs, n=13, threshold=None):
    """Benchmark items that overlap the training corpus.

    Parameters
    ----------
    items : sequence of str
        Benchmark items (question, plus answer if it should count).
    docs : iterable of str
        The training corpus.
    n : int, default 13
        Words per n-gram.
    threshold : float, optional
        Flag items whose :func:`overlap_fraction` is at least this, in
        ``(0, 1]``; by default any shared n-gram flags the item (GPT-3's rule).

    Returns
    -------
    flagged : list of int
        Indices of the contaminated items.
    fractions : list of float
        The overlap fraction of every item.

    Raises
    ------
    ValueError
        If ``n < 1`` or ``threshold`` is outside ``(0, 1]``.

    References
    ----------
    .. [1] Brown et al., "Language Models are Few-Shot Learners", NeurIPS 2020,
       appendix C.

    Examples
    --------
    >>> from fmref.data.contamination import find_contaminated
    >>> corpus = ["In 1969 Apollo 11 landed on the Moon and Neil Armstrong walked on it."]
    >>> items = ["Who walked on the Moon in 1969? Neil Armstrong",
    ...          "Apollo 11 landed on the Moon and Neil Armstrong walked on it first.",
    ...          "What is the boiling point of water at sea level?"]
    >>> flagged, fractions = find_contaminated(items, corpus, n=8)
    >>> flagged, [round(f, 2) for f in fractions]
    ([1], [0.0, 0.83, 0.0])
    """
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1] or None, got {threshold!r}")
    index = build_ngram_index(docs, n)
    fractions = [overlap_fraction(item, index, n) for item in items]
    flagged = [
        i for i, f in enumerate(fractions) if (f > 0 if threshold is None else f >= threshold)
    ]
    return flagged, fractions
