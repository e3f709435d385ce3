"""Tests of fmref.compress.fp8: round trips equal to torch's float8 casts, rounding to the
nearest representable value (checked against every bit pattern of the format), per-block
scales as in DeepSeek-V3, and the FP8 linear layer."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.nn import functional as F

from fmref.compress.fp8 import FP8_FORMATS, FP8Linear, dequantize_fp8, quantize_fp8

FORMATS = sorted(FP8_FORMATS)


def representable(fmt):
    """Every finite value of the format, from its 256 bit patterns."""
    values = torch.arange(256, dtype=torch.uint8).view(FP8_FORMATS[fmt]).float()
    return values[values.isfinite()].unique()  # (n,) sorted


@settings(max_examples=40, deadline=None)
@given(
    x=arrays("float32", st.integers(1, 40), elements=st.floats(-1, 1, width=32)),
    fmt=st.sampled_from(FORMATS),
)
def test_per_tensor_round_trip_equals_torchs_cast(x, fmt):
    dtype, fmax = FP8_FORMATS[fmt], torch.finfo(FP8_FORMATS[fmt]).max
    x = torch.from_numpy(x)
    x[0] = 1.0
    x = x * fmax  # amax = fmax: scale 1, so quantize_fp8 must be exactly torch's cast
    values, scale = quantize_fp8(x, fmt)
    assert scale.item() == 1.0 and values.dtype == dtype
    assert torch.equal(values.view(torch.uint8), x.to(dtype).view(torch.uint8))
    assert torch.equal(dequantize_fp8(values, scale), x.to(dtype).float())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("group_size", [None, 8, (4, 8)])
def test_fp8_rounds_every_value_to_a_nearest_representable_value(fmt, group_size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 32, generator=g) * torch.logspace(-3, 2, 32)  # many magnitudes
    values, scale = quantize_fp8(x, fmt, group_size)
    ones = torch.ones(values.shape).to(values.dtype)
    per_value = scale if scale.dim() == 0 else dequantize_fp8(ones, scale)  # each value's scale
    y = (x / per_value).flatten()  # what was cast
    grid = representable(fmt)
    nearest = (y[:, None] - grid[None, :]).abs().min(dim=1).values
    got = values.float().flatten()
    assert torch.all((got - y).abs() <= nearest * (1 + 1e-6))  # no closer level exists
    assert torch.all(torch.isin(got, grid))


@pytest.mark.parametrize("fmt", FORMATS)
def test_block_scales_map_every_block_onto_the_formats_range(fmt):
    fmax = torch.finfo(FP8_FORMATS[fmt]).max
    x = torch.randn(64, 96, generator=torch.Generator().manual_seed(1))
    values, scale = quantize_fp8(x, fmt, group_size=(32, 32))  # DeepSeek-V3's 128x128, smaller
    assert scale.shape == (2, 3)
    block_max = values.float().abs().reshape(2, 32, 3, 32).amax(dim=(1, 3))
    assert torch.all(block_max == fmax)
    torch.testing.assert_close(scale, x.abs().reshape(2, 32, 3, 32).amax(dim=(1, 3)) / fmax)
    # relative error of a normal number: at most half a unit in the last place
    mantissa = {"e4m3": 3, "e5m2": 2}[fmt]
    x_hat = dequantize_fp8(values, scale)
    normal = values.float().abs() >= torch.finfo(FP8_FORMATS[fmt]).smallest_normal
    rel = ((x_hat - x).abs() / x.abs())[normal]
    assert rel.max() <= 2.0 ** -(mantissa + 1)


def test_per_block_scales_survive_an_outlier_that_per_tensor_scaling_does_not():
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(2)) * 1e-3
    x[0, 0] = 1e4  # one outlier: per tensor, the other values fall below E4M3's subnormals
    err = {}
    for name, group in (("tensor", None), ("block", (16, 16)), ("tile", 16)):
        x_hat = dequantize_fp8(*quantize_fp8(x, "e4m3", group))
        err[name] = ((x_hat - x)[16:].norm() / x[16:].norm()).item()  # outside its block
    assert err["tensor"] == 1.0, err  # every other value rounds to 0
    assert err["block"] < 0.04 and err["tile"] < 0.04, err  # E4M3's relative error, < 2^-4


def test_fp8_linear_is_the_float_product_of_its_dequantised_operands():
    g = torch.Generator().manual_seed(3)
    linear = torch.nn.Linear(64, 32)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(32, 64, generator=g))
    x = torch.randn(2, 5, 64, generator=g)
    w8 = FP8Linear.from_linear(linear, group_size=(16, 16))
    assert w8.values.dtype == torch.float8_e4m3fn and w8.weight_nbytes() == 32 * 64 + 4 * 8
    w_hat = dequantize_fp8(*quantize_fp8(linear.weight, "e4m3", (16, 16)))
    assert torch.equal(w8(x), F.linear(x, w_hat, linear.bias))
    w8a8 = FP8Linear.from_linear(linear, group_size=(16, 16), quantize_input=True)
    x_hat = dequantize_fp8(*quantize_fp8(x, "e4m3", 64))  # one scale per token
    assert torch.equal(w8a8(x), F.linear(x_hat, w_hat, linear.bias))
    exact = linear(x)
    rel = {}
    for fmt in FORMATS:
        layer = FP8Linear.from_linear(linear, fmt=fmt, quantize_input=True, input_group_size=16)
        rel[fmt] = ((layer(x) - exact).norm() / exact.norm()).item()
    assert rel["e4m3"] < rel["e5m2"] < 0.1, rel  # one more mantissa bit, half the error


@pytest.mark.skipif(not hasattr(torch, "_scaled_mm"), reason="torch without _scaled_mm")
@pytest.mark.parametrize("fmt", FORMATS)
def test_fp8_linear_w8a8_equals_torchs_scaled_mm(fmt):
    # torch._scaled_mm is the FP8 GEMM that torchao and vLLM call (fp32 accumulation, one scale
    # per row of each operand); on the CPU it runs in torch 2.13
    g = torch.Generator().manual_seed(4)
    linear = torch.nn.Linear(64, 32)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(32, 64, generator=g))
    x = torch.randn(6, 64, generator=g) * torch.logspace(-1, 1, 6)[:, None]  # tokens of any size
    layer = FP8Linear.from_linear(linear, fmt=fmt, group_size=(1, 64), quantize_input=True)
    x8, x_scale = quantize_fp8(x, fmt, group_size=64)  # (6, 64), (6, 1): one scale per token
    reference = torch._scaled_mm(x8, layer.values.t(), scale_a=x_scale, scale_b=layer.scale.t(),
                                 out_dtype=torch.float32) + linear.bias  # fmt: skip
    assert torch.allclose(layer(x), reference, rtol=1e-5, atol=1e-5)


def test_fp8_refuses_bad_input():
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match="fmt must be one of"):
        quantize_fp8(x, "e3m4")
    with pytest.raises(ValueError, match="group_size must be None, a positive int"):
        quantize_fp8(x, group_size=3)
    with pytest.raises(ValueError, match="group_size"):
        quantize_fp8(x, group_size=(4, 8, 1))
    with pytest.raises(TypeError, match="values must be an FP8 tensor"):
        dequantize_fp8(x, torch.tensor(1.0))
    values, _ = quantize_fp8(x)
    with pytest.raises(ValueError, match="scale must be 0-d or tile values"):
        dequantize_fp8(values, torch.ones(3, 1))
    with pytest.raises(ValueError, match="input_group_size"):
        FP8Linear(torch.randn(4, 8), input_group_size=3)
