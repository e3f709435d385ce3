"""Tests for fmref.nn.conv: equivalence with torch.nn.functional and golden receptive fields."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.nn.conv import (
    CNNConfig,
    Conv2d,
    SmallCNN,
    conv2d,
    conv_output_size,
    max_pool2d,
    receptive_field,
)


@pytest.mark.parametrize("stride", [1, 2, (1, 3)])
@pytest.mark.parametrize("padding", [0, 1, (2, 0)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv2d_matches_torch_across_stride_padding_dilation(stride, padding, dilation):
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 3, 9, 10), torch.randn(4, 3, 3, 2), torch.randn(4)
    ours = conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    theirs = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(4, 12),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
)
def test_output_size_formula_agrees_with_torch(size, k, s, p, d):
    if d * (k - 1) + 1 > size + 2 * p:
        with pytest.raises(ValueError, match="kernel"):
            conv_output_size(size, k, s, p, d)
        return
    out = F.conv2d(
        torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
    )
    assert out.shape[-1] == conv_output_size(size, k, s, p, d)


@pytest.mark.parametrize(
    "kernel,stride,padding", [(2, None, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), 0)]
)
def test_max_pool2d_matches_torch(kernel, stride, padding):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 8)
    torch.testing.assert_close(
        max_pool2d(x, kernel, stride, padding), F.max_pool2d(x, kernel, stride, padding)
    )


def test_conv_layer_and_gradients_match_torch():
    torch.manual_seed(0)
    ours, theirs = (
        Conv2d(2, 5, (3, 2), stride=2, padding=1),
        torch.nn.Conv2d(2, 5, (3, 2), stride=2, padding=1),
    )
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 2, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    ours(x).square().sum().backward()
    theirs(x).square().sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, atol=1e-4, rtol=1e-4)
    assert Conv2d(2, 5, 3, bias=False).bias is None


def test_conv_is_translation_equivariant():
    # Weight sharing: shifting the input shifts the output by the same amount.
    torch.manual_seed(0)
    x, w = torch.zeros(1, 1, 10, 10), torch.randn(1, 1, 3, 3)
    x[0, 0, 3, 3] = 1.0
    y = conv2d(x, w, padding=1)
    y_shifted = conv2d(torch.roll(x, (2, 1), dims=(2, 3)), w, padding=1)
    torch.testing.assert_close(torch.roll(y, (2, 1), dims=(2, 3)), y_shifted)


def test_receptive_field_golden_values():
    # Simonyan & Zisserman (VGG, 2015), sec. 2.3: two 3x3 convs = 5x5, three = 7x7.
    assert receptive_field([(3, 1)] * 2) == 5
    assert receptive_field([(3, 1)] * 3) == 7
    # AlexNet conv1 (11, stride 4) + pool (3, stride 2): 11 + 2*4 = 19.
    assert receptive_field([(11, 4), (3, 2)]) == 19
    # WaveNet (van den Oord et al. 2016): kernel 2, dilations 1..512 -> 1024.
    assert receptive_field([(2, 1, 2**i) for i in range(10)]) == 1024
    assert receptive_field([]) == 1


def test_receptive_field_matches_gradient_support():
    # The receptive field is where the gradient of one output is non-zero.
    torch.manual_seed(0)
    layers = [(3, 1, 1), (3, 2, 1), (3, 1, 2)]
    x = torch.randn(1, 1, 40, 40, requires_grad=True)
    h = x
    for k, s, d in layers:
        h = conv2d(h, torch.rand(1, 1, k, k) + 0.1, stride=s, dilation=d)
    h[0, 0, 3, 3].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    assert rows.max() - rows.min() + 1 == receptive_field(layers)


def test_small_cnn_shapes_and_config():
    model = SmallCNN(CNNConfig(in_channels=3, image_size=16, channels=(4, 8), n_classes=5))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)


def test_bad_input_raises_naming_the_argument():
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="kernel"):
        conv2d(x, torch.randn(2, 3, 5, 5))  # kernel larger than the input
    with pytest.raises(ValueError, match="kernel"):
        conv2d(x, torch.randn(2, 3, 3, 3), dilation=3)  # dilated kernel 7 > 4
    conv2d(x, torch.randn(2, 3, 5, 5), padding=1)  # fits once padded
    with pytest.raises(ValueError, match="C_in"):
        conv2d(x, torch.randn(2, 2, 3, 3))
    with pytest.raises(ValueError, match="x must"):
        conv2d(x[0], torch.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="weight must"):
        conv2d(x, torch.randn(2, 3, 3))
    with pytest.raises(TypeError, match="stride"):
        conv2d(x, torch.randn(2, 3, 3, 3), stride=1.5)
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(4, 3, stride=0)
    with pytest.raises(ValueError, match="dilation"):
        conv_output_size(4, 3, dilation=0)
    with pytest.raises(ValueError, match="padding"):
        conv_output_size(4, 3, padding=-1)
    with pytest.raises(ValueError, match="x must"):
        max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="kernel"):
        max_pool2d(x, 5)
    with pytest.raises(ValueError, match="layers"):
        receptive_field([(3,)])
    with pytest.raises(ValueError, match="layers"):
        receptive_field([(3, 0)])
    with pytest.raises(ValueError, match="in_channels"):
        Conv2d(0, 2, 3)
    with pytest.raises(ValueError, match="image_size"):
        SmallCNN(CNNConfig(image_size=10))
