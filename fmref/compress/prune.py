"""Pruning: magnitude, 2:4 semi-structured sparsity and Wanda.

* **Magnitude** pruning zeroes the fraction ``sparsity`` of weights with the
  smallest ``|w|``: unstructured, so hardware speed-ups need sparse kernels.
* **2:4** sparsity keeps the 2 largest of every 4 consecutive input weights:
  50% sparse in a pattern NVIDIA's sparse tensor cores run at up to twice the
  dense speed.
* **Wanda** scores each weight by ``|W_ij| · ‖X_j‖₂``, its magnitude times the
  norm of the input feature it multiplies (from a few calibration tokens), and
  prunes the lowest scores within each output row. No retraining, no weight
  update: SparseGPT's second-order update is the step beyond it.
"""

from __future__ import annotations

import torch

from fmref._validate import check_tensor

__all__ = ["magnitude_prune", "prune_2_4", "wanda_score", "wanda_prune", "sparsity"]


def _check_w(w):
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        kind = w.dtype if isinstance(w, torch.Tensor) else type(w).__name__
        raise TypeError(f"w must be a floating-point tensor, got {kind}")


def _check_sparsity(sparsity):
    if (
        isinstance(sparsity, bool)
        or not isinstance(sparsity, (int, float))
        or not 0.0 <= sparsity < 1.0
    ):
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")


def sparsity(w):
    """Fraction of exactly-zero entries of ``w``.

    Parameters
    ----------
    w : torch.Tensor

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.prune import sparsity
    >>> sparsity(torch.tensor([0.0, 1.0, 0.0, 2.0]))
    0.5
    """
    check_tensor("w", w)
    return (w == 0).sum().item() / w.numel()


def _zero_lowest(w, score, k, dim=None):
    """Zero the ``k`` lowest-scoring entries (over the tensor, or per row along ``dim``)."""
    if k == 0:
        return w.clone()
    if dim is None:
        idx = torch.topk(score.flatten(), k, largest=False).indices
        mask = torch.ones(w.numel(), dtype=torch.bool, device=w.device)
        mask[idx] = False
        return w * mask.reshape(w.shape)
    idx = torch.topk(score, k, dim=dim, largest=False).indices
    mask = torch.ones_like(w, dtype=torch.bool).scatter(dim, idx, False)
    return w * mask


def magnitude_prune(w, sparsity):
    """Zero the ``sparsity`` fraction of weights with the smallest magnitude.

    Parameters
    ----------
    w : torch.Tensor
        Weights of any shape.
    sparsity : float
        Fraction to remove, in ``[0, 1)``; ``round(sparsity * numel)`` weights.

    Returns
    -------
    torch.Tensor
        The pruned weight (a new tensor).

    Raises
    ------
    ValueError
        If ``sparsity`` is outside ``[0, 1)``.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Han et al., "Learning both Weights and Connections for Efficient
       Neural Networks", NeurIPS 2015.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.prune import magnitude_prune
    >>> magnitude_prune(torch.tensor([[0.1, -2.0], [0.5, -0.05]]), sparsity=0.5)
    tensor([[ 0.0000, -2.0000],
            [ 0.5000, -0.0000]])
    """
    _check_w(w)
    _check_sparsity(sparsity)
    return _zero_lowest(w, w.abs(), round(sparsity * w.numel()))


def prune_2_4(w):
    """2:4 semi-structured sparsity: keep the 2 largest ``|w|`` of every 4 along the last axis.

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(..., in)`` with ``in`` divisible by 4.

    Returns
    -------
    torch.Tensor
        The pruned weight: exactly 2 non-zeros (at most, if ``w`` has zeros) in
        every group of 4 consecutive input weights.

    Raises
    ------
    ValueError
        If the last dimension is not divisible by 4.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Mishra et al., "Accelerating Sparse Deep Neural Networks", 2021
       (NVIDIA Ampere's 2:4 sparsity).

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.prune import prune_2_4
    >>> prune_2_4(torch.tensor([[0.1, -0.9, 0.3, 0.2, 5.0, 4.0, -6.0, 0.0]]))
    tensor([[ 0.0000, -0.9000,  0.3000,  0.0000,  5.0000,  0.0000, -6.0000,  0.0000]])
    """
    _check_w(w)
    if w.dim() == 0 or w.shape[-1] % 4:
        raise ValueError(f"w must have a last dimension divisible by 4, got {tuple(w.shape)}")
    groups = w.reshape(*w.shape[:-1], -1, 4)  # (..., in // 4, 4)
    return _zero_lowest(groups, groups.abs(), 2, dim=-1).reshape(w.shape)


def wanda_score(w, x):
    """Wanda's importance ``|W_ij| · ‖X_j‖₂``.

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(out, in)``.
    x : torch.Tensor
        Calibration inputs ``(..., in)`` of this layer.

    Returns
    -------
    torch.Tensor
        Scores ``(out, in)``.

    Raises
    ------
    ValueError
        If ``x``'s last dimension is not ``in``.

    References
    ----------
    .. [1] Sun et al., "A Simple and Effective Pruning Approach for Large
       Language Models", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.prune import wanda_score
    >>> w = torch.tensor([[1.0, 1.0]])
    >>> x = torch.tensor([[3.0, 0.0], [4.0, 1.0]])  # feature norms 5 and 1
    >>> wanda_score(w, x)
    tensor([[5., 1.]])
    """
    _check_w(w)
    if w.dim() != 2 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"x must have last dimension in={w.shape[-1]} of w (out, in), "
            f"got x {tuple(x.shape)}, w {tuple(w.shape)}"
        )
    norms = x.reshape(-1, x.shape[-1]).float().norm(dim=0)  # (in,)
    return w.abs() * norms


def wanda_prune(w, x, sparsity):
    """Prune the lowest Wanda scores of each output row.

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(out, in)``.
    x : torch.Tensor
        Calibration inputs ``(..., in)``.
    sparsity : float
        Fraction removed from each row, in ``[0, 1)``.

    Returns
    -------
    torch.Tensor
        The pruned weight.

    Raises
    ------
    ValueError
        If ``sparsity`` is outside ``[0, 1)`` or the shapes do not fit.

    References
    ----------
    .. [1] Sun et al., "A Simple and Effective Pruning Approach for Large
       Language Models", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.prune import magnitude_prune, wanda_prune
    >>> w = torch.tensor([[1.0, 0.5, 0.2, 2.0]])
    >>> x = torch.tensor([[0.0, 10.0, 10.0, 0.1]])  # features 1 and 2 carry the signal
    >>> wanda_prune(w, x, 0.5)  # keeps what matters for this input
    tensor([[0.0000, 0.5000, 0.2000, 0.0000]])
    >>> magnitude_prune(w, 0.5)
    tensor([[1., 0., 0., 2.]])
    """
    _check_sparsity(sparsity)
    score = wanda_score(w, x)  # (out, in)
    return _zero_lowest(w, score, round(sparsity * w.shape[1]), dim=1)
