"""Tests of fmref.nn.position: sinusoidal, RoPE (vs transformers) and ALiBi slopes."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.nn.position import (
    alibi_bias,
    alibi_slopes,
    apply_rope,
    apply_rope_interleaved,
    rope_angles,
    sinusoidal_positions,
)

SETTINGS = settings(max_examples=30, deadline=None)


def test_sinusoidal_positions_follow_vaswani_formula():
    pe = sinusoidal_positions(20, 6)
    for p in (0, 3, 19):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_positions_odd_width_has_one_more_sine():
    pe = sinusoidal_positions(4, 5)
    assert pe.shape == (4, 5)
    assert pe[1, 4].item() == pytest.approx(math.sin(1 / 10000 ** (4 / 5)), abs=1e-6)


@pytest.mark.parametrize("kwargs", [dict(max_len=0, d_model=4), dict(max_len=3, d_model=2.0)])
def test_sinusoidal_positions_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match="must be a positive int"):
        sinusoidal_positions(**kwargs)


def test_rope_angles_match_theta_formula():
    angles = rope_angles(8, 5, theta=500000.0)
    assert angles.shape == (5, 4)
    assert angles[3, 1].item() == pytest.approx(3 * 500000.0 ** (-2 / 8), rel=1e-6)


def test_apply_rope_matches_transformers_apply_rotary_pos_emb():
    # transformers' LlamaRotaryEmbedding builds cos/sin as cat(freqs, freqs)
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, 7, 16, generator=g), torch.randn(2, 1, 7, 16, generator=g)
    angles = rope_angles(16, 7)
    emb = torch.cat([angles, angles], dim=-1).unsqueeze(0).expand(2, 7, 16)  # (B, T, d_head)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, emb.cos(), emb.sin())
    torch.testing.assert_close(apply_rope(q, angles), q_ref)
    torch.testing.assert_close(apply_rope(k, angles), k_ref)


def test_interleaved_rope_equals_complex_multiplication_as_in_meta_llama():
    # Meta's apply_rotary_emb: view pairs as complex numbers, multiply by e^{i angle}
    g = torch.Generator().manual_seed(1)
    x, angles = torch.randn(3, 5, 8, generator=g), rope_angles(8, 5)
    x_c = torch.view_as_complex(x.reshape(3, 5, 4, 2))
    expected = torch.view_as_real(x_c * torch.polar(torch.ones_like(angles), angles)).flatten(-2)
    torch.testing.assert_close(apply_rope_interleaved(x, angles), expected)


def test_transformers_weight_permutation_turns_interleaved_into_rotate_half():
    # convert_llama_weights_to_hf.py permutes q/k rows so that pair (2i, 2i+1)
    # becomes (i, i + d/2): view(n_heads, d/2, 2, C).transpose(1, 2)
    g = torch.Generator().manual_seed(2)
    d_head, d_model, T = 8, 8, 6
    w = torch.randn(d_model, d_model, generator=g)
    x = torch.randn(T, d_model, generator=g)
    w_hf = w.view(1, d_head // 2, 2, d_model).transpose(1, 2).reshape(d_model, d_model)
    angles = rope_angles(d_head, T)
    meta = apply_rope_interleaved(x @ w.T, angles)
    hf = apply_rope(x @ w_hf.T, angles)
    # same dot products between rotated queries and keys (same attention scores)
    torch.testing.assert_close(meta @ meta.T, hf @ hf.T, atol=1e-4, rtol=1e-4)


@SETTINGS
@given(st.integers(1, 8).map(lambda h: 2 * h), st.integers(1, 12), st.integers(0, 2**16))
def test_rope_preserves_vector_norms(d_head, T, seed):
    x = torch.randn(T, d_head, generator=torch.Generator().manual_seed(seed))
    angles = rope_angles(d_head, T)
    for rotate in (apply_rope, apply_rope_interleaved):
        torch.testing.assert_close(rotate(x, angles).norm(dim=-1), x.norm(dim=-1))


@SETTINGS
@given(
    st.integers(1, 4).map(lambda h: 2 * h),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 10),
    st.integers(0, 2**16),
)
def test_rope_dot_product_depends_only_on_relative_position(d_head, m, n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, d_head, generator=g), torch.randn(1, d_head, generator=g)
    angles = rope_angles(d_head, 32)

    def score(i, j):
        return (apply_rope(q, angles[i : i + 1]) @ apply_rope(k, angles[j : j + 1]).T).item()

    assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-4)


@pytest.mark.parametrize("d_head", [3, 0, 5.0])
def test_rope_angles_odd_d_head_raises(d_head):
    with pytest.raises(ValueError, match="d_head must be a positive even int"):
        rope_angles(d_head, 4)


def test_rope_angles_negative_max_len_raises():
    with pytest.raises(ValueError, match="max_len must be a non-negative int"):
        rope_angles(4, -1)


def test_apply_rope_rejects_mismatched_angles():
    with pytest.raises(ValueError, match=r"angles must have shape \(T, 4\) for d_head=8"):
        apply_rope(torch.randn(3, 8), rope_angles(6, 3))
    with pytest.raises(ValueError, match=r"angles must have one row per position \(T=3\)"):
        apply_rope_interleaved(torch.randn(3, 8), rope_angles(8, 4))


def _reference_get_slopes(n):
    # Transcribed from ofirpress/attention_with_linear_biases (fairseq/models/transformer.py)
    def get_slopes_power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        ratio = start
        return [start * ratio**i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (
        get_slopes_power_of_2(closest_power_of_2)
        + _reference_get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2]
    )


def test_alibi_slopes_for_8_heads_are_powers_of_one_half():
    # Press et al. 2022, section 3: 1/2, 1/4, ..., 1/256 for 8 heads
    assert alibi_slopes(8).tolist() == [2.0**-i for i in range(1, 9)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 12, 16, 20, 24, 40])
def test_alibi_slopes_match_reference_code(n):
    torch.testing.assert_close(alibi_slopes(n), torch.tensor(_reference_get_slopes(n)))


def test_alibi_slopes_for_12_heads_published_values():
    # 8 slopes 2^-1..2^-8 plus every other slope of 16 heads: 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
    expected = [2.0**-i for i in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    torch.testing.assert_close(alibi_slopes(12), torch.tensor(expected))


def test_alibi_slopes_rejects_bad_n_heads():
    with pytest.raises(ValueError, match="n_heads must be a positive int"):
        alibi_slopes(0)


def test_alibi_bias_is_linear_in_distance_and_bottom_right_aligned():
    bias = alibi_bias(4, 2, 5)
    assert bias.shape == (4, 2, 5)
    slopes = alibi_slopes(4)
    # query 1 is at absolute position 4: key j gets -m * (4 - j)
    torch.testing.assert_close(bias[:, 1], -slopes[:, None] * torch.tensor([4.0, 3, 2, 1, 0]))


# ---- RoPE scaling against transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS ----


def _hf_rope(d_head, theta, params, max_position_embeddings, seq_len=None):
    """transformers 5's inv_freq and attention factor for one ``rope_parameters`` dict."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    cfg = LlamaConfig(
        hidden_size=d_head * 2,
        num_attention_heads=2,
        head_dim=d_head,
        max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_theta": theta, **params},
    )
    return ROPE_INIT_FUNCTIONS[params["rope_type"]](cfg, "cpu", seq_len=seq_len)


GRID = [(d, b, f) for d in (8, 64, 128) for b in (10000.0, 500000.0) for f in (2.0, 8.0)]


@pytest.mark.parametrize("d_head,theta,factor", GRID)
def test_rope_inv_freq_matches_transformers_rope_init_functions(d_head, theta, factor):
    from fmref.nn.position import rope_inv_freq

    original = 256
    cases = [
        ({"rope_type": "linear", "factor": factor}, original, None),
        # dynamic NTK: transformers reads the trained length from max_position_embeddings
        ({"rope_type": "dynamic", "factor": factor}, original, 4 * original),
        ({"rope_type": "dynamic", "factor": factor}, original, original // 2),  # no growth
        ({"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original},
         original, None),
        ({"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original,
          "beta_fast": 16, "beta_slow": 2, "truncate": False}, original, None),
        ({"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original,
          "mscale": 1.0, "mscale_all_dim": 0.5}, original, None),  # DeepSeek's mscale ratio
        ({"rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": original},
         8 * original, None),
    ]  # fmt: skip
    for params, max_pos, seq_len in cases:
        want, want_factor = _hf_rope(d_head, theta, params, max_pos, seq_len)
        ours = dict(params)
        if params["rope_type"] == "dynamic":
            ours["max_position_embeddings"] = max_pos
        got, got_factor = rope_inv_freq(d_head, theta, ours, seq_len=seq_len)
        torch.testing.assert_close(got, want.float(), rtol=1e-6, atol=0)
        assert got_factor == pytest.approx(want_factor, rel=1e-12)


def test_rope_inv_freq_llama31_changes_only_low_frequencies():
    # Llama 3.1 8B's rope_scaling (its config.json): factor 8, low 1, high 4, original 8192
    from fmref.nn.position import rope_inv_freq

    llama31 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}  # fmt: skip
    plain, _ = rope_inv_freq(128, 500000.0)
    scaled, _ = rope_inv_freq(128, 500000.0, llama31)
    wavelen = 2 * math.pi / plain
    assert torch.equal(scaled[wavelen < 8192 / 4], plain[wavelen < 8192 / 4])
    torch.testing.assert_close(scaled[wavelen > 8192], plain[wavelen > 8192] / 8)


def test_rope_angles_with_scaling_are_positions_times_scaled_frequencies():
    from fmref.nn.position import rope_inv_freq

    dyn = {"rope_type": "dynamic", "factor": 2.0, "max_position_embeddings": 16}
    inv, _ = rope_inv_freq(8, 100.0, dyn, seq_len=64)
    torch.testing.assert_close(rope_angles(8, 64, 100.0, dyn), torch.outer(torch.arange(64.0), inv))
    assert torch.equal(rope_angles(8, 16, 100.0, dyn), rope_angles(8, 16, 100.0))  # within 16: none


@pytest.mark.parametrize(
    "scaling,match",
    [
        ({"rope_type": "ntk", "factor": 2.0}, r"scaling\['rope_type'\]"),
        ({"rope_type": "linear"}, r"scaling\['factor'\] is required"),
        ({"rope_type": "linear", "factor": 1.0}, r"scaling\['factor'\]"),
        ({"rope_type": "yarn", "factor": 0.5, "original_max_position_embeddings": 8}, "factor"),
        ({"rope_type": "yarn", "factor": 2.0}, r"original_max_position_embeddings'\] is required"),
        ({"rope_type": "dynamic", "factor": 2.0}, r"max_position_embeddings'\] is required"),
        ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0,
          "original_max_position_embeddings": 64}, "high_freq_factor"),
        ({"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 8,
          "beta_fast": 1, "beta_slow": 4}, "beta_fast"),
        ({"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 8,
          "attention_factor": -1.0}, "attention_factor"),
        ("linear", "scaling must be a dict"),
    ],
)  # fmt: skip
def test_rope_inv_freq_rejects_bad_scaling_naming_the_key(scaling, match):
    from fmref.nn.position import rope_inv_freq

    with pytest.raises((ValueError, TypeError), match=match):
        rope_inv_freq(8, scaling=scaling)
