"""Exact deduplication by normalised hash, and perturbed copies to test it with.

Two documents are *exact* duplicates here when they are equal after
:func:`normalize_text` (Unicode NFKC, lower case, punctuation removed, runs of
white space collapsed). Hashing the normalised text makes the check one pass
over the corpus with a dictionary, however large the corpus. :func:`perturb`
makes near-copies with a known number of word edits, so that a deduplicator's
precision and recall can be measured against ground truth.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

__all__ = ["normalize_text", "text_hash", "exact_duplicates", "perturb"]

_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalize_text(text):
    """Canonical form of a text for duplicate detection.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        NFKC-normalised, lower-cased, punctuation removed, white space collapsed
        to single spaces and stripped.

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.data.dedup import normalize_text
    >>> normalize_text("  Hello,   WORLD!\\n\\tThe ﬁle.")
    'hello world the file'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _PUNCT.sub("", text)).strip()


def text_hash(text, normalize=True):
    """SHA-1 of the (normalised) text: the key of exact deduplication.

    Parameters
    ----------
    text : str
        Any text.
    normalize : bool, default True
        Hash :func:`normalize_text` of it (``False``: the raw bytes).

    Returns
    -------
    str
        40 hexadecimal digits.

    Examples
    --------
    >>> from fmref.data.dedup import text_hash
    >>> text_hash("The cat sat.") == text_hash("the  cat sat")
    True
    >>> text_hash("The cat sat.", normalize=False) == text_hash("the  cat sat", normalize=False)
    False
    """
    if normalize:
        text = normalize_text(text)
    elif not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def exact_duplicates(docs, normalize=True):
    """Documents that repeat an earlier one exactly (after normalisation).

    Parameters
    ----------
    docs : sequence of str
        The corpus.
    normalize : bool, default True
        Compare :func:`normalize_text` forms (``False``: raw text).

    Returns
    -------
    dict of int to int
        ``{duplicate index: index of the first document with the same hash}``;
        keeping every index not in it deduplicates the corpus.

    Examples
    --------
    >>> from fmref.data.dedup import exact_duplicates
    >>> docs = ["A cat.", "a  CAT", "A dog.", "A cat."]
    >>> exact_duplicates(docs)
    {1: 0, 3: 0}
    >>> exact_duplicates(docs, normalize=False)
    {3: 0}
    """
    if isinstance(docs, str):
        raise TypeError("docs must be a list of str, got one str")
    first, dups = {}, {}
    for i, doc in enumerate(docs):
        key = text_hash(doc, normalize=normalize)
        if key in first:
            dups[i] = first[key]
        else:
            first[key] = i
    return dups


def perturb(text, n_edits=5, seed=0, kinds=("delete", "insert", "swap", "substitute")):
    """A near-copy of ``text`` with ``n_edits`` random word edits.

    Parameters
    ----------
    text : str
        The original; its words are split on white space.
    n_edits : int, default 5
        Number of edits, each one of ``kinds`` at a random word.
    seed : int, default 0
        Seed of the edits.
    kinds : tuple of str, default all four
        Edits to draw from: ``"delete"`` a word, ``"insert"`` a copy of a random
        word, ``"swap"`` two neighbours, ``"substitute"`` a word by a random one.

    Returns
    -------
    str
        The edited words joined by single spaces.

    Raises
    ------
    ValueError
        If ``n_edits < 0`` or ``kinds`` is empty or has an unknown edit.

    Examples
    --------
    >>> from fmref.data.dedup import perturb
    >>> perturb("the quick brown fox jumps over the lazy dog", n_edits=2, seed=1)
    'the jumps quick brown fox jumps over lazy dog'
    >>> perturb("a b c", n_edits=0)
    'a b c'
    """
    known = {"delete", "insert", "swap", "substitute"}
    if not isinstance(n_edits, int) or n_edits < 0:
        raise ValueError(f"n_edits must be an int >= 0, got {n_edits!r}")
    if not kinds or not set(kinds) <= known:
        raise ValueError(f"kinds must be a non-empty subset of {sorted(known)}, got {kinds!r}")
    rng = random.Random(seed)
    words = text.split()
    for _ in range(n_edits):
        if len(words) < 2:
            break
        kind = rng.choice(kinds)
        i = rng.randrange(len(words) - 1)
        if kind == "delete":
            del words[i]
        elif kind == "insert":
            words.insert(i, rng.choice(words))
        elif kind == "swap":
            words[i], words[i + 1] = words[i + 1], words[i]
        else:
            words[i] = rng.choice(words)
    return " ".join(words)
