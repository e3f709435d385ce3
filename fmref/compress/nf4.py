"""4-bit NormalFloat (NF4) with double quantisation, as in QLoRA.

Pretrained weights are close to normally distributed, so QLoRA places the 16
levels of a 4-bit code where a standard normal puts equal probability mass:
level ``i`` is a quantile of ``N(0, 1)``, the levels are scaled to ``[-1, 1]``,
and exactly one level is zero. Each group of ``group_size`` weights (64; the
``blocksize`` of bitsandbytes) is divided by its absmax and every value is
rounded to the nearest level.

The absmax constants cost ``32 / 64 = 0.5`` bits per weight in fp32. *Double
quantisation* quantises them in turn, 8 bits each with one fp32 scale per 256
constants, which brings the overhead to ``8/64 + 32/(64·256) ≈ 0.127`` bits.
QLoRA stores those second-level codes in fp8; fmref uses int8 absmax codes of
the constants minus their mean, which has the same size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fmref._validate import check_positive_int, check_tensor

__all__ = ["nf4_codebook", "NF4Tensor", "quantize_nf4", "dequantize_nf4", "nf4_bits_per_parameter"]

# Outermost quantile used by QLoRA: halfway between 1 - 1/(2*15) and 1 - 1/(2*16),
# so that the largest level is finite (bitsandbytes' create_normal_map(offset=0.9677083)).
_OFFSET = 0.9677083


def nf4_codebook():
    """The 16 NF4 levels, sorted, in ``[-1, 1]``.

    Derivation (bitsandbytes' ``create_normal_map``): 8 positive levels are the
    normal quantiles at 8 evenly spaced probabilities from ``0.9677083`` down to
    (but not including) ``0.5``; 7 negative levels are minus the quantiles at 7
    evenly spaced probabilities over the same range; add 0; divide by the largest
    value. The asymmetry (8 positive, 7 negative levels) gives an exact zero.

    Returns
    -------
    torch.Tensor
        ``float32`` ``(16,)``: ``-1.0, -0.6962, ..., 0.0, 0.0796, ..., 1.0``.

    References
    ----------
    .. [1] Dettmers et al., "QLoRA: Efficient Finetuning of Quantized LLMs",
       NeurIPS 2023, section 3 and appendix E.

    Examples
    --------
    >>> from fmref.compress.nf4 import nf4_codebook
    >>> levels = nf4_codebook()
    >>> levels.shape, levels[7].item(), levels[0].item(), levels[-1].item()
    (torch.Size([16]), 0.0, -1.0, 1.0)
    >>> [round(v, 4) for v in levels[8:11].tolist()]
    [0.0796, 0.1609, 0.2461]
    """
    ndtri = torch.special.ndtri  # inverse of the standard normal CDF
    pos = ndtri(torch.linspace(_OFFSET, 0.5, 9, dtype=torch.float64)[:-1])  # 8 levels
    neg = -ndtri(torch.linspace(_OFFSET, 0.5, 8, dtype=torch.float64)[:-1])  # 7 levels
    levels = torch.cat([pos, neg, torch.zeros(1, dtype=torch.float64)]).sort().values
    return (levels / levels.max()).float()


def nf4_bits_per_parameter(group_size=64, double_quant=True, dq_group_size=256):
    """Storage per weight of NF4, in bits: the 4-bit code plus the scales' share.

    Parameters
    ----------
    group_size : int, default 64
        Weights per absmax constant.
    double_quant : bool, default True
        Constants stored in 8 bits with one fp32 scale per ``dq_group_size``;
        otherwise in fp32.
    dq_group_size : int, default 256
        Constants per second-level scale.

    Returns
    -------
    float
        ``4 + 32/group_size`` or ``4 + 8/group_size + 32/(group_size·dq_group_size)``.

    Raises
    ------
    ValueError
        If a group size is not a positive int.

    References
    ----------
    .. [1] Dettmers et al., "QLoRA", NeurIPS 2023, section 3 (double quantisation).

    Examples
    --------
    >>> from fmref.compress.nf4 import nf4_bits_per_parameter
    >>> nf4_bits_per_parameter(double_quant=False)
    4.5
    >>> round(nf4_bits_per_parameter(), 3)
    4.127
    """
    for name, value in (("group_size", group_size), ("dq_group_size", dq_group_size)):
        check_positive_int(name, value)
    if not double_quant:
        return 4 + 32 / group_size
    return 4 + 8 / group_size + 32 / (group_size * dq_group_size)


@dataclass
class NF4Tensor:
    """A weight quantised by :func:`quantize_nf4`.

    Parameters
    ----------
    codes : torch.Tensor
        ``uint8`` indices into :func:`nf4_codebook`, ``(n_groups, group_size)``
        (4 bits each once packed).
    absmax : torch.Tensor or None
        ``float32`` ``(n_groups,)`` constants without double quantisation.
    absmax_codes : torch.Tensor or None
        ``int8`` ``(n_groups,)`` codes of ``absmax - absmax_mean`` with double
        quantisation.
    absmax_scales : torch.Tensor or None
        ``float32`` ``(ceil(n_groups / dq_group_size),)`` second-level scales.
    absmax_mean : float
        Mean of the constants, subtracted before the second quantisation.
    shape : tuple of int
        Shape of the original weight.
    group_size : int
        Weights per constant.
    dq_group_size : int
        Constants per second-level scale.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.nf4 import quantize_nf4
    >>> q = quantize_nf4(torch.randn(128, 256))
    >>> q.codes.shape, q.absmax_codes.dtype, q.shape
    (torch.Size([512, 64]), torch.int8, (128, 256))
    """

    codes: torch.Tensor  # (n_groups, group_size) uint8 in [0, 15]
    absmax: torch.Tensor | None  # (n_groups,) fp32, without double quantisation
    absmax_codes: torch.Tensor | None  # (n_groups,) int8, with double quantisation
    absmax_scales: torch.Tensor | None  # (n_dq_blocks,) fp32
    absmax_mean: float  # subtracted before double quantisation
    shape: tuple  # original shape
    group_size: int = 64  # weights per absmax constant (bitsandbytes' blocksize)
    dq_group_size: int = 256  # constants per second-level scale

    def constants(self):
        """The absmax constant of every group, ``(n_groups,)`` float32."""
        if self.absmax_codes is None:
            return self.absmax
        n = self.absmax_codes.numel()
        scales = self.absmax_scales.repeat_interleave(self.dq_group_size)[:n]  # (n_groups,)
        return self.absmax_codes.float() * scales + self.absmax_mean

    def nbytes(self):
        """Exact storage in bytes: packed 4-bit codes plus every constant."""
        total = self.codes.numel() / 2
        if self.absmax_codes is None:
            return total + 4 * self.absmax.numel()
        return total + self.absmax_codes.numel() + 4 * self.absmax_scales.numel() + 4

    def bits_per_parameter(self):
        """``8 * nbytes() / number of weights``."""
        return 8 * self.nbytes() / self.codes.numel()


def quantize_nf4(w, group_size=64, double_quant=True, dq_group_size=256):
    """Quantise ``w`` to NF4 in groups of ``group_size`` consecutive values.

    Parameters
    ----------
    w : torch.Tensor
        Floating-point weight; ``w.numel()`` must be divisible by ``group_size``.
    group_size : int, default 64
        Values per absmax constant (called ``blocksize`` in bitsandbytes; fmref
        keeps ``block_size`` for the context length).
    double_quant : bool, default True
        Quantise the constants too (see the module docstring).
    dq_group_size : int, default 256
        Constants per second-level scale.

    Returns
    -------
    NF4Tensor

    Raises
    ------
    ValueError
        If ``group_size`` does not divide ``w.numel()`` or a size is not positive.
    TypeError
        If ``w`` is not a floating-point tensor.

    References
    ----------
    .. [1] Dettmers et al., "QLoRA: Efficient Finetuning of Quantized LLMs", NeurIPS 2023.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.nf4 import quantize_nf4, dequantize_nf4
    >>> w = torch.randn(256, 256) * 0.02
    >>> q = quantize_nf4(w)
    >>> round(q.bits_per_parameter(), 4)  # 4 + 8/64 + 4 fp32 scales and the mean
    4.1274
    >>> err = (dequantize_nf4(q) - w).norm() / w.norm()
    >>> bool(0.05 < err < 0.12)  # relative error of 4-bit weights
    True
    """
    check_tensor("w", w, dtype="float", finite=True)
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        kind = w.dtype if isinstance(w, torch.Tensor) else type(w).__name__
        raise TypeError(f"w must be a floating-point tensor, got {kind}")
    nf4_bits_per_parameter(group_size, double_quant, dq_group_size)  # validates the sizes
    if w.numel() % group_size:
        raise ValueError(f"group_size must divide w.numel()={w.numel()}, got {group_size}")
    groups = w.detach().float().reshape(-1, group_size)  # (n_groups, group_size)
    absmax = groups.abs().amax(dim=1).clamp_min(1e-12)  # (n_groups,)
    levels = nf4_codebook()  # (16,)
    normed = groups / absmax[:, None]  # in [-1, 1]
    codes = (normed.unsqueeze(-1) - levels).abs().argmin(dim=-1).to(torch.uint8)  # nearest
    q = NF4Tensor(
        codes=codes,
        absmax=absmax,
        absmax_codes=None,
        absmax_scales=None,
        absmax_mean=0.0,
        shape=tuple(w.shape),
        group_size=group_size,
        dq_group_size=dq_group_size,
    )
    if double_quant:
        mean = absmax.mean()
        centred = absmax - mean  # (n_groups,)
        pad = (-centred.numel()) % dq_group_size
        blocks = torch.cat([centred, centred.new_zeros(pad)]).reshape(-1, dq_group_size)
        scales = blocks.abs().amax(dim=1).clamp_min(1e-12) / 127  # (n_dq_blocks,)
        dq = torch.round(blocks / scales[:, None]).clamp(-127, 127).to(torch.int8)
        q.absmax, q.absmax_codes = None, dq.flatten()[: centred.numel()]
        q.absmax_scales, q.absmax_mean = scales, mean.item()
    return q


def dequantize_nf4(q):
    """The float32 weight an :class:`NF4Tensor` stands for.

    Parameters
    ----------
    q : NF4Tensor
        Output of :func:`quantize_nf4`.

    Returns
    -------
    torch.Tensor
        ``float32`` of shape ``q.shape``.

    Raises
    ------
    TypeError
        If ``q`` is not an :class:`NF4Tensor`.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.nf4 import quantize_nf4, dequantize_nf4, nf4_codebook
    >>> w = nf4_codebook().repeat(4)  # values on the grid come back exactly
    >>> torch.equal(dequantize_nf4(quantize_nf4(w, double_quant=False)), w)
    True
    """
    if not isinstance(q, NF4Tensor):
        raise TypeError(f"q must be an NF4Tensor, got {type(q).__name__}")
    values = nf4_codebook()[q.codes.long()]  # (n_groups, group_size)
    return (values * q.constants()[:, None]).reshape(q.shape)
