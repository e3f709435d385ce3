"""Images as tensors: layout, normalisation, patches and a sliding filter.

A colour image is a 3-D array of numbers: height x width x 3 channels of
8-bit intensities as files and NumPy store it (HWC), channels first as PyTorch
stores it (CHW), with a batch dimension in front for a model: ``(B, C, H, W)``.
Models see it normalised per channel to mean 0 and standard deviation 1.

Two ways to feed an image to a network meet here. A Vision Transformer cuts it
into non-overlapping ``p x p`` patches and flattens each into a vector, a
"token" of ``C * p * p`` numbers (:func:`patchify`). A convolutional network
slides a small kernel over every position (:func:`filter2d`), the bridge to
Chapter III's :func:`fmref.nn.conv.conv2d`.

References
----------
.. [1] Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for
   Image Recognition at Scale", ICLR 2021.
.. [2] LeCun et al., "Gradient-based learning applied to document
   recognition", Proc. IEEE, 1998.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from fmref._validate import check_positive_int

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "sample_image",
    "to_tensor",
    "normalize",
    "denormalize",
    "patchify",
    "unpatchify",
    "filter2d",
]

#: Per-channel (R, G, B) mean of ImageNet's training images in [0, 1], as
#: torchvision and timm use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
#: Per-channel (R, G, B) standard deviation of ImageNet's training images.
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_images(images: object, argname: str = "images") -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(f"{argname} must be a floating-point tensor")
    if images.dim() != 4:
        raise ValueError(f"{argname} must have shape (B, C, H, W), got {tuple(images.shape)}")
    return images


def sample_image(size: int = 64) -> torch.Tensor:
    """A small synthetic RGB picture: sky, sun, hill and a house (no download).

    Parameters
    ----------
    size : int, optional
        Height and width in pixels (default 64, at least 8).

    Returns
    -------
    torch.Tensor
        ``(3, size, size)`` float32 in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``size`` is below 8.

    Examples
    --------
    >>> from fmref.vision import sample_image
    >>> img = sample_image(32)
    >>> img.shape, img.dtype
    (torch.Size([3, 32, 32]), torch.float32)
    >>> bool(img.min() >= 0), bool(img.max() <= 1)
    (True, True)
    """
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    img = torch.stack([0.35 + 0.3 * y, 0.6 + 0.3 * y, torch.full_like(y, 0.95)])  # sky
    sun = (x - 0.75) ** 2 + (y - 0.22) ** 2 < 0.12**2
    img[:, sun] = torch.tensor([1.0, 0.85, 0.2])[:, None]
    hill = y > 0.65 + 0.08 * torch.sin(6 * x)
    img[:, hill] = torch.stack([0.2 + 0.1 * y, 0.55 - 0.2 * y, 0.2 * y])[:, hill]
    wall = (x > 0.15) & (x < 0.45) & (y > 0.5) & (y < 0.75)
    img[:, wall] = torch.tensor([0.8, 0.3, 0.25])[:, None]
    roof = (y > 0.32) & (y <= 0.5) & ((x - 0.3).abs() < (y - 0.32) * 0.95)
    img[:, roof] = torch.tensor([0.35, 0.2, 0.15])[:, None]
    return img.clamp(0, 1)


def to_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An 8-bit image as stored in files, ``(H, W, C)`` or ``(H, W)``, to ``(C, H, W)`` floats.

    Parameters
    ----------
    image : numpy.ndarray or torch.Tensor
        ``uint8`` pixels in ``[0, 255]``, channels last; a 2-D array is one
        grey channel.

    Returns
    -------
    torch.Tensor
        ``(C, H, W)`` float32 in ``[0, 1]``.

    Raises
    ------
    TypeError
        If ``image`` is not ``uint8``.
    ValueError
        If ``image`` is not 2-D or 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from fmref.vision import to_tensor
    >>> pixels = np.zeros((4, 6, 3), dtype=np.uint8)  # (H, W, C) as in a PNG
    >>> pixels[..., 0] = 255  # pure red
    >>> t = to_tensor(pixels)
    >>> t.shape, t[:, 0, 0]
    (torch.Size([3, 4, 6]), tensor([1., 0., 0.]))
    """
    t = torch.as_tensor(np.asarray(image))
    if t.dtype != torch.uint8:
        raise TypeError(f"image must be uint8 (0-255), got {t.dtype}")
    if t.dim() == 2:
        t = t[:, :, None]  # (H, W, 1)
    if t.dim() != 3:
        raise ValueError(f"image must have shape (H, W, C) or (H, W), got {tuple(t.shape)}")
    return t.permute(2, 0, 1).float().div(255.0)  # (C, H, W)


def _stats(values: Sequence[float], images: torch.Tensor, argname: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=images.dtype, device=images.device)
    if t.dim() != 1 or t.numel() != images.shape[-3]:
        raise ValueError(
            f"{argname} must have one value per channel ({images.shape[-3]}), got {t.numel()}"
        )
    return t[:, None, None]  # (C, 1, 1), broadcasts over (..., C, H, W)


def normalize(
    images: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Standardise each channel: ``(x - mean) / std``.

    Parameters
    ----------
    images : torch.Tensor
        ``(..., C, H, W)`` floats in ``[0, 1]``.
    mean, std : sequence of float, optional
        One value per channel (default ImageNet's); ``std`` must be positive.

    Returns
    -------
    torch.Tensor
        The normalised images, same shape.

    Raises
    ------
    TypeError
        If ``images`` is not a floating-point tensor.
    ValueError
        If ``mean`` or ``std`` does not have one value per channel, or a ``std`` is not positive.

    Examples
    --------
    >>> import torch
    >>> from fmref.vision import normalize
    >>> grey = torch.full((3, 2, 2), 0.5)
    >>> normalize(grey)[:, 0, 0]
    tensor([0.0655, 0.1964, 0.4178])
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError("images must be a floating-point tensor")
    if images.dim() < 3:
        raise ValueError(f"images must have shape (..., C, H, W), got {tuple(images.shape)}")
    s = _stats(std, images, "std")
    if not bool((s > 0).all()):
        raise ValueError(f"std must be positive, got {list(std)}")
    return (images - _stats(mean, images, "mean")) / s


def denormalize(
    images: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Undo :func:`normalize`: ``x * std + mean``.

    Parameters
    ----------
    images : torch.Tensor
        ``(..., C, H, W)`` normalised floats.
    mean, std : sequence of float, optional
        The values :func:`normalize` used.

    Returns
    -------
    torch.Tensor
        The images in their original range.

    Raises
    ------
    TypeError
        If ``images`` is not a floating-point tensor.
    ValueError
        If ``mean`` or ``std`` does not have one value per channel.

    Examples
    --------
    >>> import torch
    >>> from fmref.vision import normalize, denormalize, sample_image
    >>> img = sample_image(16)
    >>> torch.allclose(denormalize(normalize(img)), img, atol=1e-6)
    True
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError("images must be a floating-point tensor")
    if images.dim() < 3:
        raise ValueError(f"images must have shape (..., C, H, W), got {tuple(images.shape)}")
    return images * _stats(std, images, "std") + _stats(mean, images, "mean")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches, one flat vector per patch.

    Patches are numbered row by row; each vector holds its pixels in
    ``(C, p, p)`` order, the order of a ``Conv2d(C, D, p, stride=p)`` weight
    flattened, so ``patchify(x, p) @ w.reshape(D, -1).T`` is ViT's patch
    embedding.

    Parameters
    ----------
    images : torch.Tensor
        ``(B, C, H, W)`` floats; ``H`` and ``W`` divisible by ``patch_size``.
    patch_size : int
        Side ``p`` of a patch.

    Returns
    -------
    torch.Tensor
        ``(B, N, C * p * p)`` with ``N = (H / p) * (W / p)``.

    Raises
    ------
    TypeError
        If ``images`` is not a floating-point tensor.
    ValueError
        If ``images`` is not 4-D, or ``patch_size`` is not a positive divisor of ``H`` and ``W``.

    References
    ----------
    .. [1] Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.vision import patchify
    >>> images = torch.zeros(2, 3, 224, 224)
    >>> patchify(images, 16).shape  # ViT-B/16: 196 tokens of 768 numbers
    torch.Size([2, 196, 768])
    """
    B, C, H, W = _check_images(images).shape
    check_positive_int("patch_size", patch_size)
    if H % patch_size or W % patch_size:
        raise ValueError(
            f"patch_size must be a positive int dividing H={H} and W={W}, got {patch_size!r}"
        )
    p = patch_size
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, h, p, w, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, h, w, C, p, p)
    return x.reshape(B, (H // p) * (W // p), C * p * p)  # (B, N, C*p*p)


def unpatchify(
    patches: torch.Tensor, patch_size: int, image_size: int | tuple[int, int]
) -> torch.Tensor:
    """Put patches from :func:`patchify` back together into images.

    Parameters
    ----------
    patches : torch.Tensor
        ``(B, N, C * p * p)``.
    patch_size : int
        Side ``p`` of a patch.
    image_size : int or (int, int)
        ``H`` (and ``W``) of the images; an int means square.

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)``.

    Raises
    ------
    ValueError
        If the shapes do not fit together.

    Examples
    --------
    >>> import torch
    >>> from fmref.vision import patchify, unpatchify
    >>> x = torch.randn(2, 3, 8, 12)
    >>> torch.equal(unpatchify(patchify(x, 4), 4, (8, 12)), x)
    True
    """
    if not isinstance(patches, torch.Tensor) or patches.dim() != 3:
        raise ValueError("patches must be a tensor of shape (B, N, C * p * p)")
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    p = patch_size
    if not isinstance(p, int) or p < 1 or H % p or W % p:
        raise ValueError(f"patch_size must be a positive int dividing {H} and {W}, got {p!r}")
    B, N, D = patches.shape
    if N != (H // p) * (W // p) or D % (p * p):
        raise ValueError(
            f"patches of shape {tuple(patches.shape)} do not fit image_size {(H, W)} "
            f"with patch_size {p}"
        )
    C = D // (p * p)
    x = patches.reshape(B, H // p, W // p, C, p, p)  # (B, h, w, C, p, p)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, h, p, w, p)
    return x.reshape(B, C, H, W)


def filter2d(images: torch.Tensor, kernel: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Slide one small kernel over every channel of every image (a depthwise convolution).

    Written as a sum of shifted copies of the image, one per kernel entry,
    which is what a convolution is: ``out[i, j] = sum_{u,v} k[u, v] x[i+u, j+v]``
    (cross-correlation, as in every deep-learning library). Equal to
    ``torch.nn.functional.conv2d(images, kernel.expand(C, 1, kH, kW), groups=C)``.

    Parameters
    ----------
    images : torch.Tensor
        ``(B, C, H, W)`` floats.
    kernel : torch.Tensor
        ``(kH, kW)`` weights, the same for every channel.
    padding : int, optional
        Zeros added on each side first (default 0); ``(k - 1) // 2`` keeps the size
        for an odd ``k``.

    Returns
    -------
    torch.Tensor
        ``(B, C, H + 2 padding - kH + 1, W + 2 padding - kW + 1)``.

    Raises
    ------
    TypeError
        If ``images`` or ``kernel`` is not a floating-point tensor.
    ValueError
        If ``kernel`` is not 2-D, ``padding`` is negative or the kernel is larger
        than the padded image.

    Examples
    --------
    >>> import torch
    >>> from fmref.vision import filter2d
    >>> step = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3)[None, None]  # (1, 1, 3, 4): dark | bright
    >>> sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    >>> filter2d(step, sobel_x)  # responds where brightness changes left to right
    tensor([[[[4., 4.]]]])
    """
    B, C, H, W = _check_images(images).shape
    if not isinstance(kernel, torch.Tensor) or not kernel.is_floating_point():
        raise TypeError("kernel must be a floating-point tensor")
    if kernel.dim() != 2:
        raise ValueError(f"kernel must have shape (kH, kW), got {tuple(kernel.shape)}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    kH, kW = kernel.shape
    x = torch.nn.functional.pad(images, (padding,) * 4)  # (B, C, H + 2p, W + 2p)
    oH, oW = x.shape[-2] - kH + 1, x.shape[-1] - kW + 1
    if oH < 1 or oW < 1:
        raise ValueError(f"kernel {(kH, kW)} must fit in the padded image {tuple(x.shape[-2:])}")
    out = x.new_zeros(B, C, oH, oW)
    for u in range(kH):  # one shifted copy per kernel entry
        for v in range(kW):
            out += kernel[u, v] * x[:, :, u : u + oH, v : v + oW]
    return out
