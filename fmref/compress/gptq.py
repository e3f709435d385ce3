"""GPTQ: post-training quantisation that corrects each rounding error with the Hessian.

Round-to-nearest (RTN, :func:`rtn_quantize`) treats every weight on its own.
What matters is the layer's output on real inputs, ``X W^T``, and its squared
error summed over a calibration set ``X`` (``n_samples`` rows) is a quadratic
in each row ``w`` of ``W`` with Hessian ``H = 2 X^T X / n_samples``. Optimal
Brain Quantisation quantises one weight of the row at a time and moves the
others to absorb the error it made: quantising column ``j`` to ``q`` changes
the remaining columns ``F`` by

``δ_F = -(w_j - q) / [H_F^{-1}]_{jj} · [H_F^{-1}]_{j, F}``,

after which ``j`` leaves ``F`` and ``H_F^{-1}`` loses its row and column by one
step of Gaussian elimination. GPTQ (Frantar et al., 2022) makes this fast
enough for 175B parameters with three changes, all exact:

1. every row uses the same column order, so one ``H^{-1}`` serves all rows;
2. the rows ``[H_F^{-1}]_{j, F}`` that the eliminations produce are the rows of
   the upper Cholesky factor ``U`` of ``H^{-1}`` (up to a factor
   ``sqrt([H_F^{-1}]_{jj})``), computed once;
3. *lazy batch updates*: inside a batch of ``lazy_columns`` columns only the
   batch is updated; the errors ``E`` are applied to the columns after the batch
   at its end, as one matrix product ``W[:, i2:] -= E U[i1:i2, i2:]``.

The grid is GPTQ's asymmetric min-max grid (zero included) of
:func:`fmref.compress.quant.quantize_zeropoint`, one scale and zero point per
output row and group of ``group_size`` input columns, fixed when the group's
first column comes up (from the weights as updated so far).
``act_order=True`` quantises the columns in order of decreasing ``H_jj`` (the
inputs with the largest energy first) and then fixes every group's grid from
the original weights, so that a group still covers consecutive columns.
"""

from __future__ import annotations

import torch

from fmref._validate import (
    check_in,
    check_int,
    check_positive,
    check_positive_int,
    check_tensor,
)
from fmref.compress.quant import SUPPORTED_BITS, quantize_zeropoint

__all__ = ["rtn_quantize", "gptq_quantize"]


def _check_layer(w, x_calib, bits, group_size):
    """Validate the arguments shared by GPTQ and AWQ; the group width (``in`` if None)."""
    check_tensor("w", w, dtype="float", ndim=2, shape="(out_features, in_features)", finite=True)
    if x_calib is not None:
        check_tensor("x_calib", x_calib, dtype="float", ndim=2, shape="(n_samples, in_features)",
                     finite=True)  # fmt: skip
        if x_calib.shape[0] == 0:
            raise ValueError("x_calib must hold at least one calibration sample, got 0 rows")
        if x_calib.shape[1] != w.shape[1]:
            raise ValueError(
                f"x_calib must have in_features={w.shape[1]} columns, got {x_calib.shape[1]}"
            )
    check_in("bits", check_int("bits", bits), SUPPORTED_BITS)
    n = w.shape[1]
    if group_size is None:
        return n
    if isinstance(group_size, bool) or not isinstance(group_size, int) or n % max(group_size, 1):
        raise ValueError(
            f"group_size must be None or a positive int dividing in_features={n}, "
            f"got {group_size!r}"
        )
    if group_size < 1:
        raise ValueError(f"group_size must be None or a positive int, got {group_size!r}")
    return group_size


def _grid(w, bits):
    """Scale and zero point of each row of ``w`` (out, g): ``(out, 1)`` each."""
    _, scale, zero = quantize_zeropoint(w, bits, dim=1)
    return scale.to(w.dtype), zero.to(w.dtype)


def _codes(w, scale, zero, bits):
    """Codes of ``w`` on a grid: ``clamp(round(w / scale) + zero, 0, 2^b - 1)``."""
    return torch.clamp(torch.round(w / scale) + zero, 0, 2**bits - 1)


def rtn_quantize(w, bits=4, group_size=128, return_codes=False):
    """Round every weight to the nearest level of its group's min-max grid (the baseline).

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(out_features, in_features)``.
    bits : int, default 4
        One of :data:`fmref.compress.quant.SUPPORTED_BITS`.
    group_size : int or None, default 128
        Input columns per scale; ``None`` is one scale per output row.
    return_codes : bool, default False
        Also return the codes, scales and zero points.

    Returns
    -------
    w_hat : torch.Tensor
        The dequantised weight, ``w``'s shape and dtype.
    codes, scales, zeros : torch.Tensor
        With ``return_codes``: ``uint8`` codes ``(out, in)`` in ``[0, 2^b - 1]``
        and float32 scales and zero points ``(out, in // group_size)``, so that
        ``w_hat = (codes - zeros) * scales`` group by group.

    Raises
    ------
    ValueError
        If ``bits`` is not supported, ``group_size`` does not divide
        ``in_features``, or ``w`` is not a finite 2-D tensor.

    References
    ----------
    .. [1] Frantar et al., "GPTQ: Accurate Post-Training Quantization for
       Generative Pre-trained Transformers", ICLR 2023 (the RTN baseline).

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.gptq import rtn_quantize
    >>> w = torch.tensor([[0.1, -0.4, 0.25, 0.9]])
    >>> w_hat, codes, scales, zeros = rtn_quantize(w, bits=2, group_size=None, return_codes=True)
    >>> codes, round(scales.item(), 4), zeros.item()  # 4 levels over [-0.4, 0.9]
    (tensor([[1, 0, 2, 3]], dtype=torch.uint8), 0.4333, 1.0)
    >>> w_hat
    tensor([[ 0.0000, -0.4333,  0.4333,  0.8667]])
    """
    g = _check_layer(w, None, bits, group_size)
    out, n = w.shape
    groups = w.detach().reshape(out * n // g, g)  # (out * G, g)
    scale, zero = _grid(groups, bits)  # (out * G, 1)
    codes = _codes(groups.to(scale.dtype), scale, zero, bits)
    w_hat = ((codes - zero) * scale).reshape(w.shape).to(w.dtype)
    if not return_codes:
        return w_hat
    shape = (out, n // g)
    return w_hat, codes.to(torch.uint8).reshape(w.shape), scale.reshape(shape).float(), \
        zero.reshape(shape).float()  # fmt: skip


def gptq_quantize(w, x_calib, bits=4, group_size=128, damp=0.01, act_order=False,
                  return_codes=False, lazy_columns=128):  # fmt: skip
    """Quantise a linear layer's weight with GPTQ.

    Computed in float64 when ``w`` is float64, in float32 otherwise.

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(out_features, in_features)`` of ``y = x w^T``.
    x_calib : torch.Tensor
        Calibration inputs of the layer, ``(n_samples, in_features)``.
    bits : int, default 4
        One of :data:`fmref.compress.quant.SUPPORTED_BITS`.
    group_size : int or None, default 128
        Input columns per scale and zero point; ``None`` is one per output row.
    damp : float, default 0.01
        Added to the diagonal of ``H`` as a fraction of its mean (the paper's
        dampening, which keeps the Cholesky factorisation stable).
    act_order : bool, default False
        Quantise the columns in order of decreasing ``H_jj``.
    return_codes : bool, default False
        Also return the codes, scales and zero points (as :func:`rtn_quantize`).
    lazy_columns : int, default 128
        Columns per lazy batch (the paper's ``B``); the result does not depend
        on it beyond rounding.

    Returns
    -------
    w_hat : torch.Tensor
        The dequantised weight, ``w``'s shape and dtype.
    codes, scales, zeros : torch.Tensor
        With ``return_codes``, as in :func:`rtn_quantize`.

    Raises
    ------
    ValueError
        If ``bits`` is not supported, ``group_size`` does not divide
        ``in_features``, ``x_calib`` is empty or does not match ``w``, or
        ``damp`` is not positive.

    References
    ----------
    .. [1] Frantar et al., "GPTQ: Accurate Post-Training Quantization for
       Generative Pre-trained Transformers", ICLR 2023, Algorithm 1.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.gptq import gptq_quantize, rtn_quantize
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(512, 64, generator=g) @ torch.randn(64, 64, generator=g)  # correlated
    >>> w = torch.randn(32, 64, generator=g)
    >>> err = lambda w_hat: ((x @ (w_hat - w).T).norm() / (x @ w.T).norm()).item()
    >>> round(err(rtn_quantize(w, bits=3, group_size=32)), 4)
    0.1718
    >>> round(err(gptq_quantize(w, x, bits=3, group_size=32)), 4)
    0.1218
    """
    g = _check_layer(w, x_calib, bits, group_size)
    damp = check_positive("damp", damp)
    lazy_columns = check_positive_int("lazy_columns", lazy_columns)
    dtype = torch.float64 if w.dtype == torch.float64 else torch.float32
    W = w.detach().to(dtype).clone()  # (out, n)
    X = x_calib.detach().to(dtype)  # (N, n)
    out, n = W.shape
    H = 2 / X.shape[0] * X.T @ X  # (n, n) Hessian of the summed squared output error
    dead = H.diagonal() == 0  # inputs that are always 0: their weights do not matter
    H[dead, dead] = 1
    W[:, dead] = 0
    static = act_order or group_size is None  # grids fixed from the original weights
    grids = [_grid(W[:, j : j + g], bits) for j in range(0, n, g)] if static else [None] * (n // g)
    perm = torch.argsort(H.diagonal(), descending=True) if act_order else torch.arange(n)
    W, H = W[:, perm], H[perm][:, perm]
    H.diagonal().add_(damp * H.diagonal().mean())
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Q = torch.zeros_like(W)  # dequantised weights, in quantisation order
    codes = torch.zeros_like(W)
    # Batches end every lazy_columns columns and, without static grids, at every group
    # start, so that a group's grid sees its weights with every update applied.
    cuts = set(range(0, n, lazy_columns)) | (set() if static else set(range(0, n, g)))
    cuts = sorted(cuts | {n})
    for i1, i2 in zip(cuts[:-1], cuts[1:]):
        W1 = W[:, i1:i2].clone()  # (out, b): the batch, updated eagerly
        E1 = torch.zeros_like(W1)  # (out, b): scaled errors, applied to the rest lazily
        for i in range(i2 - i1):
            j = i1 + i  # position in the quantisation order
            col = perm[j].item()  # the column of w
            if not static and j % g == 0:
                grids[j // g] = _grid(W[:, j : j + g], bits)  # W1[:, i] == W[:, j] here (i == 0)
            scale, zero = grids[col // g]  # (out, 1) each
            q = _codes(W1[:, i : i + 1], scale, zero, bits)  # (out, 1)
            codes[:, j : j + 1] = q
            Q[:, j : j + 1] = (q - zero) * scale
            E1[:, i] = (W1[:, i] - Q[:, j]) / U[j, j]
            W1[:, i:] -= E1[:, i : i + 1] * U[j, j:i2]  # the batch absorbs the error now
        W[:, i2:] -= E1 @ U[i1:i2, i2:]  # the rest absorbs the batch's errors at once
    inv = torch.argsort(perm)
    w_hat = Q[:, inv].to(w.dtype)
    if not return_codes:
        return w_hat
    scales = torch.cat([s for s, _ in grids], dim=1).float()  # (out, G)
    zeros = torch.cat([z for _, z in grids], dim=1).float()
    return w_hat, codes[:, inv].to(torch.uint8), scales, zeros
