"""Activation outliers: LLM.int8()'s mixed-precision decomposition and SmoothQuant.

From about 6.7B parameters on, a few hidden features of a transformer's
activations reach magnitudes 20x larger than the rest. Quantising ``X`` per
token with absmax then spends the whole int8 range on those outliers and rounds
everything else to a handful of levels.

* **LLM.int8()** finds the feature columns with any ``|x| > threshold`` (6.0) and
  multiplies them in floating point; the other columns go through the int8
  matrix multiply with vector-wise scales. The result is exact in the outlier
  part and accurate elsewhere.
* **SmoothQuant** moves the difficulty from activations to weights with an exact
  rescaling: ``X W^T = (X diag(s)^-1) (W diag(s))^T``, with
  ``s_j = max|X_j|^α / max|W_j|^(1-α)``, after which both are easy to quantise.
"""

from __future__ import annotations

from fmref._validate import check_positive, check_tensor
from fmref.compress.quant import quantize_absmax

__all__ = ["int8_matmul", "outlier_columns", "llm_int8_matmul", "smoothquant_scales", "smooth"]


def _check_pair(x, w):
    check_tensor("x", x, dtype="float", finite=True)
    check_tensor("w", w, dtype="float", finite=True)
    if x.shape[-1] != w.shape[-1] or w.dim() != 2:
        raise ValueError(f"w must have shape (out, {x.shape[-1]}), got {tuple(w.shape)}")


def int8_matmul(x, w):
    """``x @ w.T`` through int8 with vector-wise absmax scales.

    Each row of ``x`` (a token) and each row of ``w`` (an output channel) gets its
    own scale; the integer product is accumulated exactly (int32 on hardware,
    float64 here) and rescaled by the outer product of the scales.

    Parameters
    ----------
    x : torch.Tensor
        Activations ``(..., in)``.
    w : torch.Tensor
        Weight ``(out, in)``.

    Returns
    -------
    torch.Tensor
        ``(..., out)`` float32.

    Raises
    ------
    ValueError
        If the inner dimensions differ.

    References
    ----------
    .. [1] Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for
       Transformers at Scale", NeurIPS 2022.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.outliers import int8_matmul
    >>> x, w = torch.randn(4, 64), torch.randn(32, 64)
    >>> err = (int8_matmul(x, w) - x @ w.T).abs().max() / (x @ w.T).abs().max()
    >>> bool(err < 0.02)
    True
    """
    _check_pair(x, w)
    xq, sx = quantize_absmax(x, 8, dim=-1)  # (..., in), (..., 1)
    wq, sw = quantize_absmax(w, 8, dim=-1)  # (out, in), (out, 1)
    acc = xq.double() @ wq.double().T  # (..., out): exact integer sums
    return (acc * sx.double() * sw.double().T).float()


def outlier_columns(x, threshold=6.0):
    """Feature columns of ``x`` with any ``|x| > threshold``.

    Parameters
    ----------
    x : torch.Tensor
        Activations ``(..., in)``.
    threshold : float, default 6.0
        LLM.int8()'s outlier threshold.

    Returns
    -------
    torch.Tensor
        Bool ``(in,)``.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.outliers import outlier_columns
    >>> outlier_columns(torch.tensor([[0.1, 9.0, -0.5], [0.3, 7.0, -8.0]]))
    tensor([False,  True,  True])
    """
    check_positive("threshold", threshold)
    return (x.abs() > threshold).reshape(-1, x.shape[-1]).any(dim=0)


def llm_int8_matmul(x, w, threshold=6.0):
    """LLM.int8(): outlier columns in floating point, the rest through int8.

    Parameters
    ----------
    x : torch.Tensor
        Activations ``(..., in)``.
    w : torch.Tensor
        Weight ``(out, in)``.
    threshold : float, default 6.0
        Columns with any ``|x| > threshold`` are kept in floating point.

    Returns
    -------
    torch.Tensor
        ``(..., out)``.

    Raises
    ------
    ValueError
        If the inner dimensions differ or ``threshold <= 0``.

    References
    ----------
    .. [1] Dettmers et al., "LLM.int8()", NeurIPS 2022, section 3.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.outliers import int8_matmul, llm_int8_matmul
    >>> x, w = torch.randn(16, 256), torch.randn(64, 256) * 0.05
    >>> x[:, 7] = 60.0  # one systematic outlier feature
    >>> exact = x @ w.T
    >>> rel = lambda y: ((y - exact).norm() / exact.norm()).item()
    >>> rel(int8_matmul(x, w)) > 5 * rel(llm_int8_matmul(x, w))
    True
    """
    _check_pair(x, w)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    out = outlier_columns(x, threshold)  # (in,)
    y = x[..., out].float() @ w[:, out].float().T  # (..., out) in floating point
    if (~out).any():
        y = y + int8_matmul(x[..., ~out], w[:, ~out])
    return y


def smoothquant_scales(x_absmax, w_absmax, alpha=0.5):
    """SmoothQuant's per-input-channel scales ``s_j = max|X_j|^α / max|W_j|^(1-α)``.

    Parameters
    ----------
    x_absmax : torch.Tensor
        ``(in,)`` largest ``|x|`` of each input feature, from calibration data.
    w_absmax : torch.Tensor
        ``(in,)`` largest ``|w|`` of each input column of the weight.
    alpha : float, default 0.5
        Migration strength in ``[0, 1]``: 0 leaves activations as they are, 1
        moves all of their range into the weights.

    Returns
    -------
    torch.Tensor
        ``(in,)`` positive scales.

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``[0, 1]`` or the shapes differ.

    References
    ----------
    .. [1] Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training
       Quantization for Large Language Models", ICML 2023, equation (4).

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.outliers import smoothquant_scales
    >>> smoothquant_scales(torch.tensor([16.0, 1.0]), torch.tensor([1.0, 1.0]))
    tensor([4., 1.])
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if x_absmax.shape != w_absmax.shape:
        raise ValueError(
            f"w_absmax must have the shape of x_absmax {tuple(x_absmax.shape)}, "
            f"got {tuple(w_absmax.shape)}"
        )
    s = x_absmax.clamp_min(1e-5) ** alpha / w_absmax.clamp_min(1e-5) ** (1 - alpha)
    return s.clamp_min(1e-5)


def smooth(x, w, scales):
    """Apply SmoothQuant's rescaling: ``(x / s, w * s)``; the product is unchanged.

    Parameters
    ----------
    x : torch.Tensor
        Activations ``(..., in)``.
    w : torch.Tensor
        Weight ``(out, in)``.
    scales : torch.Tensor
        ``(in,)`` from :func:`smoothquant_scales`.

    Returns
    -------
    tuple of torch.Tensor
        ``x / scales`` and ``w * scales`` (in a model the division is folded into
        the preceding LayerNorm).

    Raises
    ------
    ValueError
        If the shapes do not fit.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.outliers import smooth, smoothquant_scales
    >>> x, w = torch.randn(8, 16), torch.randn(4, 16)
    >>> x[:, 3] *= 50  # an outlier channel
    >>> s = smoothquant_scales(x.abs().amax(0), w.abs().amax(0))
    >>> xs, ws = smooth(x, w, s)
    >>> torch.allclose(xs @ ws.T, x @ w.T, atol=1e-4)  # exact up to rounding
    True
    >>> bool(xs.abs().amax(0).max() < x.abs().amax(0).max() / 3)  # flatter activations
    True
    """
    _check_pair(x, w)
    if scales.shape != (x.shape[-1],):
        raise ValueError(f"scales must have shape ({x.shape[-1]},), got {tuple(scales.shape)}")
    return x / scales, w * scales
