"""Tests of GPTQ, AWQ and round-to-nearest (fmref.compress.gptq, fmref.compress.awq) and
of their use on a whole model (fmref.compress.apply).

GPTQ is checked against a straightforward implementation of the same algorithm written
here from the paper's equations: one column at a time, the explicit inverse Hessian
updated by Gaussian elimination after each column (Frantar et al. 2022, eq. 2-3), no
Cholesky factor and no lazy batches.
"""

import pytest
import torch

from fmref.compress.apply import compress_weights
from fmref.compress.awq import awq_quantize, awq_scales
from fmref.compress.gptq import gptq_quantize, rtn_quantize
from fmref.compress.quant import quantize_zeropoint


def correlated(n_samples, width, seed, dtype=torch.float64):
    """Calibration inputs whose features are strongly correlated (a random mixing)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, width, generator=g, dtype=dtype)
    mix = torch.randn(width, width, generator=g, dtype=dtype) / width**0.5
    return z @ mix + 0.3 * torch.randn(n_samples, 1, generator=g, dtype=dtype)  # + a shared part


def grid(w, bits):
    """GPTQ's min-max grid of each row (scale, zero point), as float64."""
    _, scale, zero = quantize_zeropoint(w, bits, dim=1)
    return scale.double(), zero.double()


def gptq_reference(w, x, bits, group_size, act_order, damp=0.01):
    """Optimal Brain Quantisation in GPTQ's fixed column order, without any of its speed-ups."""
    W = w.clone()
    n = W.shape[1]
    g = group_size or n
    maxq = 2**bits - 1
    H = 2 / x.shape[0] * x.T @ x
    H += damp * H.diagonal().mean() * torch.eye(n, dtype=H.dtype)
    Hinv = torch.linalg.inv(H)
    static = act_order or group_size is None
    grids = {k: grid(w[:, k * g : (k + 1) * g], bits) for k in range(n // g)} if static else {}
    order = torch.argsort(H.diagonal(), descending=True).tolist() if act_order else range(n)
    codes = torch.zeros_like(W)
    remaining = list(order)
    for j in order:
        if not static and j % g == 0:
            grids[j // g] = grid(W[:, j : j + g], bits)  # from the weights updated so far
        scale, zero = grids[j // g]
        q = torch.clamp(torch.round(W[:, j] / scale[:, 0]) + zero[:, 0], 0, maxq)
        deq = (q - zero[:, 0]) * scale[:, 0]
        remaining.remove(j)
        W[:, remaining] -= ((W[:, j] - deq) / Hinv[j, j])[:, None] * Hinv[j, remaining][None, :]
        W[:, j], codes[:, j] = deq, q
        Hinv = Hinv - Hinv[:, j : j + 1] @ Hinv[j : j + 1, :] / Hinv[j, j]  # remove j
    return W, codes


def output_error(w_hat, w, x):
    return ((x @ (w_hat - w).T).norm() / (x @ w.T).norm()).item()


# --------------------------------------------------------------------------- GPTQ
@pytest.mark.parametrize("group_size", [8, None])
@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_equals_the_column_by_column_obq_reference(group_size, act_order):
    x = correlated(200, 32, seed=1)
    w = torch.randn(12, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    # lazy batches of 5 columns do not line up with the groups of 8
    w_hat, codes, scales, zeros = gptq_quantize(
        w, x, bits=3, group_size=group_size, act_order=act_order, return_codes=True, lazy_columns=5
    )
    w_ref, codes_ref = gptq_reference(w, x, 3, group_size, act_order)
    assert torch.equal(codes.double(), codes_ref)
    torch.testing.assert_close(w_hat, w_ref, rtol=0, atol=1e-12)
    # the codes, scales and zero points stand for w_hat, group by group
    g = group_size or 32
    codes, scales, zeros = codes.double(), scales.double(), zeros.double()
    deq = (codes.reshape(12, -1, g) - zeros[..., None]) * scales[..., None]
    torch.testing.assert_close(deq.reshape(12, 32), w_hat, rtol=0, atol=1e-6)
    # and the lazy batch width changes nothing
    lazy = gptq_quantize(w, x, 3, group_size, act_order=act_order)  # lazy_columns=128
    torch.testing.assert_close(lazy, w_hat, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("group_size", [16, None])
def test_gptq_output_error_is_below_rtn_on_correlated_inputs(bits, group_size):
    ratios = []
    for seed in range(4):
        x = correlated(256, 64, seed=seed, dtype=torch.float32)
        w = torch.randn(48, 64, generator=torch.Generator().manual_seed(100 + seed))
        rtn = output_error(rtn_quantize(w, bits, group_size), w, x)
        ratios.append(output_error(gptq_quantize(w, x, bits, group_size), w, x) / rtn)
        held_out = correlated(256, 64, seed=seed, dtype=torch.float32)  # same mixing, new samples
        assert output_error(gptq_quantize(w, x, bits, group_size), w, held_out) < rtn * 1.1
    # GPTQ minimises this error greedily; on these inputs it removes at least a quarter of it
    assert max(ratios) < 0.75, ratios


def test_gptq_equals_rtn_when_the_inputs_are_uncorrelated():
    # H diagonal: no error can be moved to another column, so GPTQ is round-to-nearest
    x = torch.eye(32, dtype=torch.float64) * 3
    w = torch.randn(8, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for group_size in (8, None):
        assert torch.equal(gptq_quantize(w, x, 4, group_size), rtn_quantize(w, 4, group_size))


def test_gptq_zeroes_the_weights_of_inputs_that_are_always_zero():
    x = correlated(100, 16, seed=0)
    x[:, 3] = 0
    w = torch.randn(4, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.all(gptq_quantize(w, x, 4, 8)[:, 3] == 0)


def test_rtn_codes_scales_and_zeros_reconstruct_its_output():
    w = torch.randn(6, 32, generator=torch.Generator().manual_seed(0))
    w_hat, codes, scales, zeros = rtn_quantize(w, 3, 8, return_codes=True)
    assert codes.dtype == torch.uint8 and int(codes.max()) <= 7 and scales.shape == (6, 4)
    deq = (codes.float().reshape(6, 4, 8) - zeros[..., None]) * scales[..., None]
    torch.testing.assert_close(deq.reshape(6, 32), w_hat)
    step = scales.repeat_interleave(8, dim=1)
    assert torch.all((w_hat - w).abs() <= step / 2 * (1 + 1e-5))  # nearest level


def test_gptq_and_rtn_refuse_bad_input():
    w, x = torch.randn(4, 16), torch.randn(8, 16)
    with pytest.raises(ValueError, match="bits must be one of"):
        gptq_quantize(w, x, bits=5)
    with pytest.raises(ValueError, match="group_size must be None or a positive int dividing"):
        gptq_quantize(w, x, group_size=6)
    with pytest.raises(ValueError, match="x_calib must hold at least one calibration sample"):
        gptq_quantize(w, x[:0])
    with pytest.raises(ValueError, match="x_calib must have in_features=16"):
        gptq_quantize(w, x[:, :8], group_size=None)
    with pytest.raises(ValueError, match="damp"):
        gptq_quantize(w, x, group_size=8, damp=0.0)
    with pytest.raises(ValueError, match="group_size"):
        rtn_quantize(w, 4, group_size=128)


# --------------------------------------------------------------------------- AWQ
def salient(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 64, generator=g)
    x[:, :3] *= 25  # a few input channels with large activations, as in LLMs
    return x, torch.randn(32, 64, generator=g)


@pytest.mark.parametrize("bits", [3, 4])
def test_awq_output_error_is_below_rtn_with_salient_channels(bits):
    for seed in range(3):
        x, w = salient(seed)
        rtn = output_error(rtn_quantize(w, bits, 32), w, x)
        awq = output_error(awq_quantize(w, x, bits, 32), w, x)
        assert awq < 0.8 * rtn, (awq, rtn)


def test_awq_scales_are_the_best_power_of_the_activation_magnitude_on_the_grid():
    x, w = salient(0)
    s = awq_scales(w, x, bits=3, group_size=32, grid=10)
    s_x = x.abs().mean(0)
    losses = {}
    for k in range(10):  # the search written out: every candidate of the grid
        c = s_x.pow(k / 10).clamp_min(1e-4)
        c = c / (c.max() * c.min()).sqrt()
        losses[k] = ((x @ (rtn_quantize(w * c, 3, 32) / c - w).T) ** 2).mean().item()
        if torch.allclose(c, s):
            chosen = k
    assert losses[chosen] == min(losses.values()) and chosen > 0
    # one candidate only (alpha = 0): AWQ is round-to-nearest
    assert torch.equal(awq_scales(w, x, 3, 32, grid=1), torch.ones(64))
    assert torch.equal(awq_quantize(w, x, 3, 32, grid=1), rtn_quantize(w, 3, 32))


def test_awq_refuses_bad_input():
    x, w = salient(0)
    with pytest.raises(ValueError, match="grid must be a positive int"):
        awq_scales(w, x, group_size=32, grid=0)
    with pytest.raises(ValueError, match="x_calib must hold at least one"):
        awq_quantize(w, x[:0], group_size=32)
    with pytest.raises(ValueError, match="bits must be one of"):
        awq_scales(w, x, bits=6, group_size=32)


# --------------------------------------------------------------------------- a whole model
@pytest.fixture(scope="module")
def gpt_and_calib():
    from fmref.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    calib = torch.randint(0, 50, (8, 16), generator=torch.Generator().manual_seed(0))
    return model, calib


def inputs_of(model, layer, calib):
    """The inputs ``(n_tokens, in)`` of ``layer`` when ``model`` reads ``calib``."""
    seen = []
    handle = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]) and None)
    model(calib)
    handle.remove()
    return seen[0].reshape(-1, seen[0].shape[-1])


def test_compress_weights_calibrates_each_layer_on_the_inputs_it_sees(gpt_and_calib):
    model, calib = gpt_and_calib
    first, second = model.h[0].attn.q_proj, model.h[1].attn.q_proj
    x = inputs_of(model, first, calib)  # the first layer's inputs do not depend on quantisation
    small, report = compress_weights(model, "gptq", group_size=16, bits=3, calib=calib)
    w_hat = gptq_quantize(first.weight.detach(), x, 3, 16)
    torch.testing.assert_close(small.h[0].attn.q_proj.weight, w_hat)
    # a later layer is calibrated on the inputs of the model whose earlier layers are
    # quantised: the input of the second block's q_proj depends only on the first block
    w2 = second.weight.detach()
    sequential = gptq_quantize(w2, inputs_of(small, small.h[1].attn.q_proj, calib), 3, 16)
    torch.testing.assert_close(small.h[1].attn.q_proj.weight, sequential)
    assert not torch.equal(gptq_quantize(w2, inputs_of(model, second, calib), 3, 16), sequential)
    # 3-bit codes, and per 16 weights an fp16 scale and a 3-bit zero point
    assert report["bits_per_parameter"] == pytest.approx(3 + (16 + 3) / 16)
    _, awq = compress_weights(model, "awq", group_size=16, bits=4, calib=calib)
    assert awq["bits_per_parameter"] > 4 + 20 / 16  # + AWQ's s in fp16
    with pytest.raises(ValueError, match="calib"):
        compress_weights(model, "gptq")
