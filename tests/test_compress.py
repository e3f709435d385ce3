"""Tests of fmref.compress: quantisation error bounds (hypothesis), NF4's published table,
outlier handling, pruning patterns and the distillation loss."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fmref.compress.distill import distillation_loss
from fmref.compress.nf4 import (
    NF4Tensor,
    dequantize_nf4,
    nf4_bits_per_parameter,
    nf4_codebook,
    quantize_nf4,
)
from fmref.compress.outliers import (
    int8_matmul,
    llm_int8_matmul,
    outlier_columns,
    smooth,
    smoothquant_scales,
)
from fmref.compress.prune import (
    magnitude_prune,
    prune_2_4,
    sparsity,
    wanda_prune,
    wanda_score,
)
from fmref.compress.quant import (
    SUPPORTED_BITS,
    QuantLinear,
    dequantize_absmax,
    dequantize_groupwise,
    dequantize_zeropoint,
    quantize_absmax,
    quantize_groupwise,
    quantize_zeropoint,
)

floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
matrices = arrays("float32", st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=floats)
TOL = 1e-5  # float32 rounding of w / scale on top of the half step


# ----------------------------------------------------------------- quantisation
@settings(max_examples=30, deadline=None)
@given(w=matrices, bits=st.sampled_from(SUPPORTED_BITS), dim=st.sampled_from([None, 0, 1]))
def test_absmax_error_is_at_most_half_a_step(w, bits, dim):
    w = torch.from_numpy(w)
    codes, scale = quantize_absmax(w, bits, dim)
    err = (dequantize_absmax(codes, scale) - w).abs()
    assert torch.all(err <= scale / 2 * (1 + TOL) + 1e-30)
    assert codes.abs().max() <= 2 ** (bits - 1) - 1


@settings(max_examples=30, deadline=None)
@given(w=matrices, bits=st.sampled_from(SUPPORTED_BITS), dim=st.sampled_from([None, 0, 1]))
def test_zeropoint_error_is_at_most_half_a_step(w, bits, dim):
    w = torch.from_numpy(w)
    codes, scale, zp = quantize_zeropoint(w, bits, dim)
    err = (dequantize_zeropoint(codes, scale, zp) - w).abs()
    assert torch.all(err <= scale / 2 * (1 + TOL) + scale * TOL)
    assert codes.max() <= 2**bits - 1
    zero = dequantize_zeropoint(zp.to(torch.uint8), scale, zp)
    assert torch.all(zero == 0)  # zero is exactly representable


@settings(max_examples=30, deadline=None)
@given(
    w=arrays("float32", st.tuples(st.integers(1, 4), st.sampled_from([4, 8, 12])), elements=floats),
    bits=st.sampled_from(SUPPORTED_BITS),
)
def test_groupwise_error_is_at_most_half_a_step_of_its_group(w, bits):
    w = torch.from_numpy(w)
    codes, scales = quantize_groupwise(w, bits, group_size=4)
    err = (dequantize_groupwise(codes, scales, 4) - w).abs()
    step = scales.repeat_interleave(4, dim=-1)
    assert torch.all(err <= step / 2 * (1 + TOL) + 1e-30)


def test_zeropoint_beats_absmax_on_a_skewed_range():
    w = torch.rand(1000) * 3  # all positive: absmax wastes the negative half
    a = (dequantize_absmax(*quantize_absmax(w, 4)) - w).abs().mean()
    z = (dequantize_zeropoint(*quantize_zeropoint(w, 4)) - w).abs().mean()
    assert z < 0.6 * a


def test_finer_granularity_gives_smaller_error_with_an_outlier():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 256, generator=g) * 0.02
    w[3, 17] = 1.0  # one outlier weight
    err = {}
    err["tensor"] = dequantize_absmax(*quantize_absmax(w, 4)) - w
    err["channel"] = dequantize_absmax(*quantize_absmax(w, 4, dim=1)) - w
    err["group"] = dequantize_groupwise(*quantize_groupwise(w, 4, 64), 64) - w
    norms = {k: v.norm().item() for k, v in err.items()}
    assert norms["group"] < norms["channel"] < norms["tensor"]


def test_all_zero_input_quantises_to_zero():
    w = torch.zeros(4, 4)
    assert torch.equal(dequantize_absmax(*quantize_absmax(w)), w)
    assert torch.equal(dequantize_zeropoint(*quantize_zeropoint(w)), w)


@pytest.mark.parametrize("bits", [1, 5, 16, 8.0, True])
def test_quantizers_reject_unsupported_bits(bits):
    for fn in (quantize_absmax, quantize_zeropoint, quantize_groupwise):
        with pytest.raises(ValueError, match="bits"):
            fn(torch.randn(4, 8), bits=bits) if fn is not quantize_groupwise else fn(
                torch.randn(4, 8), bits=bits, group_size=4
            )


def test_quantizers_reject_bad_input():
    with pytest.raises(TypeError, match="w must"):
        quantize_absmax(torch.arange(4))
    with pytest.raises(ValueError, match="group_size"):
        quantize_groupwise(torch.randn(4, 10), 4, group_size=4)
    with pytest.raises(ValueError, match="group_size"):
        quantize_groupwise(torch.randn(4, 8), 4, group_size=0)
    with pytest.raises(ValueError, match="scales"):
        dequantize_groupwise(torch.zeros(2, 8, dtype=torch.int8), torch.ones(2, 3), 4)


@pytest.mark.parametrize("bits, group_size", [(8, None), (8, 32), (4, None), (4, 32)])
def test_quant_linear_matches_the_dequantized_weight(bits, group_size):
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 16)
    q = QuantLinear.from_linear(linear, bits=bits, group_size=group_size)
    x = torch.randn(5, 64)
    ref = torch.nn.functional.linear(x, q.dequantized_weight(), linear.bias)
    torch.testing.assert_close(q(x), ref)
    expected = (16 * 64 * bits) // 8 + 2 * (16 if group_size is None else 16 * 64 // group_size)
    assert q.weight_nbytes() == expected
    assert f"bits={bits}" in repr(q)
    rel = (q(x) - linear(x)).norm() / linear(x).norm()
    assert rel < (0.01 if bits == 8 else 0.12)


def test_int4_packing_round_trips():
    from fmref.compress.quant import _pack_int4, _unpack_int4

    codes = torch.arange(-8, 8, dtype=torch.int8).repeat(3, 2)  # (3, 32)
    packed = _pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 16)
    assert torch.equal(_unpack_int4(packed), codes)


def test_quant_linear_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bits"):
        QuantLinear(torch.randn(4, 8), bits=3)
    with pytest.raises(ValueError, match="in_features"):
        QuantLinear(torch.randn(4, 7), bits=4)
    q = QuantLinear(torch.randn(4, 8), bias=None)
    assert q(torch.randn(2, 8)).shape == (2, 4)


# ------------------------------------------------------------------------- NF4
# bitsandbytes' NF4 table (bitsandbytes/functional.py, get_4bit_type("nf4")), as
# printed in the QLoRA paper's appendix E; bitsandbytes itself is not installed here.
PUBLISHED_NF4 = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
]


def test_nf4_codebook_equals_the_published_table():
    torch.testing.assert_close(nf4_codebook(), torch.tensor(PUBLISHED_NF4), atol=1e-6, rtol=0)


def test_nf4_levels_have_equal_normal_mass_between_midpoints():
    # Each level sits at a normal quantile: the levels are denser near 0.
    levels = nf4_codebook()
    gaps = levels.diff()
    assert gaps[7] < gaps[0] and gaps[8] < gaps[-1]
    assert (levels == 0).sum() == 1 and (levels > 0).sum() == 8


def test_nf4_beats_int4_absmax_on_normal_weights():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(128, 256, generator=g)
    nf4 = (dequantize_nf4(quantize_nf4(w, double_quant=False)) - w).norm()
    int4 = (dequantize_groupwise(*quantize_groupwise(w, 4, 64), 64) - w).norm()
    assert nf4 < int4


def test_nf4_double_quantization_size_and_accuracy():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(300, 64, generator=g) * 0.02  # 300 groups: the last dq block is padded
    single, double = quantize_nf4(w, double_quant=False), quantize_nf4(w)
    assert single.bits_per_parameter() == pytest.approx(4.5)
    n = w.numel()  # exact: codes + int8 constants + 2 fp32 block scales + the fp32 mean
    assert double.nbytes() == n / 2 + 300 + 2 * 4 + 4
    assert nf4_bits_per_parameter() == pytest.approx(4 + 0.127, abs=5e-4)  # QLoRA, sec. 3
    # second-level step: max|absmax - mean| / 127, about 1.6e-4 here; error <= half of it
    step = (single.constants() - single.constants().mean()).abs().max() / 127
    assert (double.constants() - single.constants()).abs().max() <= step / 2 + 1e-7
    assert (dequantize_nf4(double) - dequantize_nf4(single)).abs().max() <= step / 2 + 1e-7
    assert isinstance(double, NF4Tensor) and double.absmax is None


def test_nf4_rejects_bad_input():
    with pytest.raises(ValueError, match="group_size"):
        quantize_nf4(torch.randn(10))
    with pytest.raises(ValueError, match="dq_group_size"):
        quantize_nf4(torch.randn(64), dq_group_size=0)
    with pytest.raises(TypeError, match="w must"):
        quantize_nf4(torch.arange(64))
    with pytest.raises(TypeError, match="NF4Tensor"):
        dequantize_nf4(torch.zeros(3))


# -------------------------------------------------------------------- outliers
def make_outlier_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 256, generator=g)
    x[:, [5, 100]] *= 40  # two systematic outlier features, as in LLM.int8()'s Fig. 3
    w = torch.randn(64, 256, generator=g) * 0.05
    return x, w


def test_llm_int8_decomposition_removes_the_outlier_error():
    x, w = make_outlier_batch()
    exact = x @ w.T
    plain = (int8_matmul(x, w) - exact).norm() / exact.norm()
    mixed = (llm_int8_matmul(x, w) - exact).norm() / exact.norm()
    assert outlier_columns(x).sum() == 2
    assert mixed < plain / 5 and mixed < 0.01
    # no outlier: the plain int8 product; all outliers: exact floating point
    y = torch.randn(4, 16)
    torch.testing.assert_close(
        llm_int8_matmul(y, w[:, :16], threshold=1e9), int8_matmul(y, w[:, :16])
    )
    torch.testing.assert_close(llm_int8_matmul(y, w[:, :16], threshold=1e-9), y @ w[:, :16].T)


def test_smoothquant_is_exact_and_eases_w8a8():
    x, w = make_outlier_batch(1)
    s = smoothquant_scales(x.abs().amax(0), w.abs().amax(0), alpha=0.5)
    xs, ws = smooth(x, w, s)
    torch.testing.assert_close(xs @ ws.T, x @ w.T, atol=1e-3, rtol=1e-4)
    exact = x @ w.T
    before = (int8_matmul(x, w) - exact).norm()
    after = (int8_matmul(xs, ws) - exact).norm()
    assert after < before / 2
    ones = smoothquant_scales(x.abs().amax(0), w.abs().amax(0), alpha=0.0)
    torch.testing.assert_close(ones, 1 / w.abs().amax(0))


def test_outlier_functions_reject_bad_input():
    x, w = torch.randn(2, 8), torch.randn(4, 8)
    with pytest.raises(ValueError, match="w must"):
        int8_matmul(x, torch.randn(4, 6))
    with pytest.raises(ValueError, match="threshold"):
        llm_int8_matmul(x, w, threshold=0)
    with pytest.raises(ValueError, match="alpha"):
        smoothquant_scales(torch.ones(8), torch.ones(8), alpha=1.5)
    with pytest.raises(ValueError, match="w_absmax"):
        smoothquant_scales(torch.ones(8), torch.ones(7))
    with pytest.raises(ValueError, match="scales"):
        smooth(x, w, torch.ones(7))


# --------------------------------------------------------------------- pruning
@settings(max_examples=25, deadline=None)
@given(
    w=arrays(
        "float32",
        st.tuples(st.integers(1, 5), st.sampled_from([4, 8, 16])),
        elements=st.floats(-10, 10, width=32).filter(lambda v: v != 0),
    )
)
def test_2_4_keeps_exactly_the_two_largest_of_every_four(w):
    w = torch.from_numpy(w)
    pruned = prune_2_4(w)
    groups, orig = pruned.reshape(-1, 4), w.reshape(-1, 4)
    assert torch.all((groups != 0).sum(-1) == 2)
    kept_min = groups.abs().masked_fill(groups == 0, float("inf")).amin(-1)
    dropped_max = orig.abs().masked_fill(groups != 0, 0).amax(-1)
    assert torch.all(kept_min >= dropped_max)
    assert torch.equal(pruned[pruned != 0], w[pruned != 0])


@pytest.mark.parametrize("s", [0.0, 0.25, 0.5, 0.9])
def test_magnitude_prune_reaches_the_sparsity_and_drops_the_smallest(s):
    w = torch.randn(32, 32, generator=torch.Generator().manual_seed(0))
    pruned = magnitude_prune(w, s)
    assert sparsity(pruned) == pytest.approx(s, abs=1 / 1024)
    if s > 0:
        assert (
            pruned.abs().masked_fill(pruned == 0, float("inf")).min() >= w.abs()[pruned == 0].max()
        )


def test_wanda_keeps_the_output_better_than_magnitude_with_outlier_inputs():
    x, w = make_outlier_batch(2)
    w = w.clone()
    w[:, [5, 100]] *= 0.1  # small weights on big features: magnitude prunes them
    exact = x @ w.T
    wanda = (x @ wanda_prune(w, x, 0.5).T - exact).norm()
    mag = (x @ magnitude_prune(w, 0.5).T - exact).norm()
    assert wanda < mag
    assert torch.all((wanda_prune(w, x, 0.5) == 0).sum(1) == 128)  # per output row
    assert wanda_score(w, x).shape == w.shape


def test_pruning_rejects_bad_input():
    for s in (-0.1, 1.0, 1.5, True):
        with pytest.raises(ValueError, match="sparsity"):
            magnitude_prune(torch.randn(4, 4), s)
    with pytest.raises(ValueError, match="divisible by 4"):
        prune_2_4(torch.randn(3, 6))
    with pytest.raises(TypeError, match="w must"):
        prune_2_4(torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="x must"):
        wanda_score(torch.randn(4, 8), torch.randn(2, 5))


# ---------------------------------------------------------------- distillation
def test_distillation_loss_is_t_squared_kl_plus_cross_entropy():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    labels = torch.randint(0, 10, (6,), generator=g)
    T = 3.0
    p_t = torch.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / T, -1))).sum(-1).mean()
    ce = torch.nn.functional.cross_entropy(s, labels)
    torch.testing.assert_close(distillation_loss(s, t, T), kl * T**2)
    torch.testing.assert_close(distillation_loss(s, t, T, 0.3, labels), 0.3 * kl * T**2 + 0.7 * ce)
    # (B, T, V) logits and ignored labels
    s3, t3 = s.reshape(2, 3, 10), t.reshape(2, 3, 10)
    lab = labels.reshape(2, 3).clone()
    lab[0, 0] = -100
    assert torch.isfinite(distillation_loss(s3, t3, 2.0, 0.5, lab))


def test_t_squared_keeps_the_soft_gradient_scale():
    g = torch.Generator().manual_seed(1)
    t = torch.randn(64, 10, generator=g)
    norms = []
    for T in (5.0, 20.0):  # high-temperature regime: grad -> (z_s - z_t) / (N V)
        s = torch.randn(64, 10, generator=torch.Generator().manual_seed(2), requires_grad=True)
        distillation_loss(s, t, T).backward()
        norms.append(s.grad.norm().item())
    assert norms[1] == pytest.approx(norms[0], rel=0.1)  # without T^2: 16x smaller


def test_distillation_rejects_bad_input():
    with pytest.raises(ValueError, match="teacher_logits"):
        distillation_loss(torch.randn(2, 5), torch.randn(2, 4))
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.randn(2, 5), torch.randn(2, 5), temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(torch.randn(2, 5), torch.randn(2, 5), alpha=2)


# ------------------------------------------------------------ whole-model compression
@pytest.mark.parametrize(
    "method, bits", [("fp32", 32), ("bf16", 16), ("fp16", 16), ("int8", 8), ("int4", 4), ("nf4", 4)]
)
def test_compress_weights_counts_bytes_and_keeps_outputs_close(method, bits):
    from fmref.compress.apply import compress_weights
    from fmref.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=64)).eval()
    small, report = compress_weights(model, method, group_size=32 if method == "int4" else None)
    assert report["params"] == 2 * 12 * 64 * 64  # the blocks' linear layers only
    assert bits <= report["bits_per_parameter"] < bits + 1
    assert report["fp32_bytes"] == 4 * report["params"]
    assert torch.equal(small.wte.weight, model.wte.weight)  # embeddings are skipped
    idx = torch.randint(0, 40, (2, 16))
    with torch.no_grad():
        err = (small(idx) - model(idx)).abs().max().item()
    assert err < {32: 1e-6, 16: 0.02, 8: 0.02, 4: 0.2}[bits]
    assert small is not model and model.h[0].mlp.c_fc.weight.dtype == torch.float32


def test_compress_weights_and_perplexity_reject_bad_input():
    from fmref.compress.apply import compress_weights, lm_perplexity
    from fmref.models.gpt import GPT, GPTConfig

    with pytest.raises(ValueError, match="method"):
        compress_weights(torch.nn.Linear(4, 4), "int3")
    _, report = compress_weights(torch.nn.ReLU(), "int8")
    assert report["params"] == 0
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match="ids"):
        lm_perplexity(model, torch.arange(5))
    ids = torch.randint(0, 10, (100,))
    assert lm_perplexity(model, ids, max_windows=2) == pytest.approx(
        lm_perplexity(model, ids[:17]), rel=1e-5
    )
