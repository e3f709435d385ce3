"""Tests of fmref.nn.attention: equivalence with torch, properties, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from torch.nn.attention.bias import causal_lower_right

from fmref.nn.attention import (
    KVCache,
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)
from fmref.nn.position import apply_rope, rope_angles

SETTINGS = settings(max_examples=30, deadline=None)


def _qkv(*lead, t_q=5, t_k=6, d=8, d_v=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, t_q, d, generator=g)
    k = torch.randn(*lead, t_k, d, generator=g)
    v = torch.randn(*lead, t_k, d_v or d, generator=g)
    return q, k, v


# --- equivalence with torch.nn.functional.scaled_dot_product_attention -------------


def test_sdpa_matches_torch_without_mask():
    q, k, v = _qkv(2, 3, d_v=4)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v)
    )


def test_sdpa_matches_torch_with_bool_mask_broadcast_over_batch_and_heads():
    q, k, v = _qkv(2, 3)
    mask = torch.rand(5, 6, generator=torch.Generator().manual_seed(1)) > 0.3
    mask[:, 0] = True
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, attn_mask=mask),
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
    )


def test_sdpa_matches_torch_with_float_mask():
    q, k, v = _qkv(2, 1)
    bias = torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, attn_mask=bias),
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias),
    )


@pytest.mark.parametrize("t_q,t_k", [(5, 5), (3, 6), (6, 3)])
@pytest.mark.filterwarnings("ignore:Lower right causal bias")
def test_sdpa_is_causal_matches_torch_bottom_right_alignment(t_q, t_k):
    # One convention: fmref's is_causal is torch's causal_lower_right bias (and
    # FlashAttention >= 2.1's); torch's own is_causal (top-left) agrees when Tq == Tk.
    q, k, v = _qkv(2, t_q=t_q, t_k=t_k)
    got = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(
        got, F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(t_q, t_k))
    )
    if t_q == t_k:
        by_mask = scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(t_q, t_k))
        assert torch.equal(got, by_mask)
        torch.testing.assert_close(got, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_sdpa_custom_scale_matches_torch():
    q, k, v = _qkv(1)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, scale=0.3),
        F.scaled_dot_product_attention(q, k, v, scale=0.3),
    )


def test_fully_masked_row_returns_zeros_like_torch():
    q, k, v = _qkv(1)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[2] = False
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.equal(ours[0, 2], torch.zeros(8))
    bias = torch.zeros(5, 6).masked_fill(~mask, float("-inf"))
    assert torch.equal(scaled_dot_product_attention(q, k, v, attn_mask=bias)[0, 2], torch.zeros(8))


def test_sdpa_dropout_zeroes_some_weights_and_keeps_shape():
    q, k, v = _qkv(1)
    torch.manual_seed(0)
    out = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert out.shape == (1, 5, 8)
    assert not torch.allclose(out, scaled_dot_product_attention(q, k, v))


# --- properties -----------------------------------------------------------------


@st.composite
def masked_scores(draw):
    t_q = draw(st.integers(1, 6))
    t_k = draw(st.integers(1, 6))
    d = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(t_q, d, generator=g) * 3, torch.randn(t_k, d, generator=g) * 3
    mask = torch.rand(t_q, t_k, generator=g) > draw(st.floats(0.0, 1.0))
    return q, k, mask


@SETTINGS
@given(masked_scores())
def test_rows_with_an_allowed_key_sum_to_one_and_masked_rows_are_zero(data):
    q, k, mask = data
    w = attention_weights(q, k, attn_mask=mask)
    assert not torch.isnan(w).any()
    has_key = mask.any(-1)
    torch.testing.assert_close(w.sum(-1)[has_key], torch.ones(int(has_key.sum())))
    assert torch.equal(w[~has_key], torch.zeros_like(w[~has_key]))
    assert torch.equal(w[~mask], torch.zeros_like(w[~mask]))


@SETTINGS
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**16))
def test_causal_rows_put_zero_weight_on_future_positions(t_q, t_k, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(t_q, 4, generator=g), torch.randn(t_k, 4, generator=g)
    for mask in (None, causal_mask(t_q, t_k)):
        w = attention_weights(q, k, is_causal=mask is None, attn_mask=mask)
        offset = t_k - t_q  # one convention: bottom-right, with is_causal or causal_mask
        for i in range(t_q):
            assert torch.all(w[i, max(offset + i + 1, 0) :] == 0)


# --- causal_mask ----------------------------------------------------------------


def test_causal_mask_defaults_to_bottom_right_and_equals_tril_when_square():
    assert torch.equal(causal_mask(4, 4), torch.ones(4, 4, dtype=torch.bool).tril())
    # one new query after 3 cached keys sees all 4 keys (torch's is_causal: only key 0)
    assert causal_mask(1, 4).tolist() == [[True, True, True, True]]


def test_causal_mask_explicit_offset_and_window():
    assert causal_mask(2, 4, offset=0).tolist() == [
        [True, False, False, False],
        [True, True, False, False],
    ]
    assert causal_mask(1, 5, window=2).tolist() == [[False, False, False, True, True]]


def test_causal_mask_rejects_bad_arguments():
    with pytest.raises(ValueError, match="t_q and t_k"):
        causal_mask(-1, 3)
    with pytest.raises(ValueError, match="window must be a positive int"):
        causal_mask(2, 2, window=0)


# --- KVCache ----------------------------------------------------------------------


def test_kv_cache_appends_per_layer_and_length_changes_once_per_forward():
    cache = KVCache(2)
    k = torch.randn(1, 2, 3, 4)
    cache.update(0, k, k)
    assert cache.length == 0 and cache.seq_len(0) == 3  # layer 1 not yet updated
    k_all, v_all = cache.update(1, k, k)
    assert cache.length == 3
    k_all, _ = cache.update(0, k[:, :, :1], k[:, :, :1])
    assert k_all.shape == (1, 2, 4, 4)
    assert "length=3" in repr(cache)


def test_kv_cache_crop_and_reset():
    cache = KVCache(1)
    k = torch.arange(5.0).view(1, 1, 5, 1)
    cache.update(0, k, k)
    cache.crop(2)
    assert cache.keys[0].flatten().tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"length must be in \[0, 2\]"):
        cache.crop(3)
    cache.reset()
    assert cache.keys == [None] and cache.length == 0
    cache.crop(0)  # cropping an empty cache is a no-op


def test_kv_cache_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_layers must be a positive int"):
        KVCache(0)
    cache = KVCache(2)
    with pytest.raises(ValueError, match=r"layer must be in \[0, 2\)"):
        cache.update(2, torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))
    with pytest.raises(ValueError, match="v must have the shape of k"):
        cache.update(0, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 3))


# --- MultiHeadAttention -----------------------------------------------------------


def _torch_mha_copy(mha, d_model, n_heads):
    ref = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        w_q, w_k, w_v = ref.in_proj_weight.chunk(3)
        b_q, b_k, b_v = ref.in_proj_bias.chunk(3)
        for proj, w, b in ((mha.q_proj, w_q, b_q), (mha.k_proj, w_k, b_k), (mha.v_proj, w_v, b_v)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        mha.out_proj.weight.copy_(ref.out_proj.weight)
        mha.out_proj.bias.copy_(ref.out_proj.bias)
    return ref.eval()


def test_mha_matches_torch_multihead_attention_self_and_causal():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    ref = _torch_mha_copy(mha, 16, 4)
    x = torch.randn(2, 5, 16)
    expected, _ = ref(x, x, x, need_weights=False)
    torch.testing.assert_close(mha(x), expected)
    # torch's attn_mask: True means *not allowed*
    future = torch.ones(5, 5, dtype=torch.bool).triu(1)
    expected, _ = ref(x, x, x, attn_mask=future, need_weights=False)
    torch.testing.assert_close(mha(x, is_causal=True), expected)


def test_mha_cross_attention_and_weights_match_torch():
    torch.manual_seed(1)
    mha = MultiHeadAttention(12, 3).eval()
    ref = _torch_mha_copy(mha, 12, 3)
    x, ctx = torch.randn(2, 4, 12), torch.randn(2, 7, 12)
    expected, expected_w = ref(x, ctx, ctx, average_attn_weights=False)
    out, w = mha(x, context=ctx, need_weights=True)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(w, expected_w)


def test_mha_key_padding_mask_b11tk_matches_torch():
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 2).eval()
    ref = _torch_mha_copy(mha, 8, 2)
    x = torch.randn(2, 4, 8)
    keep = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    expected, _ = ref(x, x, x, key_padding_mask=~keep, need_weights=False)
    torch.testing.assert_close(mha(x, attn_mask=keep[:, None, None, :]), expected)


def test_mha_causal_combines_with_bool_and_float_masks():
    torch.manual_seed(3)
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 4, 8)
    keep = torch.tensor([True, False, True, True])
    _, w = mha(x, attn_mask=keep, is_causal=True, need_weights=True)
    allowed = causal_mask(4, 4) & keep
    assert torch.all(w[..., ~allowed] == 0)
    bias = torch.zeros(4).masked_fill(~keep, float("-inf"))
    _, w_float = mha(x, attn_mask=bias, is_causal=True, need_weights=True)
    torch.testing.assert_close(w_float, w)


@pytest.mark.parametrize("n_kv_heads", [1, 2])
def test_gqa_and_mqa_equal_mha_with_repeated_kv_weights(n_kv_heads):
    torch.manual_seed(4)
    gqa = MultiHeadAttention(16, 4, n_kv_heads=n_kv_heads).eval()
    mha = MultiHeadAttention(16, 4).eval()
    rep, d_head = 4 // n_kv_heads, 4
    with torch.no_grad():
        mha.load_state_dict(
            {
                **{k: v for k, v in gqa.state_dict().items() if not k.startswith(("k_", "v_"))},
                **{
                    f"{name}.{p}": t.view(n_kv_heads, d_head, *t.shape[1:])
                    .repeat_interleave(rep, dim=0)
                    .reshape(16, *t.shape[1:])
                    for name in ("k_proj", "v_proj")
                    for p, t in getattr(gqa, name).state_dict().items()
                },
            }
        )
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(gqa(x, is_causal=True), mha(x, is_causal=True))
    assert gqa.k_proj.out_features == n_kv_heads * d_head


@pytest.mark.parametrize("n_kv_heads", [4, 2])
def test_mha_kv_cache_decoding_matches_full_recompute(n_kv_heads):
    torch.manual_seed(5)
    mha = MultiHeadAttention(16, 4, n_kv_heads=n_kv_heads).eval()
    rope = rope_angles(4, 16)
    x = torch.randn(2, 6, 16)
    full = mha(x, is_causal=True, rope=rope)
    cache = KVCache(1)
    steps = [mha(x[:, :3], is_causal=True, kv_cache=cache, rope=rope)]
    for t in range(3, 6):
        steps.append(mha(x[:, t : t + 1], is_causal=True, kv_cache=cache, rope=rope))
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.keys[0].shape == (2, n_kv_heads, 6, 4)


def test_mha_rope_rotates_q_and_k_at_absolute_positions():
    torch.manual_seed(6)
    mha = MultiHeadAttention(8, 2, bias=False).eval()
    x = torch.randn(1, 3, 8)
    angles = rope_angles(4, 3)
    _, w = mha(x, rope=angles, need_weights=True)
    q = mha.q_proj(x).view(1, 3, 2, 4).transpose(1, 2)
    k = mha.k_proj(x).view(1, 3, 2, 4).transpose(1, 2)
    torch.testing.assert_close(w, attention_weights(apply_rope(q, angles), apply_rope(k, angles)))


def test_mha_dropout_only_in_training():
    torch.manual_seed(7)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(1, 4, 8)
    assert not torch.allclose(mha(x), mha(x))
    mha.eval()
    torch.testing.assert_close(mha(x), mha(x))


# --- bad input --------------------------------------------------------------------


def test_head_dims_that_differ_raise():
    with pytest.raises(ValueError, match=r"k must have the head dimension of q \(8\)"):
        attention_weights(torch.randn(2, 8), torch.randn(3, 4))


def test_v_with_other_length_raises():
    q, k, _ = _qkv(1)
    with pytest.raises(ValueError, match=r"v must have as many positions as k \(6\)"):
        scaled_dot_product_attention(q, k, torch.randn(1, 5, 8))


def test_mask_of_wrong_shape_raises_with_expected_shape():
    q, k, v = _qkv(2)
    with pytest.raises(ValueError, match=r"attn_mask must be broadcastable to \(2, 5, 6\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must be broadcastable to \(2, 5, 6\)"):
        # broadcastable shapes whose result is larger than the scores are refused too
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 1, 5, 6, dtype=torch.bool))
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"attn_mask must be broadcastable to \(1, 2, 3, 3\)"):
        mha(torch.randn(1, 3, 8), attn_mask=torch.ones(1, 4, dtype=torch.bool))


def test_mask_with_is_causal_raises_in_functional_api():
    q, k, v = _qkv(1)
    with pytest.raises(ValueError, match="attn_mask must be None when is_causal"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 6), is_causal=True)


def test_mha_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"d_model must be divisible by n_heads=3"):
        MultiHeadAttention(16, 3)
    with pytest.raises(ValueError, match=r"n_heads must be divisible by n_kv_heads=3"):
        MultiHeadAttention(16, 4, n_kv_heads=3)


def test_mha_rejects_bad_forward_input():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, 8\)"):
        mha(torch.randn(3, 8))
    with pytest.raises(ValueError, match="context"):
        mha(torch.randn(1, 3, 8), context=torch.randn(1, 2, 8), kv_cache=KVCache(1))
    with pytest.raises(ValueError, match="rope must cover 3 positions"):
        mha(torch.randn(1, 3, 8), rope=rope_angles(4, 2))
