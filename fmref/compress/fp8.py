"""FP8: 8-bit floating point with per-tensor or per-block scales.

Two 8-bit formats are in use (Micikevicius et al., 2022), both with one sign
bit: **E4M3** (4 exponent bits, 3 mantissa bits; no infinities, so that its
range reaches 448) for weights and activations, and **E5M2** (5 and 2; range
57,344, IEEE-like with infinities) for gradients. torch has both as dtypes,
``torch.float8_e4m3fn`` and ``torch.float8_e5m2``; casting to them rounds to
the nearest representable value, ties to even.

A float format keeps the *relative* error bounded (half a unit in the last
place: ``2^-4`` for E4M3's normal numbers, ``2^-3`` for E5M2's) but only over
its range, so a tensor is first divided by a scale that maps its largest
magnitude onto the format's largest value, ``scale = amax / max``. One scale
per tensor lets one outlier push every other value towards the subnormals;
DeepSeek-V3 trains and serves with one scale per 1x128 tile of activations
and per 128x128 block of weights. :func:`quantize_fp8` takes ``group_size``:
``None`` (per tensor), an int (groups along the last axis) or a tuple with one
block length per axis (``(128, 128)`` for DeepSeek-V3's weights).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_in, check_tensor

__all__ = ["FP8_FORMATS", "quantize_fp8", "dequantize_fp8", "FP8Linear"]

FP8_FORMATS = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
"""The two FP8 formats, by name, and their torch dtypes."""


def _blocks(x, group_size, name="group_size"):
    """Block lengths, one per axis of ``x``, from ``group_size``."""
    if group_size is None:
        return tuple(x.shape)
    sizes = (1,) * (x.dim() - 1) + (group_size,) if isinstance(group_size, int) else group_size
    ok = (
        isinstance(sizes, tuple)
        and len(sizes) == x.dim()
        and all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in sizes)
        and all(d % b == 0 for d, b in zip(x.shape, sizes))
    )
    if not ok or x.dim() == 0:
        raise ValueError(
            f"{name} must be None, a positive int dividing the last axis, or one such "
            f"int per axis of shape {tuple(x.shape)}, got {group_size!r}"
        )
    return sizes


def _expand(scale, shape):
    """Repeat each scale over its block: ``scale`` to ``shape`` (a 0-d scale broadcasts)."""
    if scale.dim() == 0:
        return scale
    for d, n in enumerate(shape):
        scale = scale.repeat_interleave(n // scale.shape[d], dim=d)
    return scale


def quantize_fp8(x, fmt="e4m3", group_size=None):
    """Scale ``x`` into the range of an FP8 format and cast it.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point tensor.
    fmt : {"e4m3", "e5m2"}, default "e4m3"
        The format (:data:`FP8_FORMATS`).
    group_size : int or tuple of int, optional
        ``None``: one scale for the tensor; an int ``g``: one scale per ``g``
        consecutive values along the last axis (DeepSeek-V3's 1x128 activation
        tiles are ``128``); a tuple: the block's length along every axis
        (``(128, 128)`` for DeepSeek-V3's weights).

    Returns
    -------
    values : torch.Tensor
        ``x / scale`` cast to the format's dtype, ``x``'s shape.
    scale : torch.Tensor
        float32 scales, ``amax / max`` of each block: 0-d per tensor, else one
        entry per block (``x``'s shape divided by the block lengths).

    Raises
    ------
    ValueError
        If ``fmt`` is unknown, ``group_size`` does not tile ``x``, or ``x``
        holds NaN or infinite entries.
    TypeError
        If ``x`` is not a floating-point tensor.

    References
    ----------
    .. [1] Micikevicius et al., "FP8 Formats for Deep Learning", 2022.
    .. [2] DeepSeek-AI, "DeepSeek-V3 Technical Report", 2024, section 3.3.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.fp8 import dequantize_fp8, quantize_fp8
    >>> x = torch.tensor([[0.01, -0.3, 1.0, 896.0]])
    >>> values, scale = quantize_fp8(x)  # one scale: 896 -> 448
    >>> scale.item(), values.float()
    (2.0, tensor([[  0.0059,  -0.1562,   0.5000, 448.0000]]))
    >>> dequantize_fp8(values, scale)  # -0.3 comes back 4% off; 0.01, a subnormal, 17% off
    tensor([[  0.0117,  -0.3125,   1.0000, 896.0000]])
    >>> values, scale = quantize_fp8(x, group_size=2)  # one scale per pair
    >>> scale
    tensor([[0.0007, 2.0000]])
    >>> dequantize_fp8(values, scale)
    tensor([[  0.0100,  -0.3000,   1.0000, 896.0000]])
    """
    check_tensor("x", x, dtype="float", finite=True)
    dtype = FP8_FORMATS[check_in("fmt", fmt, tuple(FP8_FORMATS))]
    fmax = torch.finfo(dtype).max
    sizes = _blocks(x, group_size)
    x = x.detach().float()
    if group_size is None:
        amax = x.abs().amax()  # 0-d
    else:
        split = [s for d, b in zip(x.shape, sizes) for s in (d // b, b)]  # (n0, b0, n1, b1, ...)
        amax = x.reshape(split).abs().amax(dim=tuple(range(1, 2 * x.dim(), 2)))  # per block
    scale = torch.where(amax > 0, amax / fmax, torch.ones_like(amax))  # a zero block: scale 1
    values = (x / _expand(scale, x.shape)).clamp(-fmax, fmax).to(dtype)  # clamp: round-off
    return values, scale


def dequantize_fp8(values, scale):
    """Inverse of :func:`quantize_fp8`: ``values * scale`` block by block, float32.

    Parameters
    ----------
    values : torch.Tensor
        FP8 tensor.
    scale : torch.Tensor
        0-d, or one scale per block (each axis of ``values`` a multiple of the
        matching axis of ``scale``).

    Returns
    -------
    torch.Tensor
        float32, ``values``' shape.

    Raises
    ------
    TypeError
        If ``values`` is not an FP8 tensor.
    ValueError
        If ``scale`` does not tile ``values``.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.fp8 import dequantize_fp8
    >>> values = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).to(torch.float8_e5m2)
    >>> dequantize_fp8(values, torch.tensor([[10.0], [0.5]]))  # one scale per row
    tensor([[10.0000, 20.0000],
            [ 1.5000,  2.0000]])
    """
    if not isinstance(values, torch.Tensor) or values.dtype not in FP8_FORMATS.values():
        kind = values.dtype if isinstance(values, torch.Tensor) else type(values).__name__
        raise TypeError(f"values must be an FP8 tensor (float8_e4m3fn or float8_e5m2), got {kind}")
    check_tensor("scale", scale, dtype="float")
    if scale.dim() and (
        scale.dim() != values.dim()
        or any(s == 0 or d % s for d, s in zip(values.shape, scale.shape))
    ):
        raise ValueError(
            f"scale must be 0-d or tile values of shape {tuple(values.shape)}, "
            f"got shape {tuple(scale.shape)}"
        )
    return values.float() * _expand(scale.float(), values.shape)


class FP8Linear(nn.Module):
    """A linear layer with an FP8 weight, and optionally FP8 inputs (W8A8).

    The weight is stored in FP8 with float32 scales (:func:`quantize_fp8`).
    With ``quantize_input=True`` each input is quantised too, per token or per
    tile of ``input_group_size`` features, as FP8 GEMMs need both operands in
    FP8. The product is computed in float32 from the dequantised operands: the
    same numbers as an FP8 tensor-core GEMM that accumulates in fp32 and
    multiplies the scales in afterwards (up to the order of the additions), on
    any device.

    Parameters
    ----------
    weight : torch.Tensor
        Float weight ``(out, in)``.
    bias : torch.Tensor, optional
        Kept in floating point.
    fmt : {"e4m3", "e5m2"}, default "e4m3"
        The format of the weight and the inputs.
    group_size : int or tuple of int, optional
        The weight's scale blocks (:func:`quantize_fp8`); ``None`` per tensor.
    quantize_input : bool, default False
        Quantise the inputs too (W8A8); otherwise only the weight (W8A16).
    input_group_size : int, optional
        Features per input scale; ``None`` is one scale per token.

    Raises
    ------
    ValueError
        If ``fmt`` is unknown or a group size does not tile its tensor.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 Technical Report", 2024, section 3.3.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.fp8 import FP8Linear
    >>> linear = torch.nn.Linear(256, 64)
    >>> w8a16 = FP8Linear.from_linear(linear)
    >>> w8a8 = FP8Linear.from_linear(linear, group_size=(32, 128), quantize_input=True,
    ...                              input_group_size=128)
    >>> w8a16.weight_nbytes(), w8a8.weight_nbytes()  # 1 byte per weight + 4 per scale
    (16388, 16400)
    >>> x = torch.randn(8, 256)
    >>> rel = lambda layer: round(((layer(x) - linear(x)).norm() / linear(x).norm()).item(), 3)
    >>> rel(w8a16), rel(w8a8)
    (0.023, 0.034)
    """

    def __init__(self, weight, bias=None, fmt="e4m3", group_size=None, quantize_input=False,
                 input_group_size=None):  # fmt: skip
        super().__init__()
        check_tensor("weight", weight, dtype="float", ndim=2, finite=True)
        self.out_features, self.in_features = weight.shape
        if input_group_size is not None:
            _blocks(torch.empty(1, self.in_features), input_group_size, "input_group_size")
        self.fmt, self.group_size = fmt, group_size
        self.quantize_input, self.input_group_size = bool(quantize_input), input_group_size
        values, scale = quantize_fp8(weight, fmt, group_size)
        self.register_buffer("values", values)
        self.register_buffer("scale", scale)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    @classmethod
    def from_linear(cls, linear, **kwargs):
        """Quantise a :class:`torch.nn.Linear` (keyword arguments as the class)."""
        return cls(linear.weight, linear.bias, **kwargs)

    def dequantized_weight(self):
        """The float32 weight ``(out, in)`` that :meth:`forward` multiplies with."""
        return dequantize_fp8(self.values, self.scale)

    def weight_nbytes(self):
        """Bytes of the FP8 values and the float32 scales."""
        return self.values.numel() + 4 * self.scale.numel()

    def forward(self, x):
        if self.quantize_input:
            x = dequantize_fp8(*quantize_fp8(x, self.fmt, self.input_group_size or x.shape[-1]))
        return F.linear(x, self.dequantized_weight().to(x.dtype), self.bias)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, fmt={self.fmt}, "
            f"group_size={self.group_size}, quantize_input={self.quantize_input}"
        )
