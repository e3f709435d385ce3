"""Calibration: does a model's confidence match how often it is right?

A classifier (or a language model choosing an answer) is *calibrated* when,
among the predictions it makes with confidence 0.8, 80% are correct. The
reliability diagram plots accuracy against confidence in bins; the expected
calibration error (ECE) is the bin-size-weighted mean gap between the two
(Naeini et al., 2015; Guo et al., 2017). Temperature scaling, one scalar that
divides the logits, fitted on held-out data, is the standard fix.
"""

from __future__ import annotations

import math

import torch

from fmref._validate import check_finite, check_positive_int

__all__ = ["reliability_bins", "expected_calibration_error", "fit_temperature"]


def _as_inputs(confidences, correct):
    conf = torch.as_tensor(confidences, dtype=torch.float64).flatten()
    corr = torch.as_tensor(correct).flatten()
    if conf.numel() == 0:
        raise ValueError("confidences must hold at least one prediction, got none")
    if corr.shape != conf.shape:
        raise ValueError(
            f"correct must have {conf.numel()} entries like confidences, got {corr.numel()}"
        )
    if not bool(((conf >= 0) & (conf <= 1)).all()):  # NaN fails too
        raise ValueError("confidences must lie in [0, 1]")
    return conf, corr.to(torch.float64)


def reliability_bins(confidences, correct, n_bins=15):
    """Accuracy and mean confidence in equal-width confidence bins.

    Parameters
    ----------
    confidences : array_like
        Confidence of each prediction (e.g. the top softmax probability), in ``[0, 1]``.
    correct : array_like
        Whether each prediction was right (bool or 0/1).
    n_bins : int, default 15
        Number of equal-width bins over ``[0, 1]``; bin ``b`` holds confidences in
        ``(b/n_bins, (b+1)/n_bins]`` (the first also holds 0).

    Returns
    -------
    dict of str to torch.Tensor
        ``"edges"`` ``(n_bins + 1,)``; ``"count"``, ``"accuracy"`` and
        ``"confidence"`` ``(n_bins,)``, the last two ``nan`` in empty bins.

    Raises
    ------
    ValueError
        If the inputs are empty, of different lengths, outside ``[0, 1]``, or
        ``n_bins < 1``.

    Examples
    --------
    >>> from fmref.eval.calibration import reliability_bins
    >>> bins = reliability_bins([0.9, 0.95, 0.6, 0.55], [1, 0, 1, 1], n_bins=2)
    >>> bins["count"].tolist(), bins["accuracy"].tolist()
    ([0.0, 4.0], [nan, 0.75])
    """
    check_positive_int("n_bins", n_bins)
    conf, corr = _as_inputs(confidences, correct)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    idx = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)  # (N,) bin of each
    count = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, torch.ones_like(conf))
    hits = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, corr)
    total_conf = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, conf)
    return {
        "edges": edges,
        "count": count,
        "accuracy": hits / count,
        "confidence": total_conf / count,
    }


def expected_calibration_error(confidences, correct, n_bins=15):
    r"""Expected calibration error: the mean gap between accuracy and confidence.

    .. math::

        \mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|

    Parameters
    ----------
    confidences : array_like
        Confidence of each prediction, in ``[0, 1]``.
    correct : array_like
        Whether each prediction was right.
    n_bins : int, default 15
        Equal-width bins, as in Guo et al. (2017).

    Returns
    -------
    float
        In ``[0, 1]``; 0 for perfect calibration. With few predictions per bin
        the estimate is biased upwards (each bin's accuracy is noisy).

    Raises
    ------
    ValueError
        As :func:`reliability_bins`.

    References
    ----------
    .. [1] Naeini, Cooper and Hauskrecht, "Obtaining Well Calibrated
       Probabilities Using Bayesian Binning", AAAI 2015.
    .. [2] Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.

    Examples
    --------
    An over-confident model: always 90% sure, right 60% of the time.

    >>> from fmref.eval.calibration import expected_calibration_error
    >>> round(expected_calibration_error([0.9] * 10, [1] * 6 + [0] * 4), 4)
    0.3
    """
    bins = reliability_bins(confidences, correct, n_bins)
    filled = bins["count"] > 0
    gaps = (bins["accuracy"][filled] - bins["confidence"][filled]).abs()
    return float((bins["count"][filled] * gaps).sum() / bins["count"].sum())


def fit_temperature(logits, labels, low=0.05, high=20.0, iters=100):
    """Temperature that minimises the negative log-likelihood of ``softmax(logits / T)``.

    The NLL is convex in :math:`1/T`, so a golden-section search over
    :math:`1/T` finds the optimum; dividing by :math:`T > 1` softens an
    over-confident model without changing any prediction.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, K)`` held-out logits.
    labels : torch.Tensor
        ``(N,)`` class indices.
    low, high : float, default 0.05 and 20.0
        Search range of :math:`T`, ``0 < low < high``.
    iters : int, default 100
        Golden-section iterations.

    Returns
    -------
    float
        The fitted temperature.

    Raises
    ------
    ValueError
        If the shapes do not match, ``logits`` is empty or the range is invalid.

    References
    ----------
    .. [1] Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.

    Examples
    --------
    Logits three times too sharp are fixed by :math:`T \\approx 3`:

    >>> import torch
    >>> from fmref.eval.calibration import fit_temperature
    >>> true_logits = torch.randn(4000, 5) * 2
    >>> labels = torch.distributions.Categorical(logits=true_logits).sample()
    >>> round(fit_temperature(3 * true_logits, labels), 1)
    3.0
    """
    logits = check_finite("logits", torch.as_tensor(logits, dtype=torch.float64))
    labels = torch.as_tensor(labels)
    if logits.dim() != 2 or logits.shape[0] == 0 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"logits must be (N, K) with N > 0 and labels (N,), got "
            f"{tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if not 0 < low < high:
        raise ValueError(f"low and high must satisfy 0 < low < high, got {low}, {high}")

    def nll(beta):  # beta = 1 / T
        return float(torch.nn.functional.cross_entropy(logits * beta, labels))

    a, b = 1.0 / high, 1.0 / low
    ratio = (math.sqrt(5) - 1) / 2
    x1, x2 = b - ratio * (b - a), a + ratio * (b - a)
    f1, f2 = nll(x1), nll(x2)
    for _ in range(iters):
        if f1 <= f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - ratio * (b - a)
            f1 = nll(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + ratio * (b - a)
            f2 = nll(x2)
    return 1.0 / ((a + b) / 2)
