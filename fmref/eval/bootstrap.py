"""Uncertainty of benchmark scores: bootstrap intervals, paired tests, sample sizes.

A benchmark score is a mean over a finite sample of items, so it carries
sampling error: a second benchmark of the same kind would give a different
number. The bootstrap (Efron, 1979) estimates that error by re-scoring
resamples of the items drawn with replacement. Two systems evaluated on the same
items should be compared *paired*, item by item, which cancels the variation in
item difficulty; McNemar's test does this for right/wrong outcomes.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from fmref._validate import check_positive_int

__all__ = [
    "BootstrapResult",
    "bootstrap_ci",
    "PairedResult",
    "paired_bootstrap",
    "mcnemar",
    "required_items",
]


class BootstrapResult(NamedTuple):
    """Point estimate and percentile interval.

    Examples
    --------
    >>> from fmref.eval.bootstrap import BootstrapResult
    >>> BootstrapResult(0.5, 0.4, 0.6).high
    0.6
    """

    estimate: float  #: the statistic on the original scores
    low: float  #: lower end of the interval
    high: float  #: upper end of the interval


class PairedResult(NamedTuple):
    """Difference of two systems, its interval and a two-sided p-value.

    Examples
    --------
    >>> from fmref.eval.bootstrap import PairedResult
    >>> PairedResult(0.02, -0.01, 0.05, 0.2).p_value
    0.2
    """

    difference: float  #: mean(scores_a) - mean(scores_b)
    low: float  #: lower end of the interval of the difference
    high: float  #: upper end
    p_value: float  #: two-sided bootstrap p-value of "no difference"


def _scores(name, scores):
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one score, got none")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got NaN or infinite scores")
    return arr


def _check(n_resamples, confidence):
    check_positive_int("n_resamples", n_resamples)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def bootstrap_ci(scores, n_resamples=2000, confidence=0.95, seed=0):
    """Percentile bootstrap confidence interval of the mean score.

    Parameters
    ----------
    scores : array_like
        One score per item (1/0 for right/wrong, or any per-item metric).
    n_resamples : int, default 2000
        Resamples of the items, each drawn with replacement.
    confidence : float, default 0.95
        Coverage of the interval, in ``(0, 1)``.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    BootstrapResult
        ``(estimate, low, high)``: the mean and the ``(1 - confidence)/2`` and
        ``(1 + confidence)/2`` quantiles of the resampled means.

    Raises
    ------
    ValueError
        If ``scores`` is empty, ``n_resamples < 1`` or ``confidence`` is outside ``(0, 1)``.

    References
    ----------
    .. [1] Efron, "Bootstrap Methods: Another Look at the Jackknife", Annals of
       Statistics, 1979.

    Examples
    --------
    An accuracy of 70% on 200 items is uncertain by about ±6 points:

    >>> from fmref.eval.bootstrap import bootstrap_ci
    >>> r = bootstrap_ci([1] * 140 + [0] * 60, seed=0)
    >>> round(r.estimate, 3), round(r.low, 3), round(r.high, 3)
    (0.7, 0.635, 0.76)
    """
    x = _scores("scores", scores)
    _check(n_resamples, confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))  # (R, n) item indices
    means = x[idx].mean(axis=1)  # (R,)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return BootstrapResult(float(x.mean()), float(low), float(high))


def paired_bootstrap(scores_a, scores_b, n_resamples=2000, confidence=0.95, seed=0):
    """Paired bootstrap of the difference between two systems on the same items.

    Each resample draws items with replacement and takes *both* systems' scores
    on them, so the interval reflects only how the systems differ item by item.

    Parameters
    ----------
    scores_a, scores_b : array_like
        Per-item scores of the two systems, in the same item order.
    n_resamples : int, default 2000
        Resamples.
    confidence : float, default 0.95
        Coverage of the interval.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    PairedResult
        ``(difference, low, high, p_value)``; the p-value is twice the smaller
        fraction of resampled differences on either side of 0 (at most 1).

    Raises
    ------
    ValueError
        If a list is empty, the lengths differ, or as :func:`bootstrap_ci`.

    References
    ----------
    .. [1] Koehn, "Statistical Significance Tests for Machine Translation
       Evaluation", EMNLP 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from fmref.eval.bootstrap import paired_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> easy = rng.random(1000) < 0.6                   # items both systems get right
    >>> a = easy | (rng.random(1000) < 0.15)
    >>> b = easy | (rng.random(1000) < 0.05)
    >>> r = paired_bootstrap(a, b, seed=0)
    >>> round(r.difference, 3), round(r.low, 3), round(r.high, 3), r.p_value
    (0.058, 0.041, 0.076, 0.0)
    """
    a, b = _scores("scores_a", scores_a), _scores("scores_b", scores_b)
    if a.size != b.size:
        raise ValueError(f"scores_b must have {a.size} scores like scores_a, got {b.size}")
    _check(n_resamples, confidence)
    d = a - b  # (n,) per-item differences
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n_resamples, d.size))
    diffs = d[idx].mean(axis=1)  # (R,)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    p = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return PairedResult(float(d.mean()), float(low), float(high), float(p))


def mcnemar(correct_a, correct_b):
    """Exact McNemar test of two systems' right/wrong outcomes on the same items.

    Only the items where the systems disagree carry information: if the systems
    are equally good, each such item is equally likely to favour either one,
    so the count that favours ``a`` is Binomial(disagreements, 1/2).

    Parameters
    ----------
    correct_a, correct_b : array_like of bool
        Whether each system got each item right.

    Returns
    -------
    tuple
        ``(only_a, only_b, p_value)``: items only ``a`` got right, items only
        ``b`` got right, and the exact two-sided binomial p-value.

    Raises
    ------
    ValueError
        If a list is empty or the lengths differ.

    References
    ----------
    .. [1] McNemar, "Note on the sampling error of the difference between
       correlated proportions or percentages", Psychometrika, 1947.
    .. [2] Dietterich, "Approximate Statistical Tests for Comparing Supervised
       Classification Learning Algorithms", Neural Computation, 1998.

    Examples
    --------
    >>> from fmref.eval.bootstrap import mcnemar
    >>> a = [1] * 80 + [1] * 15 + [0] * 5 + [0] * 100
    >>> b = [1] * 80 + [0] * 15 + [1] * 5 + [0] * 100
    >>> only_a, only_b, p = mcnemar(a, b)
    >>> only_a, only_b, round(p, 4)
    (15, 5, 0.0414)
    """
    a = _scores("correct_a", correct_a).astype(bool)
    b = _scores("correct_b", correct_b).astype(bool)
    if a.size != b.size:
        raise ValueError(f"correct_b must have {a.size} entries like correct_a, got {b.size}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    m = only_a + only_b
    if m == 0:
        return only_a, only_b, 1.0
    tail = sum(math.comb(m, i) for i in range(min(only_a, only_b) + 1))
    return only_a, only_b, min(1.0, 2 * tail / 2**m)


def required_items(accuracy_a, accuracy_b, alpha=0.05, power=0.8):
    r"""Items a benchmark needs to tell two accuracies apart (two-sided z-test).

    .. math::

        n = \frac{(z_{1-\alpha/2} + z_{\text{power}})^2\,
        \big(p_a(1-p_a) + p_b(1-p_b)\big)}{(p_a - p_b)^2}

    for two systems scored on independent samples of items; a paired design on
    the same items needs fewer when the systems' errors are correlated.

    Parameters
    ----------
    accuracy_a, accuracy_b : float
        The two true accuracies, different, in ``[0, 1]``.
    alpha : float, default 0.05
        Significance level, in ``(0, 1)``.
    power : float, default 0.8
        Probability of detecting the difference, in ``(0, 1)``.

    Returns
    -------
    int
        The number of items, rounded up.

    Raises
    ------
    ValueError
        If the accuracies are equal or outside ``[0, 1]``, or ``alpha``/``power``
        outside ``(0, 1)``.

    References
    ----------
    .. [1] Card et al., "With Little Power Comes Great Responsibility", EMNLP 2020.

    Examples
    --------
    Separating 70% from 72% takes thousands of items; 70% from 80%, a few hundred:

    >>> from fmref.eval.bootstrap import required_items
    >>> required_items(0.70, 0.72), required_items(0.70, 0.80)
    (8077, 291)
    """
    for name, p in (("accuracy_a", accuracy_a), ("accuracy_b", accuracy_b)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    if accuracy_a == accuracy_b:
        raise ValueError(f"accuracy_a and accuracy_b must differ, got {accuracy_a} twice")
    for name, p in (("alpha", alpha), ("power", power)):
        if not 0 < p < 1:
            raise ValueError(f"{name} must be in (0, 1), got {p!r}")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    var = accuracy_a * (1 - accuracy_a) + accuracy_b * (1 - accuracy_b)
    return math.ceil(z * z * var / (accuracy_a - accuracy_b) ** 2)
