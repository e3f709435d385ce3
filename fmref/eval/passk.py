"""pass@k: the chance that at least one of k sampled programs passes the tests.

Sampling exactly ``k`` programs per problem and checking whether any passes
gives a high-variance estimate. Chen et al. (2021) sample ``n >= k`` programs,
count the ``c`` correct ones, and use the unbiased estimator

.. math::

    \\text{pass@}k = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k},

the probability that a random subset of ``k`` of the ``n`` samples holds at least
one correct program. The binomials overflow floating point for moderate ``n``
(:math:`\\binom{200}{100} \\approx 9 \\times 10^{58}`, and :math:`200!` is beyond
any float), so the ratio is computed with exact integers.
"""

from __future__ import annotations

import math
from fractions import Fraction

from fmref._validate import check_int

__all__ = ["pass_at_k", "mean_pass_at_k"]


def _check_counts(n, c, k):
    for name, value in (("n", n), ("c", c), ("k", k)):
        check_int(name, value)
    if n < 1:
        raise ValueError(f"n must be >= 1, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"c must be in [0, n={n}], got c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n={n}], got k={k}")


def pass_at_k(n, c, k):
    """Unbiased pass@k estimate from ``n`` samples of which ``c`` are correct.

    Parameters
    ----------
    n : int
        Samples generated for the problem, ``n >= 1``.
    c : int
        Samples that passed, ``0 <= c <= n``.
    k : int
        Budget of attempts, ``1 <= k <= n``.

    Returns
    -------
    float
        :math:`1 - \\binom{n-c}{k}/\\binom{n}{k}`, computed exactly with integers
        (:func:`math.comb`) and rounded once to a float; 1.0 when ``n - c < k``.

    Raises
    ------
    TypeError
        If an argument is not an int.
    ValueError
        If ``n < 1``, ``c`` is outside ``[0, n]`` or ``k`` outside ``[1, n]``.

    References
    ----------
    .. [1] Chen et al., "Evaluating Large Language Models Trained on Code", 2021,
       section 2.1.

    Examples
    --------
    >>> from fmref.eval.passk import pass_at_k
    >>> pass_at_k(n=10, c=3, k=1)   # pass@1 is the fraction correct
    0.3
    >>> round(pass_at_k(n=10, c=3, k=5), 4)
    0.9167
    >>> round(pass_at_k(n=200, c=2, k=100), 4)
    0.7513
    """
    _check_counts(n, c, k)
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def mean_pass_at_k(results, k):
    """pass@k of a benchmark: the mean of :func:`pass_at_k` over its problems.

    Parameters
    ----------
    results : sequence of tuple of int
        ``(n, c)`` for every problem.
    k : int
        Budget of attempts; at most every problem's ``n``.

    Returns
    -------
    float
        The mean estimate.

    Raises
    ------
    ValueError
        If ``results`` is empty, or as :func:`pass_at_k`.

    Examples
    --------
    >>> from fmref.eval.passk import mean_pass_at_k
    >>> round(mean_pass_at_k([(10, 0), (10, 1), (10, 10)], k=1), 4)
    0.3667
    """
    if len(results) == 0:
        raise ValueError("results must hold at least one (n, c) pair, got none")
    return sum(pass_at_k(n, c, k) for n, c in results) / len(results)
