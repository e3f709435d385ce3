"""Normalisation layers: LayerNorm and RMSNorm, written out.

LayerNorm re-centres and re-scales each token's features; RMSNorm only
re-scales, which saves the mean and, in practice, matches LayerNorm's quality.
"""

from __future__ import annotations

import torch
from torch import nn

from fmref._validate import check_positive, check_positive_int

__all__ = ["LayerNorm", "RMSNorm"]


def _check_width(x, d):
    if x.shape[-1] != d:
        raise ValueError(f"x must have last dimension {d}, got shape {tuple(x.shape)}")


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, matching :class:`torch.nn.LayerNorm`.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance.

    Parameters
    ----------
    d : int
        Width of the normalised (last) dimension.
    eps : float, default 1e-5
        Added to the variance.
    bias : bool, default True
        Learn an additive ``bias`` (nanoGPT's ``bias=False`` drops it).

    Attributes
    ----------
    weight : torch.nn.Parameter
        Gain ``(d,)``, initialised to ones.
    bias : torch.nn.Parameter or None
        Shift ``(d,)``, initialised to zeros.

    Raises
    ------
    ValueError
        In ``forward``, if the last dimension of ``x`` is not ``d``.

    References
    ----------
    .. [1] Ba, Kiros and Hinton, "Layer Normalization", 2016.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.norm import LayerNorm
    >>> ln = LayerNorm(4)
    >>> y = ln(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> y
    tensor([[-1.3416, -0.4472,  0.4472,  1.3416]], grad_fn=<AddBackward0>)
    >>> round(y.mean().item(), 4), round(y.var(unbiased=False).item(), 3)
    (0.0, 1.0)
    """

    def __init__(self, d, eps=1e-5, bias=True):
        super().__init__()
        check_positive_int("d", d)
        check_positive("eps", eps)
        self.d, self.eps = d, eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        _check_width(x, self.d)
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # (..., 1) biased
        y = (x - mean) / torch.sqrt(var + self.eps) * self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"{self.d}, eps={self.eps}, bias={self.bias is not None}"


class RMSNorm(nn.Module):
    """Root-mean-square normalisation, matching transformers' ``LlamaRMSNorm``.

    ``y = weight * x / sqrt(mean(x²) + eps)``, computed in float32 and cast back
    to the input dtype before the gain.

    Parameters
    ----------
    d : int
        Width of the normalised (last) dimension.
    eps : float, default 1e-6
        Added to the mean square.

    Attributes
    ----------
    weight : torch.nn.Parameter
        Gain ``(d,)``, initialised to ones.

    Raises
    ------
    ValueError
        In ``forward``, if the last dimension of ``x`` is not ``d``.

    References
    ----------
    .. [1] Zhang and Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.norm import RMSNorm
    >>> norm = RMSNorm(4)
    >>> y = norm(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> y
    tensor([[0.3651, 0.7303, 1.0954, 1.4606]], grad_fn=<MulBackward0>)
    >>> round(y.pow(2).mean().item(), 4)
    1.0
    """

    def __init__(self, d, eps=1e-6):
        super().__init__()
        check_positive_int("d", d)
        check_positive("eps", eps)
        self.d, self.eps = d, eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        _check_width(x, self.d)
        dtype = x.dtype
        x32 = x.to(torch.float32)
        rms_inv = torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return self.weight * (x32 * rms_inv).to(dtype)

    def extra_repr(self):
        return f"{self.d}, eps={self.eps}"
