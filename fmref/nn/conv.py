"""Convolution as weight sharing: ``conv2d`` via unfold + matmul, pooling, receptive fields.

A 2-D convolution slides one small weight tensor over every position of the
image. ``unfold`` (im2col) copies each ``C_in x kH x kW`` patch into a column;
the convolution is then one matrix product of the flattened kernel with those
columns. :class:`Conv2d` and :class:`SmallCNN` wrap the function so a whole
network runs on it.

References
----------
.. [1] LeCun et al., "Gradient-based learning applied to document recognition",
   Proc. IEEE, 1998.
.. [2] Dumoulin and Visin, "A guide to convolution arithmetic for deep
   learning", arXiv:1603.07285, 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_instance, check_positive_int

__all__ = [
    "conv_output_size",
    "conv2d",
    "max_pool2d",
    "receptive_field",
    "Conv2d",
    "CNNConfig",
    "SmallCNN",
]


def _pair(value, name):
    if isinstance(value, int):
        value = (value, value)
    if not (
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return value


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    r"""Output length of a convolution along one axis.

    .. math:: \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1

    Parameters
    ----------
    size : int
        Input length ``n``.
    kernel, stride, padding, dilation : int
        ``k``, ``s`` (>= 1), ``p`` (>= 0), ``d`` (>= 1).

    Returns
    -------
    int
        Output length.

    Raises
    ------
    ValueError
        If ``stride`` or ``dilation`` is below 1, ``padding`` is negative, or the
        dilated kernel is larger than the padded input.

    References
    ----------
    .. [1] Dumoulin and Visin, "A guide to convolution arithmetic for deep learning", 2016.

    Examples
    --------
    >>> from fmref.nn.conv import conv_output_size
    >>> conv_output_size(224, kernel=7, stride=2, padding=3)  # ResNet's stem
    112
    """
    check_positive_int("kernel", kernel)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(
            f"kernel (dilated size {span}) must not be larger than the padded input "
            f"({size + 2 * padding})"
        )
    return (size + 2 * padding - span) // stride + 1


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D cross-correlation (what deep learning calls convolution) via unfold + matmul.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(B, C_in, H, W)``.
    weight : torch.Tensor
        Kernels ``(C_out, C_in, kH, kW)``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation : int or tuple of int
        As in :func:`torch.nn.functional.conv2d` (zero padding).

    Returns
    -------
    torch.Tensor
        ``(B, C_out, H_out, W_out)`` with sizes from :func:`conv_output_size`.

    Raises
    ------
    ValueError
        If ``x`` or ``weight`` is not 4-D, the channels differ, or the kernel is
        larger than the padded input.
    TypeError
        If ``stride``, ``padding`` or ``dilation`` is not an int or a pair of ints.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from fmref.nn.conv import conv2d
    >>> x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    >>> y = conv2d(x, w, stride=2, padding=1)
    >>> y.shape, torch.allclose(y, F.conv2d(x, w, stride=2, padding=1), atol=1e-5)
    (torch.Size([2, 4, 4, 4]), True)
    """
    if x.dim() != 4:
        raise ValueError(f"x must have shape (B, C_in, H, W), got {tuple(x.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, kH, kW), got {tuple(weight.shape)}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight must have C_in={x.shape[1]} input channels, got {weight.shape[1]}"
        )
    stride, padding, dilation = (
        _pair(stride, "stride"),
        _pair(padding, "padding"),
        _pair(dilation, "dilation"),
    )
    B, _, H, W = x.shape
    C_out, C_in, kH, kW = weight.shape
    H_out = conv_output_size(H, kH, stride[0], padding[0], dilation[0])
    W_out = conv_output_size(W, kW, stride[1], padding[1], dilation[1])
    cols = F.unfold(
        x, (kH, kW), dilation=dilation, padding=padding, stride=stride
    )  # (B, C_in*kH*kW, L)
    out = (
        weight.reshape(C_out, C_in * kH * kW) @ cols
    )  # (B, C_out, L): one shared kernel for every L
    if bias is not None:
        out = out + bias.view(1, C_out, 1)
    return out.view(B, C_out, H_out, W_out)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling via unfold: the largest value of each window.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(B, C, H, W)``.
    kernel_size : int or tuple of int
        Window size.
    stride : int or tuple of int, optional
        Step; defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or tuple of int
        Implicit ``-inf`` padding on each side (default 0).

    Returns
    -------
    torch.Tensor
        ``(B, C, H_out, W_out)``.

    Raises
    ------
    ValueError
        If ``x`` is not 4-D or the window is larger than the padded input.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.conv import max_pool2d
    >>> max_pool2d(torch.arange(16.).view(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    if x.dim() != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    kernel_size = _pair(kernel_size, "kernel_size")
    if min(kernel_size) < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    B, C, H, W = x.shape
    H_out = conv_output_size(H, kernel_size[0], stride[0], padding[0])
    W_out = conv_output_size(W, kernel_size[1], stride[1], padding[1])
    if any(padding):
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=float("-inf"))
    cols = F.unfold(
        x.reshape(B * C, 1, *x.shape[-2:]), kernel_size, stride=stride
    )  # (B*C, kH*kW, L)
    return cols.amax(dim=1).view(B, C, H_out, W_out)


def receptive_field(layers) -> int:
    r"""Receptive field of a stack of convolution or pooling layers.

    Each layer grows the field by :math:`(k_\text{eff} - 1) \cdot j`, where
    :math:`k_\text{eff} = d(k - 1) + 1` and :math:`j` is the product of the strides
    of the layers below it (the "jump" between neighbouring outputs).

    Parameters
    ----------
    layers : sequence of tuple
        ``(kernel, stride)`` or ``(kernel, stride, dilation)`` per layer, input first.

    Returns
    -------
    int
        Number of input pixels (along one axis) that one output unit sees.

    Raises
    ------
    ValueError
        If a layer is not a tuple of 2 or 3 positive ints.

    References
    ----------
    .. [1] Araujo et al., "Computing receptive fields of convolutional neural
       networks", Distill, 2019.

    Examples
    --------
    >>> from fmref.nn.conv import receptive_field
    >>> receptive_field([(3, 1)] * 3)  # three 3x3 convs see as far as one 7x7
    7
    >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])  # dilations 1, 2, 4 (WaveNet style)
    15
    """
    rf, jump = 1, 1
    for layer in layers:
        if not (
            isinstance(layer, tuple)
            and len(layer) in (2, 3)
            and all(isinstance(v, int) and v >= 1 for v in layer)
        ):
            raise ValueError(
                f"layers must hold (kernel, stride[, dilation]) tuples of positive ints, "
                f"got {layer!r}"
            )
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) == 3 else 1
        rf += d * (k - 1) * jump
        jump *= s
    return rf


class Conv2d(nn.Module):
    """A 2-D convolution layer running :func:`conv2d`; names as in :class:`torch.nn.Conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size : int or tuple of int
        Kernel height and width.
    stride, padding, dilation : int or tuple of int
        As in :func:`conv2d`.
    bias : bool
        Whether to add a bias (default True).

    Raises
    ------
    ValueError
        If a channel count is not positive.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.conv import Conv2d
    >>> ours, theirs = Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(3, 8, 3, padding=1)
    >>> _ = ours.load_state_dict(theirs.state_dict())
    >>> x = torch.randn(1, 3, 5, 5)
    >>> torch.allclose(ours(x), theirs(x), atol=1e-5)
    True
    """

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True
    ):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}"
            )
        kH, kW = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kH, kW))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        # torch's default: kaiming_uniform(a=sqrt(5)) i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1.0 / math.sqrt(in_channels * kH * kW)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


@dataclass
class CNNConfig:
    """Settings of :class:`SmallCNN`.

    Examples
    --------
    >>> from fmref.nn.conv import CNNConfig
    >>> CNNConfig().image_size
    8
    """

    in_channels: int = 1  # 1 for grey-scale digits
    image_size: int = 8  # height = width of the input (scikit-learn digits are 8x8)
    channels: tuple = (16, 32)  # output channels of the two conv blocks
    n_classes: int = 10  # digits 0-9

    def __post_init__(self):
        for name in ("in_channels", "image_size", "n_classes"):
            check_positive_int(name, getattr(self, name))


class SmallCNN(nn.Module):
    """Two conv blocks (3x3 conv, ReLU, 2x2 max pool) and a linear classifier.

    Parameters
    ----------
    config : CNNConfig, optional
        Sizes; defaults fit scikit-learn's 8x8 digits.

    Raises
    ------
    ValueError
        If ``image_size`` is not divisible by 4 (two 2x2 pools).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.conv import SmallCNN
    >>> model = SmallCNN()
    >>> model(torch.randn(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    >>> sum(p.numel() for p in model.parameters())  # 160 + 4,640 + 1,290
    6090
    """

    def __init__(self, config: CNNConfig | None = None):
        super().__init__()
        check_instance("config", CNNConfig() if config is None else config, CNNConfig)
        self.config = c = config or CNNConfig()
        if c.image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {c.image_size}")
        c1, c2 = c.channels
        self.conv1 = Conv2d(c.in_channels, c1, 3, padding=1)
        self.conv2 = Conv2d(c1, c2, 3, padding=1)
        self.head = nn.Linear(c2 * (c.image_size // 4) ** 2, c.n_classes)

    def forward(self, x):
        x = max_pool2d(torch.relu(self.conv1(x)), 2)  # (B, c1, H/2, W/2)
        x = max_pool2d(torch.relu(self.conv2(x)), 2)  # (B, c2, H/4, W/4)
        return self.head(x.flatten(1))  # (B, n_classes)
