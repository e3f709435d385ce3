"""AWQ: activation-aware weight quantisation by a per-channel scale search.

A few input channels of a layer carry much larger activations than the
others, and the weights that multiply them matter most for the output. AWQ
(Lin et al., 2023) protects them without mixed precision: it multiplies input
column ``j`` of the weight by ``s_j > 1`` before quantising and divides the
activation by ``s_j`` (folded into the preceding LayerNorm or linear layer),
which leaves the exact product unchanged,

``x W^T = (x diag(s)^{-1}) (W diag(s))^T``,

but shrinks the *relative* rounding error of the scaled columns: their values
grow while the group's step, set by the group's largest value, grows less.
The scales are searched, not learned: with ``s_x`` the mean absolute
activation of each channel over the calibration set, AWQ tries
``s = s_x^α`` for ``α = 0, 1/grid, ..., (grid - 1)/grid``, normalised by
``sqrt(max(s) · min(s))`` as in the reference code, and keeps the ``α`` whose
quantised layer ``Q(W diag(s)) diag(s)^{-1}`` gives the smallest mean squared
output error on the calibration inputs. ``α = 0`` is round-to-nearest, so the
search is never worse than RTN on those inputs.

fmref searches one linear layer at a time and measures that layer's output;
the reference code scales the layers that share an input together (q, k and v)
and measures the block's output, and adds a search of clipping ranges.
"""

from __future__ import annotations

from fmref._validate import check_positive_int
from fmref.compress.gptq import _check_layer, rtn_quantize

__all__ = ["awq_scales", "awq_quantize"]


def awq_scales(w, x_calib, bits=4, group_size=128, grid=20):
    """The per-input-channel scales of AWQ, found by grid search.

    Parameters
    ----------
    w : torch.Tensor
        Weight ``(out_features, in_features)`` of ``y = x w^T``.
    x_calib : torch.Tensor
        Calibration inputs ``(n_samples, in_features)``.
    bits : int, default 4
        One of :data:`fmref.compress.quant.SUPPORTED_BITS`.
    group_size : int or None, default 128
        Input columns per scale of the grid (as in
        :func:`~fmref.compress.gptq.rtn_quantize`).
    grid : int, default 20
        Number of exponents ``α`` tried, evenly spaced in ``[0, 1)``.

    Returns
    -------
    torch.Tensor
        float32 scales ``(in_features,)``: quantise ``w * s`` and divide by ``s``.

    Raises
    ------
    ValueError
        If ``bits`` is not supported, ``group_size`` does not divide
        ``in_features``, ``x_calib`` is empty or does not match ``w``, or
        ``grid`` is not a positive int.

    References
    ----------
    .. [1] Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
       Compression and Acceleration", MLSys 2024, section 3.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.awq import awq_scales
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(256, 64, generator=g)
    >>> x[:, :2] *= 20  # two salient input channels
    >>> s = awq_scales(torch.randn(16, 64, generator=g), x, bits=3, group_size=32)
    >>> s.shape, bool(s[:2].min() > s[2:].max())  # the salient channels are scaled up
    (torch.Size([64]), True)
    """
    _check_layer(w, x_calib, bits, group_size)
    grid = check_positive_int("grid", grid)
    W, X = w.detach().float(), x_calib.detach().float()  # (out, n), (N, n)
    G = X.T @ X / (X.shape[0] * W.shape[0])  # (n, n): mean((X D^T)^2) = sum((D G) * D)
    s_x = X.abs().mean(dim=0)  # (n,) mean activation magnitude per input channel
    best_loss, best = float("inf"), None
    for k in range(grid):
        s = s_x.pow(k / grid).clamp_min(1e-4)  # (n,)
        s = s / (s.max() * s.min()).sqrt()
        D = rtn_quantize(W * s, bits, group_size) / s - W  # (out, n) weight error
        loss = ((D @ G) * D).sum().item()  # mean squared output error on x_calib
        if loss < best_loss:
            best_loss, best = loss, s
    return best


def awq_quantize(w, x_calib, bits=4, group_size=128, grid=20, return_codes=False):
    """Quantise a weight with AWQ's scales: ``Q(w diag(s)) diag(s)^{-1}``.

    Parameters
    ----------
    w, x_calib, bits, group_size, grid
        As in :func:`awq_scales`.
    return_codes : bool, default False
        Also return the codes, scales and zero points of ``w diag(s)`` (as
        :func:`~fmref.compress.gptq.rtn_quantize`) and ``s``.

    Returns
    -------
    w_hat : torch.Tensor
        The dequantised weight, ``w``'s shape and dtype (``s`` divided out
        again; a deployment folds ``1/s`` into the previous operation instead).
    codes, scales, zeros, s : torch.Tensor
        With ``return_codes``.

    Raises
    ------
    ValueError
        As :func:`awq_scales`.

    References
    ----------
    .. [1] Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
       Compression and Acceleration", MLSys 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.awq import awq_quantize
    >>> from fmref.compress.gptq import rtn_quantize
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(256, 64, generator=g)
    >>> x[:, :2] *= 20
    >>> w = torch.randn(16, 64, generator=g)
    >>> err = lambda w_hat: ((x @ (w_hat - w).T).norm() / (x @ w.T).norm()).item()
    >>> round(err(rtn_quantize(w, bits=3, group_size=32)), 4)
    0.1653
    >>> round(err(awq_quantize(w, x, bits=3, group_size=32)), 4)
    0.0904
    """
    s = awq_scales(w, x_calib, bits, group_size, grid)  # validates the arguments
    w_hat, codes, scales, zeros = rtn_quantize(w.detach().float() * s, bits, group_size,
                                               return_codes=True)  # fmt: skip
    w_hat = (w_hat / s).to(w.dtype)
    return (w_hat, codes, scales, zeros, s) if return_codes else w_hat
