"""Calibration: ECE near 0 for calibrated predictions, large for over-confident ones."""

import numpy as np
import pytest
import torch

from fmref.eval.calibration import expected_calibration_error, fit_temperature, reliability_bins


def test_ece_of_perfectly_calibrated_synthetic_predictions_is_near_zero():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 50_000)
    correct = rng.uniform(0, 1, conf.size) < conf  # right with probability = confidence
    assert expected_calibration_error(conf, correct) < 0.01


def test_ece_detects_over_confidence_by_the_size_of_the_gap():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1, 50_000)
    correct = rng.uniform(0, 1, conf.size) < conf - 0.2  # 20 points worse than claimed
    assert expected_calibration_error(conf, correct) == pytest.approx(0.2, abs=0.01)


def test_ece_matches_a_direct_loop_over_bins():
    rng = np.random.default_rng(2)
    conf = rng.uniform(0, 1, 300)
    correct = rng.uniform(0, 1, 300) < 0.5
    n_bins, total = 10, 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        sel = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if sel.any():
            total += sel.sum() / conf.size * abs(correct[sel].mean() - conf[sel].mean())
    assert expected_calibration_error(conf, correct, n_bins=10) == pytest.approx(total, abs=1e-12)
    bins = reliability_bins(conf, correct, n_bins=10)
    assert bins["count"].sum() == 300 and bins["edges"][-1] == 1.0


def test_temperature_scaling_recovers_the_temperature_and_lowers_ece():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20_000, 4, generator=g) * 2
    labels = torch.multinomial(torch.softmax(logits, -1), 1, generator=g).squeeze(1)
    sharp = logits * 2.5  # over-confident model
    T = fit_temperature(sharp, labels)
    assert T == pytest.approx(2.5, rel=0.05)

    def ece(z):
        p = torch.softmax(z, -1)
        conf, pred = p.max(-1)
        return expected_calibration_error(conf, pred == labels)

    assert ece(sharp / T) < ece(sharp) / 3


def test_calibration_rejects_bad_input():
    with pytest.raises(ValueError, match="confidences must hold at least one"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match="correct must have 2 entries"):
        expected_calibration_error([0.5, 0.6], [1])
    with pytest.raises(ValueError, match=r"confidences must lie in \[0, 1\]"):
        expected_calibration_error([1.5], [1])
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        expected_calibration_error([0.5], [1], n_bins=0)
    with pytest.raises(ValueError, match="logits must be"):
        fit_temperature(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="low and high"):
        fit_temperature(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), low=2, high=1)
