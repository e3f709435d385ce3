"""Near-duplicate detection: MinHash signatures and locality-sensitive hashing.

A document becomes its set of word *shingles* (overlapping word n-grams). The
Jaccard similarity :math:`J(A, B) = |A \\cap B| / |A \\cup B|` of two such sets
measures how much text they share. MinHash (Broder, 1997) compresses a set to
``num_perm`` minimum hash values; the chance that two sets agree on one of them
is exactly :math:`J`, so the fraction of agreeing positions estimates :math:`J`
with standard error :math:`\\sqrt{J(1-J)/\\text{num\\_perm}}`. Locality-sensitive
hashing (LSH) cuts the signature into ``bands`` of ``rows`` values and only
compares documents that agree on a whole band, which finds similar pairs
without comparing all :math:`n^2/2` of them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

from fmref._validate import check_instance, check_int, check_positive_int
from fmref.data.dedup import normalize_text

__all__ = [
    "shingles",
    "jaccard",
    "minhash_signature",
    "estimate_jaccard",
    "lsh_params",
    "candidate_pairs",
    "near_duplicates",
]

_PRIME = (1 << 31) - 1  # Mersenne prime 2^31 - 1: a*x + b stays below 2^62 in int64


def shingles(text, shingle=5):
    """The set of word ``shingle``-grams of the normalised text.

    Parameters
    ----------
    text : str
        A document; it is normalised with :func:`fmref.data.dedup.normalize_text`.
    shingle : int, default 5
        Words per shingle. A text with fewer words gives one shingle of them all
        (an empty text gives the empty set).

    Returns
    -------
    set of str
        The shingles, words joined by single spaces.

    Raises
    ------
    ValueError
        If ``shingle < 1``.

    Examples
    --------
    >>> from fmref.data.minhash import shingles
    >>> sorted(shingles("The cat sat on the mat.", shingle=4))
    ['cat sat on the', 'sat on the mat', 'the cat sat on']
    >>> shingles("Hi there", shingle=5)
    {'hi there'}
    """
    check_positive_int("shingle", shingle)
    words = normalize_text(text).split()
    if not words:
        return set()
    if len(words) <= shingle:
        return {" ".join(words)}
    return {" ".join(words[i : i + shingle]) for i in range(len(words) - shingle + 1)}


def jaccard(a, b):
    """Exact Jaccard similarity ``|a & b| / |a | b|`` of two sets (1.0 for two empty sets).

    Parameters
    ----------
    a, b : set
        The two sets.

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> from fmref.data.minhash import jaccard
    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    check_instance("a", a, (set, frozenset))
    check_instance("b", b, (set, frozenset))
    a, b = set(a), set(b)
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def _coefficients(num_perm, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, size=num_perm, dtype=np.int64)  # (num_perm,)
    b = rng.integers(0, _PRIME, size=num_perm, dtype=np.int64)
    return a, b


def minhash_signature(text, num_perm=128, shingle=5, seed=0):
    """MinHash signature of a document's shingle set.

    Each shingle is hashed to 32 bits (BLAKE2b, so the result does not depend on
    Python's per-process string hashing); ``num_perm`` universal hash functions
    :math:`h_i(x) = (a_i x + b_i) \\bmod p`, with :math:`p = 2^{31}-1` and
    :math:`a_i, b_i` drawn from ``seed``, stand in for random permutations, and
    the signature keeps each one's minimum over the set.

    Parameters
    ----------
    text : str or set of str
        A document (shingled with :func:`shingles`) or a ready set of shingles.
    num_perm : int, default 128
        Signature length; the estimate's standard error falls as ``1/sqrt(num_perm)``.
    shingle : int, default 5
        Words per shingle (ignored when ``text`` is a set).
    seed : int, default 0
        Seed of the hash functions; compare only signatures made with the same seed.

    Returns
    -------
    numpy.ndarray
        ``(num_perm,)`` int64 values in ``[0, p]``; an empty set gives all ``p``.

    Raises
    ------
    ValueError
        If ``num_perm < 1`` or ``shingle < 1``.
    TypeError
        If ``text`` is neither a str nor a set.

    References
    ----------
    .. [1] Broder, "On the resemblance and containment of documents", 1997.

    Examples
    --------
    >>> from fmref.data.minhash import minhash_signature
    >>> sig = minhash_signature("the quick brown fox jumps over the lazy dog", num_perm=4)
    >>> sig.shape, sig.dtype
    ((4,), dtype('int64'))
    """
    check_positive_int("num_perm", num_perm)
    if isinstance(text, str):
        items = shingles(text, shingle)
    elif isinstance(text, (set, frozenset)):
        items = text
    else:
        raise TypeError(f"text must be a str or a set of shingles, got {type(text).__name__}")
    a, b = _coefficients(num_perm, seed)
    if not items:
        return np.full(num_perm, _PRIME, dtype=np.int64)
    x = (
        np.fromiter(
            (
                int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little")
                for s in sorted(items)
            ),
            dtype=np.int64,
            count=len(items),
        )
        % _PRIME
    )  # (S,)
    hashes = (a[:, None] * x[None, :] + b[:, None]) % _PRIME  # (num_perm, S)
    return hashes.min(axis=1)


def estimate_jaccard(sig_a, sig_b):
    """Jaccard estimate from two MinHash signatures: the fraction of equal positions.

    Parameters
    ----------
    sig_a, sig_b : numpy.ndarray
        Signatures of the same length, made with the same seed.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the lengths differ or are zero.

    Examples
    --------
    >>> from fmref.data.minhash import estimate_jaccard, jaccard, minhash_signature, shingles
    >>> a = "the quick brown fox jumps over the lazy dog and runs far away into the woods"
    >>> b = "the quick brown fox jumps over the lazy cat and runs far away into the woods"
    >>> round(jaccard(shingles(a), shingles(b)), 3)
    0.412
    >>> round(estimate_jaccard(minhash_signature(a, 1024), minhash_signature(b, 1024)), 3)
    0.408
    """
    sig_a, sig_b = np.asarray(sig_a), np.asarray(sig_b)
    if sig_a.shape != sig_b.shape or sig_a.ndim != 1 or sig_a.size == 0:
        raise ValueError(
            "sig_a and sig_b must be non-empty 1-D signatures of the same length, "
            f"got shapes {sig_a.shape} and {sig_b.shape}"
        )
    return float(np.mean(sig_a == sig_b))


def lsh_params(threshold, num_perm=128, fp_weight=0.5):
    """Bands and rows whose LSH S-curve best separates pairs at ``threshold``.

    Two documents of Jaccard :math:`s` become candidates with probability
    :math:`1 - (1 - s^r)^b`. This picks :math:`b r \\le` ``num_perm`` to minimise
    the weighted area of false positives (below the threshold) and false
    negatives (above it), as the ``datasketch`` library does.

    Parameters
    ----------
    threshold : float
        Jaccard similarity that counts as a near duplicate, in ``(0, 1]``.
    num_perm : int, default 128
        Signature length.
    fp_weight : float, default 0.5
        Weight of false positives; false negatives get ``1 - fp_weight``.

    Returns
    -------
    tuple of int
        ``(bands, rows)``.

    Raises
    ------
    ValueError
        If ``threshold`` is outside ``(0, 1]``, ``num_perm < 1`` or
        ``fp_weight`` outside ``[0, 1]``.

    References
    ----------
    .. [1] Leskovec, Rajaraman and Ullman, *Mining of Massive Datasets*, ch. 3, 2014.

    Examples
    --------
    >>> from fmref.data.minhash import lsh_params
    >>> lsh_params(0.8, 128)
    (9, 13)
    >>> b, r = lsh_params(0.5, 128)
    >>> round((1 / b) ** (1 / r), 2)  # where the S-curve is steepest
    0.53
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    check_positive_int("num_perm", num_perm)
    if not 0 <= fp_weight <= 1:
        raise ValueError(f"fp_weight must be in [0, 1], got {fp_weight!r}")
    s = np.linspace(0.0, 1.0, 1001)
    best, best_cost = (1, num_perm), np.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - s**r) ** b  # probability of becoming a candidate
            fp = np.where(s < threshold, p, 0.0).mean()  # integral over [0, threshold)
            fn = np.where(s >= threshold, 1.0 - p, 0.0).mean()  # integral over [threshold, 1]
            cost = fp_weight * fp + (1 - fp_weight) * fn
            if cost < best_cost - 1e-15:
                best, best_cost = (b, r), cost
    return best


def candidate_pairs(signatures, bands, rows):
    """Pairs of documents whose signatures agree on at least one whole band.

    Parameters
    ----------
    signatures : sequence of numpy.ndarray
        One signature per document, each of length at least ``bands * rows``.
    bands, rows : int
        The LSH banding.

    Returns
    -------
    set of tuple of int
        ``(i, j)`` with ``i < j``.

    Raises
    ------
    ValueError
        If ``bands`` or ``rows`` is < 1 or the signatures are too short.

    Examples
    --------
    >>> import numpy as np
    >>> from fmref.data.minhash import candidate_pairs
    >>> sigs = [np.array([1, 2, 3, 4]), np.array([1, 2, 9, 9]), np.array([7, 7, 3, 5])]
    >>> sorted(candidate_pairs(sigs, bands=2, rows=2))
    [(0, 1)]
    """
    check_positive_int("bands", bands)
    check_positive_int("rows", rows)
    buckets = defaultdict(list)
    for i, sig in enumerate(signatures):
        if len(sig) < bands * rows:
            raise ValueError(
                f"signatures must have at least bands*rows={bands * rows} values, got {len(sig)}"
            )
        for band in range(bands):
            key = (band, tuple(sig[band * rows : (band + 1) * rows].tolist()))
            buckets[key].append(i)
    pairs = set()
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs.add((members[x], members[y]))
    return pairs


def near_duplicates(docs, threshold=0.8, num_perm=128, shingle=5, seed=0, bands=None):
    """Pairs of documents whose estimated Jaccard similarity is at least ``threshold``.

    Signatures are banded with :func:`lsh_params` (or ``bands`` bands of
    ``num_perm // bands`` rows); each candidate pair is then kept if its
    :func:`estimate_jaccard` reaches the threshold.

    Parameters
    ----------
    docs : sequence of str
        The corpus.
    threshold : float, default 0.8
        Jaccard similarity that counts as a near duplicate, in ``(0, 1]``.
    num_perm : int, default 128
        Signature length.
    shingle : int, default 5
        Words per shingle.
    seed : int, default 0
        Seed of the hash functions.
    bands : int, optional
        Number of LSH bands (default: chosen by :func:`lsh_params`).

    Returns
    -------
    list of tuple of int
        Sorted pairs ``(i, j)``, ``i < j``.

    Raises
    ------
    ValueError
        If ``threshold`` is outside ``(0, 1]``, ``num_perm < 1``, ``shingle < 1``
        or ``bands`` is outside ``[1, num_perm]``.

    Examples
    --------
    >>> from fmref.data.dedup import perturb
    >>> from fmref.data.minhash import near_duplicates
    >>> base = " ".join(f"word{i}" for i in range(200))
    >>> docs = [base, perturb(base, n_edits=3, seed=1), "something else entirely " * 20]
    >>> near_duplicates(docs, threshold=0.8)
    [(0, 1)]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    check_positive_int("num_perm", num_perm)
    if bands is None:
        bands, rows = lsh_params(threshold, num_perm)
    else:
        check_int("bands", bands, 1, num_perm)
        rows = num_perm // bands
    sigs = [minhash_signature(d, num_perm, shingle, seed) for d in docs]
    return sorted(
        (i, j)
        for i, j in candidate_pairs(sigs, bands, rows)
        if estimate_jaccard(sigs[i], sigs[j]) >= threshold
    )
