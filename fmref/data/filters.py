"""Heuristic quality filters in the style of Gopher (MassiveText) and C4.

Web text is full of menus, boiler-plate, lists of keywords and machine-generated
pages. Rae et al. (2021) keep a document only if a handful of cheap statistics
fall in ranges typical of human prose; Raffel et al. (2020) built C4 with
similar rules. :func:`quality_signals` computes the statistics,
:func:`quality_filter` says which rules a document breaks (so every rejection
has a reason that can be audited), and :func:`filter_corpus` applies them to a
corpus.
"""

from __future__ import annotations

from collections import Counter

from fmref._validate import check_number

__all__ = ["STOP_WORDS", "quality_signals", "quality_filter", "filter_corpus"]

#: The stop words of Gopher's rule: a document needs at least two of them.
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

_BULLETS = ("•", "-", "*", "·", "‣", "◦", "▪")

# rule name -> (signal, "min" or "max", default limit) — Rae et al. 2021, appendix A
_DEFAULTS = {
    "min_words": ("n_words", "min", 50),
    "max_words": ("n_words", "max", 100_000),
    "min_mean_word_length": ("mean_word_length", "min", 3.0),
    "max_mean_word_length": ("mean_word_length", "max", 10.0),
    "max_symbol_ratio": ("symbol_ratio", "max", 0.1),
    "max_bullet_lines": ("bullet_lines", "max", 0.9),
    "max_ellipsis_lines": ("ellipsis_lines", "max", 0.3),
    "min_alpha_words": ("alpha_words", "min", 0.8),
    "min_stop_words": ("stop_words", "min", 2),
    "max_duplicate_lines": ("duplicate_lines", "max", 0.3),
    "max_top_bigram": ("top_bigram", "max", 0.2),
}


def quality_signals(text):
    """The statistics that the quality rules look at.

    Parameters
    ----------
    text : str
        A document.

    Returns
    -------
    dict of str to float
        ``n_words``; ``mean_word_length`` (characters); ``symbol_ratio``
        (``#`` and ellipses per word); ``bullet_lines`` and ``ellipsis_lines``
        (fractions of non-empty lines that start with a bullet or end with
        ``...``/``…``); ``alpha_words`` (fraction of words with a letter);
        ``stop_words`` (how many of :data:`STOP_WORDS` occur);
        ``duplicate_lines`` (fraction of non-empty lines that repeat an earlier
        one); ``top_bigram`` (fraction of word characters covered by the most
        frequent word bigram).

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.data.filters import quality_signals
    >>> s = quality_signals("The cat sat on the mat.\\nThe cat sat on the mat.")
    >>> s["n_words"], s["stop_words"], s["duplicate_lines"]
    (12, 1, 0.5)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = text.split()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    n = len(words)
    lower = [w.lower().strip(".,;:!?\"'()[]") for w in words]
    symbols = text.count("#") + text.count("...") + text.count("…")
    seen, dup = set(), 0
    for line in lines:
        dup += line in seen
        seen.add(line)
    bigrams = Counter(zip(lower, lower[1:]))
    chars = sum(len(w) for w in lower) or 1
    top = bigrams.most_common(1)
    top_chars = (len(top[0][0][0]) + len(top[0][0][1])) * top[0][1] if top and top[0][1] > 1 else 0
    n_lines = len(lines) or 1
    return {
        "n_words": n,
        "mean_word_length": sum(len(w) for w in words) / n if n else 0.0,
        "symbol_ratio": symbols / n if n else 0.0,
        "bullet_lines": sum(line.startswith(_BULLETS) for line in lines) / n_lines,
        "ellipsis_lines": sum(line.endswith(("...", "…")) for line in lines) / n_lines,
        "alpha_words": sum(any(c.isalpha() for c in w) for w in words) / n if n else 0.0,
        "stop_words": len(STOP_WORDS & set(lower)),
        "duplicate_lines": dup / n_lines,
        "top_bigram": top_chars / chars,
    }


def quality_filter(text, **limits):
    """The quality rules a document breaks (an empty list: keep it).

    Parameters
    ----------
    text : str
        A document.
    **limits
        Override a rule's limit by its name: ``min_words=50``,
        ``max_words=100_000``, ``min_mean_word_length=3``,
        ``max_mean_word_length=10``, ``max_symbol_ratio=0.1``,
        ``max_bullet_lines=0.9``, ``max_ellipsis_lines=0.3``,
        ``min_alpha_words=0.8``, ``min_stop_words=2``,
        ``max_duplicate_lines=0.3``, ``max_top_bigram=0.2`` (Gopher's values);
        ``None`` switches a rule off.

    Returns
    -------
    list of str
        Names of the broken rules, in the order above.

    Raises
    ------
    TypeError
        If ``text`` is not a str.
    ValueError
        If a limit names no rule.

    References
    ----------
    .. [1] Rae et al., "Scaling Language Models: Methods, Analysis & Insights
       from Training Gopher", 2021, appendix A.1.
    .. [2] Raffel et al., "Exploring the Limits of Transfer Learning with a
       Unified Text-to-Text Transformer", JMLR 2020 (C4).

    Examples
    --------
    >>> from fmref.data.filters import quality_filter
    >>> prose = ("The committee met on Tuesday to discuss the budget, and it agreed that "
    ...          "the library should have longer opening hours with more staff. ") * 3
    >>> quality_filter(prose)
    []
    >>> quality_filter("buy cheap buy cheap buy cheap " * 20)
    ['min_stop_words', 'max_top_bigram']
    >>> quality_filter("#ai #ml #tech #news", min_words=None)
    ['max_symbol_ratio', 'min_stop_words']
    """
    for rule, limit in limits.items():
        if limit is not None:
            check_number(rule, limit, low=0)
    unknown = set(limits) - set(_DEFAULTS)
    if unknown:
        raise ValueError(f"limits must name rules among {sorted(_DEFAULTS)}, got {sorted(unknown)}")
    signals = quality_signals(text)
    broken = []
    for rule, (signal, kind, default) in _DEFAULTS.items():
        limit = limits.get(rule, default)
        if limit is None:
            continue
        value = signals[signal]
        if (kind == "min" and value < limit) or (kind == "max" and value > limit):
            broken.append(rule)
    return broken


def filter_corpus(docs, **limits):
    """Split a corpus into kept documents and rejected ones with their reasons.

    Parameters
    ----------
    docs : sequence of str
        The corpus.
    **limits
        Passed to :func:`quality_filter`.

    Returns
    -------
    kept : list of int
        Indices of the documents that break no rule.
    rejected : dict of int to list of str
        ``{index: broken rules}`` for the others.

    Examples
    --------
    >>> from fmref.data.filters import filter_corpus
    >>> docs = ["Home | About | Contact | Blog | Login",
    ...         "The results show that the model learns to copy text from its context."]
    >>> filter_corpus(docs, min_words=5)
    ([1], {0: ['min_alpha_words', 'min_stop_words']})
    """
    if isinstance(docs, str):
        raise TypeError("docs must be a list of str, got one str")
    kept, rejected = [], {}
    for i, doc in enumerate(docs):
        broken = quality_filter(doc, **limits)
        if broken:
            rejected[i] = broken
        else:
            kept.append(i)
    return kept, rejected
