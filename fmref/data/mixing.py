"""Data mixing: how much of each source a pretraining run sees.

A pretraining set is a mixture of sources (web, code, books, papers, several
languages) of very different sizes. Sampling in proportion to size starves the
small ones; sampling uniformly repeats them many times. Multilingual models
sample with a *temperature*: source :math:`i` with :math:`n_i` examples is drawn
with probability

.. math:: p_i = \\frac{n_i^{1/T}}{\\sum_j n_j^{1/T}},

proportional at :math:`T = 1`, uniform as :math:`T \\to \\infty`
(Arivazhagan et al. 2019 used :math:`T = 5`; XLM's :math:`\\alpha = 1/T = 0.5`,
mT5's 0.3). DoReMi (Xie et al. 2023) learns the weights instead: a small proxy
model is trained with group DRO against a reference model, and domains where
the proxy's loss exceeds the reference's most get more weight
(:func:`doremi_update`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fmref._validate import check_number, check_positive, check_positive_int

__all__ = ["temperature_weights", "mixture_counts", "epochs_per_source", "doremi_update"]


def _vector(name: str, values: Sequence[float], positive: bool) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {x.shape}")
    bad = (x <= 0) if positive else (x < 0)
    if not np.isfinite(x).all() or bad.any():
        raise ValueError(f"{name} must hold finite numbers {'> 0' if positive else '>= 0'}, "
                         f"got {x.tolist()}")
    return x


def temperature_weights(sizes: Sequence[float], temperature: float = 1.0) -> np.ndarray:
    """Sampling probabilities :math:`p_i \\propto n_i^{1/T}` of sources of ``sizes``.

    Parameters
    ----------
    sizes : sequence of float
        Size of each source (examples or tokens), all positive.
    temperature : float, default 1.0
        :math:`T > 0`; 1 samples in proportion to size, larger values flatten
        the mixture towards uniform.

    Returns
    -------
    numpy.ndarray
        Probabilities summing to 1.

    Raises
    ------
    ValueError
        If a size is not positive or ``temperature`` is not positive.

    References
    ----------
    .. [1] Arivazhagan et al., "Massively Multilingual Neural Machine Translation
       in the Wild", 2019 (T = 5).
    .. [2] Conneau & Lample, "Cross-lingual Language Model Pretraining",
       NeurIPS 2019 (alpha = 0.5); Xue et al., "mT5", NAACL 2021 (alpha = 0.3).

    Examples
    --------
    Two languages, 900M and 100M tokens, at XLM's :math:`\\alpha = 0.5`
    (:math:`T = 2`): :math:`\\sqrt{900} : \\sqrt{100} = 30 : 10`.

    >>> from fmref.data.mixing import temperature_weights
    >>> temperature_weights([900, 100], temperature=2).round(4).tolist()
    [0.75, 0.25]
    >>> temperature_weights([900, 100]).round(2).tolist()  # T = 1: in proportion to size
    [0.9, 0.1]
    >>> temperature_weights([900, 100], temperature=1e6).round(2).tolist()  # nearly uniform
    [0.5, 0.5]
    """
    n = _vector("sizes", sizes, positive=True)
    t = check_positive("temperature", temperature)
    logits = np.log(n) / t
    w = np.exp(logits - logits.max())
    return w / w.sum()


def mixture_counts(weights: Sequence[float], n: int) -> np.ndarray:
    """Split ``n`` draws among sources in proportion to ``weights``, exactly.

    Largest-remainder rounding: every source gets the floor of its share, and
    the draws left over go to the largest remainders, so the counts sum to
    ``n`` and no count is off its share by a whole draw.

    Parameters
    ----------
    weights : sequence of float
        Non-negative, not all zero (normalised here).
    n : int
        Total number of draws (sequences, documents or tokens).

    Returns
    -------
    numpy.ndarray of int
        Draws per source, summing to ``n``.

    Raises
    ------
    ValueError
        If a weight is negative or all are zero, or ``n`` is not a positive int.

    Examples
    --------
    >>> from fmref.data.mixing import mixture_counts
    >>> mixture_counts([0.5, 0.3, 0.2], 7).tolist()  # shares 3.5, 2.1, 1.4
    [4, 2, 1]
    """
    w = _vector("weights", weights, positive=False)
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    n = check_positive_int("n", n)
    share = w / w.sum() * n
    counts = np.floor(share).astype(int)
    left = n - counts.sum()
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


def epochs_per_source(sizes: Sequence[float], weights: Sequence[float], total: float) -> np.ndarray:
    """How many times a run of ``total`` tokens repeats each source under ``weights``.

    Source :math:`i` contributes :math:`p_i \\cdot \\text{total}` tokens, that is
    :math:`p_i \\cdot \\text{total} / n_i` passes over its data. Muennighoff et al.
    (2023) found up to about four epochs of repeated data nearly as useful as
    new data, and rapidly less after that: the number to watch when a small,
    valuable source is up-weighted.

    Parameters
    ----------
    sizes : sequence of float
        Tokens in each source, all positive.
    weights : sequence of float
        Sampling probabilities (normalised here).
    total : float
        Tokens of the training run.

    Returns
    -------
    numpy.ndarray
        Epochs of each source.

    Raises
    ------
    ValueError
        If the lengths differ, a size or ``total`` is not positive, or a weight
        is negative.

    Examples
    --------
    A run of 1T tokens over 900B of web text and 10B of books, with the books
    up-weighted to 10%:

    >>> from fmref.data.mixing import epochs_per_source
    >>> epochs_per_source([900e9, 10e9], [0.9, 0.1], total=1e12).round(2).tolist()
    [1.0, 10.0]
    """
    n = _vector("sizes", sizes, positive=True)
    w = _vector("weights", weights, positive=False)
    if n.shape != w.shape:
        raise ValueError(f"sizes and weights must have the same length, got {n.size} and {w.size}")
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    total = check_positive("total", total)
    return w / w.sum() * total / n


def doremi_update(weights: Sequence[float], excess_losses: Sequence[float],
                  step_size: float = 1.0, smoothing: float = 1e-3) -> np.ndarray:
    """One step of DoReMi's domain-weight update (Xie et al. 2023, Algorithm 1).

    With :math:`\\lambda_t` the per-domain excess loss of the proxy model over
    the reference model (clipped at 0), the weights move by exponentiated
    gradient ascent and are mixed with the uniform distribution :math:`u`:

    .. math::

       \\alpha'_t = \\frac{\\alpha_{t-1} \\odot \\exp(\\eta \\lambda_t)}
       {\\sum_i \\alpha_{t-1,i} \\exp(\\eta \\lambda_{t,i})}, \\qquad
       \\alpha_t = (1 - c)\\, \\alpha'_t + c\\, u.

    The domain weights DoReMi hands to the large model are the average of
    :math:`\\alpha_t` over the proxy's training.

    Parameters
    ----------
    weights : sequence of float
        :math:`\\alpha_{t-1}`, non-negative (normalised here).
    excess_losses : sequence of float
        :math:`\\lambda_t`, per domain (negative values are clipped to 0, as
        in the paper).
    step_size : float, default 1.0
        :math:`\\eta` (the paper's value).
    smoothing : float, default 1e-3
        :math:`c` in [0, 1] (the paper's value).

    Returns
    -------
    numpy.ndarray
        :math:`\\alpha_t`, summing to 1.

    Raises
    ------
    ValueError
        If the lengths differ, a weight is negative, a loss is not finite,
        ``step_size`` is not positive or ``smoothing`` is not in [0, 1].

    References
    ----------
    .. [1] Xie et al., "DoReMi: Optimizing Data Mixtures Speeds Up Language
       Model Pretraining", NeurIPS 2023.

    Examples
    --------
    Two domains, equal weights, the proxy 0.5 nats worse than the reference on
    the second: its weight grows by :math:`e^{0.5}` before normalising.

    >>> import math
    >>> from fmref.data.mixing import doremi_update
    >>> doremi_update([0.5, 0.5], [0.0, 0.5], smoothing=0.0).round(4).tolist()
    [0.3775, 0.6225]
    >>> round(1 / (1 + math.exp(0.5)), 4)  # the first weight, by hand
    0.3775
    """
    a = _vector("weights", weights, positive=False)
    if a.sum() <= 0:
        raise ValueError("weights must not all be zero")
    lam = np.asarray(excess_losses, dtype=float)
    if lam.shape != a.shape:
        raise ValueError(f"excess_losses must have one value per domain ({a.size}), "
                         f"got shape {lam.shape}")
    if not np.isfinite(lam).all():
        raise ValueError(f"excess_losses must be finite, got {lam.tolist()}")
    eta = check_positive("step_size", step_size)
    c = check_number("smoothing", smoothing, 0.0, 1.0)
    logits = np.log(np.where(a > 0, a / a.sum(), 1e-300)) + eta * np.maximum(lam, 0.0)
    new = np.exp(logits - logits.max())
    new /= new.sum()
    return (1 - c) * new + c / a.size
