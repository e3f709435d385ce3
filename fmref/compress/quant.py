"""Integer quantisation of weights: absmax, zero-point and group-wise.

A ``b``-bit quantiser maps a float ``w`` to an integer *code* and back:

* **absmax** (symmetric): ``scale = max|w| / (2^(b-1) - 1)``,
  ``code = round(w / scale)`` in ``[-(2^(b-1) - 1), 2^(b-1) - 1]``;
* **zero-point** (asymmetric): ``scale = (max - min) / (2^b - 1)``,
  ``code = round(w / scale) + zero_point`` in ``[0, 2^b - 1]``, so that a skewed
  range uses every level;
* **group-wise**: one absmax scale per ``group_size`` consecutive input weights,
  so that one large weight only coarsens its own group.

Rounding to the nearest level bounds the error of every value by half a step,
``scale / 2`` (the tests check it with hypothesis). The *granularity* of the
scale (``dim``) decides how large that step is: one per tensor, per output
channel, or per group.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_in, check_int, check_positive_int, check_tensor

__all__ = [
    "SUPPORTED_BITS",
    "quantize_absmax",
    "dequantize_absmax",
    "quantize_zeropoint",
    "dequantize_zeropoint",
    "quantize_groupwise",
    "dequantize_groupwise",
    "QuantLinear",
]

SUPPORTED_BITS = (2, 3, 4, 8)
"""Bit widths the integer quantisers accept."""

_EPS = 1e-12  # smallest scale: an all-zero slice quantises to zeros, not NaN


def _check(w, bits):
    check_tensor("w", w, dtype="float", finite=True)  # an inf/NaN entry would poison the scale
    check_in("bits", check_int("bits", bits), SUPPORTED_BITS)


def _reduce(x, dim, op):
    if dim is None:
        return op(x)  # 0-d: one scale for the tensor
    return op(x, dim=dim, keepdim=True)


def quantize_absmax(w, bits=8, dim=None):
    """Symmetric (absmax) quantisation: ``w ≈ codes * scale``.

    Parameters
    ----------
    w : torch.Tensor
        Floating-point weights.
    bits : int, default 8
        One of :data:`SUPPORTED_BITS`.
    dim : int or tuple of int, optional
        Axis reduced to find ``max|w|``: ``None`` gives one scale for the tensor;
        ``dim=1`` on a ``(out, in)`` weight gives one scale per output channel.

    Returns
    -------
    codes : torch.Tensor
        ``torch.int8`` codes of ``w``'s shape, in ``[-(2^(b-1)-1), 2^(b-1)-1]``.
    scale : torch.Tensor
        ``float32``, 0-d or ``w``'s shape with ``dim`` reduced to size 1.

    Raises
    ------
    ValueError
        If ``bits`` is not supported, or ``w`` holds NaN or infinite entries.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for
       Transformers at Scale", NeurIPS 2022.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import quantize_absmax, dequantize_absmax
    >>> w = torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.1, -0.3]])
    >>> codes, scale = quantize_absmax(w, bits=8)
    >>> codes
    tensor([[ 32, -64,  16],
            [127,   6, -19]], dtype=torch.int8)
    >>> round(scale.item(), 5)  # 2.0 / 127
    0.01575
    >>> codes, scale = quantize_absmax(w, bits=8, dim=1)  # one scale per row
    >>> scale.shape
    torch.Size([2, 1])
    >>> (dequantize_absmax(codes, scale) - w).abs().max() <= scale.max() / 2
    tensor(True)
    """
    _check(w, bits)
    qmax = 2 ** (bits - 1) - 1
    w = w.float()
    scale = _reduce(w.abs(), dim, torch.amax).clamp_min(_EPS) / qmax
    codes = torch.round(w / scale).clamp(-qmax, qmax).to(torch.int8)
    return codes, scale


def dequantize_absmax(codes, scale):
    """Inverse of :func:`quantize_absmax`: ``codes * scale`` as float32.

    Parameters
    ----------
    codes : torch.Tensor
        Integer codes.
    scale : torch.Tensor
        Scale broadcastable to ``codes``.

    Returns
    -------
    torch.Tensor
        ``float32`` tensor of ``codes``' shape.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import dequantize_absmax
    >>> dequantize_absmax(torch.tensor([-127, 0, 64], dtype=torch.int8), torch.tensor(0.5))
    tensor([-63.5000,   0.0000,  32.0000])
    """
    check_tensor("codes", codes, dtype="int")
    return codes.float() * scale


def quantize_zeropoint(w, bits=8, dim=None):
    """Asymmetric (zero-point) quantisation: ``w ≈ (codes - zero_point) * scale``.

    The range ``[min(w, 0), max(w, 0)]`` is mapped onto ``[0, 2^b - 1]``; zero is
    exactly representable (code ``zero_point``), which matters for padding and
    ReLU outputs.

    Parameters
    ----------
    w : torch.Tensor
        Floating-point weights.
    bits : int, default 8
        One of :data:`SUPPORTED_BITS`.
    dim : int or tuple of int, optional
        Axis reduced to find the range (as in :func:`quantize_absmax`).

    Returns
    -------
    codes : torch.Tensor
        ``torch.uint8`` codes in ``[0, 2^b - 1]``.
    scale : torch.Tensor
        ``float32`` step.
    zero_point : torch.Tensor
        ``int32`` code of the value 0.

    Raises
    ------
    ValueError
        If ``bits`` is not supported, or ``w`` holds NaN or infinite entries.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Jacob et al., "Quantization and Training of Neural Networks for
       Efficient Integer-Arithmetic-Only Inference", CVPR 2018.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import quantize_zeropoint, dequantize_zeropoint
    >>> w = torch.tensor([0.0, 0.6, 1.0, 3.0])  # skewed: no negative values
    >>> codes, scale, zp = quantize_zeropoint(w, bits=2)
    >>> codes, zp.item(), scale.item()  # all 4 levels cover [0, 3]
    (tensor([0, 1, 1, 3], dtype=torch.uint8), 0, 1.0)
    >>> dequantize_zeropoint(codes, scale, zp)
    tensor([0., 1., 1., 3.])
    """
    _check(w, bits)
    qmax = 2**bits - 1
    w = w.float()
    lo = _reduce(w, dim, torch.amin).clamp(max=0.0)
    hi = _reduce(w, dim, torch.amax).clamp(min=0.0)
    scale = ((hi - lo) / qmax).clamp_min(_EPS)
    zero_point = torch.round(-lo / scale).clamp(0, qmax).to(torch.int32)
    codes = (torch.round(w / scale) + zero_point).clamp(0, qmax).to(torch.uint8)
    return codes, scale, zero_point


def dequantize_zeropoint(codes, scale, zero_point):
    """Inverse of :func:`quantize_zeropoint`: ``(codes - zero_point) * scale``.

    Parameters
    ----------
    codes : torch.Tensor
        Unsigned integer codes.
    scale : torch.Tensor
        Step, broadcastable to ``codes``.
    zero_point : torch.Tensor
        Code of zero, broadcastable to ``codes``.

    Returns
    -------
    torch.Tensor
        ``float32``.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import dequantize_zeropoint
    >>> dequantize_zeropoint(torch.tensor([0, 2, 255], dtype=torch.uint8),
    ...                      torch.tensor(0.1), torch.tensor(2))
    tensor([-0.2000,  0.0000, 25.3000])
    """
    check_tensor("codes", codes, dtype="int")
    return (codes.float() - zero_point.float()) * scale


def quantize_groupwise(w, bits=4, group_size=128):
    """Absmax quantisation with one scale per ``group_size`` consecutive weights.

    Groups run along the last axis (the input features of a ``(out, in)``
    weight), as in GPTQ and AWQ checkpoints.

    Parameters
    ----------
    w : torch.Tensor
        Floating-point weights ``(..., in)``.
    bits : int, default 4
        One of :data:`SUPPORTED_BITS`.
    group_size : int, default 128
        Weights per scale; must divide ``w.shape[-1]``.

    Returns
    -------
    codes : torch.Tensor
        ``torch.int8`` codes of ``w``'s shape.
    scales : torch.Tensor
        ``float32`` ``(..., in // group_size)``.

    Raises
    ------
    ValueError
        If ``bits`` is not supported or ``group_size`` does not divide the last axis.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Frantar et al., "GPTQ: Accurate Post-Training Quantization for
       Generative Pre-trained Transformers", ICLR 2023.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import quantize_groupwise, dequantize_groupwise
    >>> w = torch.tensor([[0.1, -0.2, 0.3, 0.7, 8.0, 0.05]])  # one outlier
    >>> codes, scales = quantize_groupwise(w, bits=4, group_size=3)
    >>> codes, scales.shape
    (tensor([[ 2, -5,  7,  1,  7,  0]], dtype=torch.int8), torch.Size([1, 2]))
    >>> dequantize_groupwise(codes, scales, group_size=3)  # the first group is spared
    tensor([[ 0.0857, -0.2143,  0.3000,  1.1429,  8.0000,  0.0000]])
    """
    _check(w, bits)
    n = w.shape[-1] if w.dim() else 0
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, int)
        or group_size < 1
        or n % group_size
    ):
        raise ValueError(
            f"group_size must be a positive int dividing the last dimension {n}, got {group_size!r}"
        )
    groups = w.reshape(*w.shape[:-1], n // group_size, group_size)  # (..., G, group_size)
    codes, scales = quantize_absmax(groups, bits, dim=-1)  # scales (..., G, 1)
    return codes.reshape(w.shape), scales.squeeze(-1)


def dequantize_groupwise(codes, scales, group_size=128):
    """Inverse of :func:`quantize_groupwise`.

    Parameters
    ----------
    codes : torch.Tensor
        Codes ``(..., in)``.
    scales : torch.Tensor
        ``(..., in // group_size)``.
    group_size : int, default 128
        As used to quantise.

    Returns
    -------
    torch.Tensor
        ``float32`` ``(..., in)``.

    Raises
    ------
    ValueError
        If ``scales`` does not have ``in // group_size`` groups.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import dequantize_groupwise
    >>> dequantize_groupwise(torch.tensor([[1, 2, 3, 4]], dtype=torch.int8),
    ...                      torch.tensor([[1.0, 0.5]]), group_size=2)
    tensor([[1.0000, 2.0000, 1.5000, 2.0000]])
    """
    check_tensor("codes", codes, dtype="int")
    check_positive_int("group_size", group_size)
    n = codes.shape[-1]
    if scales.shape[-1] * group_size != n:
        raise ValueError(
            f"scales must have {n // group_size} groups of group_size="
            f"{group_size}, got {scales.shape[-1]}"
        )
    groups = codes.reshape(*codes.shape[:-1], -1, group_size).float()  # (..., G, g)
    return (groups * scales.unsqueeze(-1)).reshape(codes.shape)


def _pack_int4(codes):
    """Two signed 4-bit codes per byte: ``(..., n)`` int8 -> ``(..., n / 2)`` uint8."""
    u = (codes.to(torch.int16) + 8).to(torch.uint8)  # [-8, 7] -> [0, 15]
    return u[..., 0::2] | (u[..., 1::2] << 4)


def _unpack_int4(packed):
    lo = (packed & 0xF).to(torch.int8) - 8
    hi = (packed >> 4).to(torch.int8) - 8
    return torch.stack([lo, hi], dim=-1).flatten(-2)  # (..., n)


class QuantLinear(nn.Module):
    """A linear layer whose weight is stored as int8 or packed int4 codes plus scales.

    The weight is dequantised on the fly in :meth:`forward` (weight-only
    quantisation: activations stay in floating point). Scales are stored in fp16.

    Parameters
    ----------
    weight : torch.Tensor
        Float weight ``(out, in)`` to quantise.
    bias : torch.Tensor, optional
        Kept in floating point.
    bits : {8, 4}, default 8
        Code width; 4-bit codes are packed two per byte (``in`` must be even).
    group_size : int, optional
        Weights per scale along ``in``; ``None`` is one scale per output channel.

    Attributes
    ----------
    codes : torch.Tensor
        int8 ``(out, in)`` or packed uint8 ``(out, in // 2)`` buffer.
    scales : torch.Tensor
        fp16 ``(out, 1)`` or ``(out, in // group_size)`` buffer.

    Raises
    ------
    ValueError
        If ``bits`` is not 8 or 4, or ``group_size`` does not divide ``in``.

    References
    ----------
    .. [1] Lin et al., "AWQ: Activation-aware Weight Quantization for LLM
       Compression and Acceleration", MLSys 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.quant import QuantLinear
    >>> linear = torch.nn.Linear(256, 64)
    >>> q8 = QuantLinear.from_linear(linear, bits=8)
    >>> q4 = QuantLinear.from_linear(linear, bits=4, group_size=64)
    >>> linear.weight.numel() * 4, q8.weight_nbytes(), q4.weight_nbytes()  # bytes
    (65536, 16512, 8704)
    >>> x = torch.randn(3, 256)
    >>> rel = lambda q: ((q(x) - linear(x)).norm() / linear(x).norm()).item()
    >>> rel(q8) < 0.01, rel(q4) < 0.1
    (True, True)
    """

    def __init__(self, weight, bias=None, bits=8, group_size=None):
        super().__init__()
        check_in("bits", check_int("bits", bits), (8, 4))
        check_tensor("weight", weight, dtype="float", ndim=2, finite=True)
        out_features, in_features = weight.shape
        if bits == 4 and in_features % 2:
            raise ValueError(f"in_features must be even for packed int4, got {in_features}")
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size = bits, group_size
        w = weight.detach().float()
        if group_size is None:
            codes, scales = quantize_absmax(w, bits, dim=1)  # (out, in), (out, 1)
        else:
            codes, scales = quantize_groupwise(w, bits, group_size)  # (out, in), (out, G)
        if bits == 4:
            codes = _pack_int4(codes)  # (out, in // 2)
        self.register_buffer("codes", codes)
        self.register_buffer("scales", scales.to(torch.float16))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    @classmethod
    def from_linear(cls, linear, bits=8, group_size=None):
        """Quantise a :class:`torch.nn.Linear`."""
        return cls(linear.weight, linear.bias, bits=bits, group_size=group_size)

    def dequantized_weight(self):
        """The float32 weight ``(out, in)`` that :meth:`forward` uses."""
        codes = _unpack_int4(self.codes) if self.bits == 4 else self.codes
        scales = self.scales.float()
        if self.group_size is None:
            return dequantize_absmax(codes, scales)
        return dequantize_groupwise(codes, scales, self.group_size)

    def weight_nbytes(self):
        """Bytes of the stored codes and scales."""
        return self.codes.numel() * self.codes.element_size() + self.scales.numel() * 2

    def forward(self, x):
        return F.linear(x, self.dequantized_weight().to(x.dtype), self.bias)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bits={self.bits}, group_size={self.group_size}"
        )
