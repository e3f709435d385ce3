"""Bootstrap intervals cover the truth at about the nominal rate; paired tests and McNemar."""

import math

import numpy as np
import pytest
from scipy import stats

from fmref.eval.bootstrap import bootstrap_ci, mcnemar, paired_bootstrap, required_items


def test_bootstrap_ci_covers_the_true_mean_at_roughly_the_nominal_rate():
    # 200 repetitions of a 60-item benchmark with true accuracy 0.7
    rng = np.random.default_rng(0)
    covered = 0
    reps = 200
    for seed in range(reps):
        scores = rng.uniform(0, 1, 60) < 0.7
        r = bootstrap_ci(scores, n_resamples=400, confidence=0.9, seed=seed)
        covered += r.low <= 0.7 <= r.high
    # nominal 0.90; the percentile bootstrap under-covers slightly at n = 60
    assert 0.82 <= covered / reps <= 0.96


def test_bootstrap_ci_width_matches_the_normal_approximation():
    scores = np.r_[np.ones(700), np.zeros(300)]
    r = bootstrap_ci(scores, n_resamples=4000, seed=1)
    se = math.sqrt(0.7 * 0.3 / 1000)
    assert r.estimate == pytest.approx(0.7)
    assert r.high - r.low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert bootstrap_ci(scores, seed=3) == bootstrap_ci(scores, seed=3)  # deterministic


def test_paired_bootstrap_is_tighter_than_comparing_separate_intervals():
    rng = np.random.default_rng(0)
    difficulty = rng.uniform(0, 1, 400)
    a = difficulty < 0.62
    b = difficulty < 0.58  # b fails a subset of a's successes: perfectly correlated
    r = paired_bootstrap(a, b, seed=0)
    ra, rb = bootstrap_ci(a, seed=0), bootstrap_ci(b, seed=0)
    assert ra.low < rb.high  # the separate intervals overlap...
    assert r.low > 0 and r.p_value < 0.01  # ...but the paired test separates them
    same = paired_bootstrap(a, a, seed=0)
    assert same.difference == 0 and same.p_value == 1.0


def test_mcnemar_equals_scipy_exact_binomial_test():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, 300) < 0.6
    b = rng.uniform(0, 1, 300) < 0.5
    only_a, only_b, p = mcnemar(a, b)
    ref = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert p == pytest.approx(ref, rel=1e-9)
    assert mcnemar([1, 0], [1, 0]) == (0, 0, 1.0)


def test_required_items_matches_a_simulated_power():
    n = required_items(0.6, 0.7, alpha=0.05, power=0.8)
    rng = np.random.default_rng(0)
    a = rng.binomial(n, 0.6, 2000) / n
    b = rng.binomial(n, 0.7, 2000) / n
    se = np.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    power = np.mean(np.abs(b - a) / se > 1.959964)
    assert power == pytest.approx(0.8, abs=0.04)


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="scores must hold at least one"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="n_resamples must be a positive int"):
        bootstrap_ci([1], n_resamples=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_ci([1], confidence=1.0)
    with pytest.raises(ValueError, match="scores_b must have 2 scores"):
        paired_bootstrap([1, 0], [1])
    with pytest.raises(ValueError, match="correct_b must have 2 entries"):
        mcnemar([1, 0], [1])
    with pytest.raises(ValueError, match="scores_a must hold at least one"):
        paired_bootstrap([], [])
    with pytest.raises(ValueError, match="accuracy_a must be in"):
        required_items(1.5, 0.5)
    with pytest.raises(ValueError, match="must differ"):
        required_items(0.5, 0.5)
    with pytest.raises(ValueError, match="power must be in"):
        required_items(0.5, 0.6, power=1)
