"""pass@k against its definition, 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, eq. 1)."""

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest

from fmref.eval.passk import mean_pass_at_k, pass_at_k


def _chen_numpy(n, c, k):
    """The numerically stable product form from Chen et al. (2021), figure 3."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@pytest.mark.parametrize("n", range(1, 13))
def test_pass_at_k_equals_the_binomial_formula_exactly(n):
    for c, k in itertools.product(range(n + 1), range(1, n + 1)):
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == float(exact)
        assert pass_at_k(n, c, k) == pytest.approx(
            1 - math.comb(n - c, k) / math.comb(n, k), rel=0, abs=1e-15
        )
        assert pass_at_k(n, c, k) == pytest.approx(_chen_numpy(n, c, k), abs=1e-12)


def test_pass_at_k_equals_subset_enumeration():
    n, c = 7, 3
    samples = [1] * c + [0] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(samples, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_pass_at_k_stays_finite_at_n_200_where_factorials_overflow():
    with pytest.raises(OverflowError):
        float(math.factorial(200))  # a naive float implementation breaks here
    for c in (0, 1, 17, 100, 199, 200):
        for k in (1, 10, 100, 200):
            value = pass_at_k(200, c, k)
            assert math.isfinite(value) and 0.0 <= value <= 1.0
            assert value == pytest.approx(_chen_numpy(200, c, k), abs=1e-12)
    assert pass_at_k(200, 0, 100) == 0.0 and pass_at_k(200, 200, 1) == 1.0


def test_pass_at_k_is_unbiased_for_the_true_pass_rate():
    # E[pass@k estimate] over binomial draws of c equals 1 - (1 - p)^k
    n, k, p = 20, 5, 0.15
    expected = sum(
        math.comb(n, c) * p**c * (1 - p) ** (n - c) * pass_at_k(n, c, k) for c in range(n + 1)
    )
    assert expected == pytest.approx(1 - (1 - p) ** k, abs=1e-12)


def test_mean_pass_at_k():
    rng = random.Random(0)
    results = [(10, rng.randint(0, 10)) for _ in range(5)]
    assert mean_pass_at_k(results, 1) == pytest.approx(sum(c for _, c in results) / 50)


@pytest.mark.parametrize(
    "args,match",
    [
        ((5, 2, 6), r"k must be in \[1, n=5\]"),
        ((5, 2, 0), r"k must be in \[1, n=5\]"),
        ((5, 6, 1), r"c must be in \[0, n=5\]"),
        ((5, -1, 1), r"c must be in \[0, n=5\]"),
        ((0, 0, 1), r"n must be >= 1"),
    ],
)
def test_pass_at_k_rejects_impossible_counts(args, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(*args)


def test_pass_at_k_rejects_non_integers_and_empty_results():
    with pytest.raises(TypeError, match="k must be an int"):
        pass_at_k(10, 2, 1.0)
    with pytest.raises(ValueError, match="results must hold at least one"):
        mean_pass_at_k([], 1)
