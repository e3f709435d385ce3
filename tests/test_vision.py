"""Tests of fmref.vision: layouts, normalisation, patches and the sliding filter."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fmref.vision import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    denormalize,
    filter2d,
    normalize,
    patchify,
    sample_image,
    to_tensor,
    unpatchify,
)


def test_to_tensor_moves_channels_first_and_scales():
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = to_tensor(pixels)
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    assert t[2, 4, 6].item() == pytest.approx(pixels[4, 6, 2] / 255)
    assert to_tensor(pixels[..., 0]).shape == (1, 5, 7)  # grey


def test_to_tensor_bad_input_raises():
    with pytest.raises(TypeError, match="image must be uint8"):
        to_tensor(np.zeros((2, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="image must have shape"):
        to_tensor(np.zeros((2, 2, 3, 1), dtype=np.uint8))


def test_normalize_gives_zero_mean_unit_std_per_channel():
    x = torch.rand(4, 3, 8, 8)
    mean = x.mean(dim=(0, 2, 3)).tolist()
    std = x.std(dim=(0, 2, 3)).tolist()
    z = normalize(x, mean, std)
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(denormalize(z, mean, std), x)


def test_normalize_imagenet_defaults_match_formula():
    x = torch.rand(3, 2, 2)
    expected = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[
        :, None, None
    ]
    torch.testing.assert_close(normalize(x), expected)


def test_normalize_bad_input_raises():
    with pytest.raises(ValueError, match="mean must have one value per channel"):
        normalize(torch.rand(1, 2, 2), mean=(0.5, 0.5, 0.5), std=(1.0,))
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(torch.rand(3, 2, 2), std=(1.0, 0.0, 1.0))
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        normalize(torch.zeros(3, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"images must have shape \(\.\.\., C, H, W\)"):
        normalize(torch.rand(2, 2))
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        denormalize(torch.zeros(3, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="images must have shape"):
        denormalize(torch.rand(2))


def test_patchify_matches_conv_patch_embedding():
    # ViT's patch embedding is a Conv2d with kernel = stride = p; patchify + matmul equals it
    x = torch.randn(2, 3, 16, 24)
    conv = torch.nn.Conv2d(3, 10, kernel_size=4, stride=4, bias=False)
    expected = conv(x).flatten(2).transpose(1, 2)  # (B, N, D)
    got = patchify(x, 4) @ conv.weight.reshape(10, -1).T
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_patch_order_is_row_major():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    p = patchify(x, 2)
    assert p[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


def test_unpatchify_inverts_patchify():
    x = torch.randn(3, 2, 12, 8)
    torch.testing.assert_close(unpatchify(patchify(x, 4), 4, (12, 8)), x)
    sq = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(unpatchify(patchify(sq, 2), 2, 8), sq)


def test_patchify_bad_input_raises():
    with pytest.raises(ValueError, match="patch_size must be a positive int dividing"):
        patchify(torch.rand(1, 3, 10, 10), 3)
    with pytest.raises(ValueError, match=r"images must have shape \(B, C, H, W\)"):
        patchify(torch.rand(3, 8, 8), 2)
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        patchify(torch.zeros(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="patches must be a tensor"):
        unpatchify(torch.rand(4, 12), 2, 4)
    with pytest.raises(ValueError, match="patch_size must be a positive int"):
        unpatchify(torch.rand(1, 4, 12), 3, 4)
    with pytest.raises(ValueError, match="do not fit"):
        unpatchify(torch.rand(1, 5, 12), 2, 4)


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_filter2d_equals_depthwise_conv2d(padding):
    x = torch.randn(2, 3, 9, 11)
    k = torch.randn(3, 5)
    expected = F.conv2d(x, k.expand(3, 1, 3, 5), padding=padding, groups=3)
    torch.testing.assert_close(filter2d(x, k, padding), expected, atol=1e-5, rtol=1e-5)


def test_filter2d_box_blur_keeps_constant_image():
    x = torch.full((1, 1, 6, 6), 0.7)
    out = filter2d(x, torch.full((3, 3), 1 / 9))
    torch.testing.assert_close(out, torch.full((1, 1, 4, 4), 0.7))


def test_filter2d_bad_input_raises():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(TypeError, match="kernel must be a floating-point tensor"):
        filter2d(x, torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="kernel must have shape"):
        filter2d(x, torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        filter2d(x, torch.ones(3, 3), padding=-1)
    with pytest.raises(ValueError, match="kernel .* must fit"):
        filter2d(x, torch.ones(5, 5))


def test_sample_image_is_deterministic_rgb_in_unit_range():
    a, b = sample_image(40), sample_image(40)
    assert torch.equal(a, b) and a.shape == (3, 40, 40)
    assert 0 <= a.min() and a.max() <= 1
    assert a.std(dim=(1, 2)).min() > 0.05  # not a flat picture
    with pytest.raises(ValueError, match="size must be an int >= 8"):
        sample_image(4)
