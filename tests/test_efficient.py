"""Tests for fmref.nn.efficient: tiled attention is exact; masks match the papers' patterns."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention.bias import causal_lower_right

from fmref.nn.attention import scaled_dot_product_attention
from fmref.nn.efficient import (
    attention_memory_bytes,
    fixed_mask,
    global_tokens_mask,
    linear_attention,
    sliding_window_mask,
    strided_mask,
    tiled_attention,
)


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("t,tile", [(1, 4), (7, 3), (100, 32), (130, 128), (64, 64), (33, 200)])
def test_tiled_attention_matches_explicit_attention(is_causal, t, tile):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, t, 16).unbind(0)  # (B, H, T, d)
    out = tiled_attention(q, k, v, tile_size=tile, is_causal=is_causal)
    ref = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.filterwarnings("ignore:Lower right causal bias")
def test_tiled_attention_with_more_or_fewer_queries_than_keys_matches_torch(is_causal):
    # fmref's causal mask is bottom-right aligned: torch's causal_lower_right bias
    # (torch's own is_causal is top-left; the two agree only when Tq == Tk).
    torch.manual_seed(0)
    for t_q, t_k in [(10, 23), (23, 10)]:
        q, k, v = torch.randn(2, t_q, 8), torch.randn(2, t_k, 8), torch.randn(2, t_k, 5)
        out = tiled_attention(q, k, v, tile_size=4, is_causal=is_causal, scale=0.3)
        mask = causal_lower_right(t_q, t_k) if is_causal else None
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_tiled_attention_is_stable_for_huge_scores():
    # The running max keeps exp() from overflowing, like the stable softmax.
    q = torch.full((1, 9, 4), 100.0)
    k = torch.randn(1, 9, 4) * 100
    v = torch.randn(1, 9, 4)
    out = tiled_attention(q, k, v, tile_size=2)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)


def test_tiled_attention_gradients_match():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 20, 8, requires_grad=True) for _ in range(3))
    tiled_attention(q, k, v, tile_size=6, is_causal=True).square().sum().backward()
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    scaled_dot_product_attention(q, k, v, is_causal=True).square().sum().backward()
    for g, t in zip(grads, (q, k, v)):
        torch.testing.assert_close(g, t.grad, atol=1e-5, rtol=1e-5)


def test_tiled_attention_with_no_keys_returns_zeros():
    out = tiled_attention(torch.randn(1, 3, 4), torch.randn(1, 0, 4), torch.randn(1, 0, 4))
    assert out.shape == (1, 3, 4) and out.abs().sum() == 0


@settings(max_examples=30, deadline=None)
@given(
    t=st.integers(1, 40), tile=st.integers(1, 48), causal=st.booleans(), seed=st.integers(0, 1000)
)
def test_tiled_attention_exact_for_any_tile_size(t, tile, causal, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(3, 1, t, 4, generator=g).unbind(0)
    ref = scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(tiled_attention(q, k, v, tile, causal), ref, atol=1e-5, rtol=1e-5)


def test_sliding_window_mask_golden_and_consistent_with_attention():
    m = sliding_window_mask(6, 3)
    # Each query sees min(i + 1, window) keys, never the future.
    assert m.sum(-1).tolist() == [1, 2, 3, 3, 3, 3]
    assert not m.triu(1).any()
    assert sliding_window_mask(6, 10).equal(torch.ones(6, 6, dtype=torch.bool).tril())
    both = sliding_window_mask(7, 2, causal=False)
    assert both.equal(both.T) and both.sum(-1).tolist() == [3, 4, 5, 5, 5, 4, 3]


def test_strided_and_fixed_masks_follow_sparse_transformer():
    # Child et al. 2019, Fig. 3: every mask is causal and includes the diagonal.
    for m in (strided_mask(16, 4), fixed_mask(16, 4), fixed_mask(16, 4, n_summary=2)):
        assert not m.triu(1).any() and m.diagonal().all()
    s = strided_mask(16, 4)
    assert s[15].nonzero().flatten().tolist() == [3, 7, 11, 12, 13, 14, 15]
    f = fixed_mask(16, 4)
    assert f[13].nonzero().flatten().tolist() == [3, 7, 11, 12, 13]
    # With stride ~ sqrt(T), a query keeps O(sqrt(T)) keys: far fewer than T.
    big = strided_mask(1024, 32)
    assert big.sum(-1).max().item() <= 2 * 32
    # Two hops connect every pair (the paper's claim for the factorised heads).
    reach = (s.float() @ s.float()) > 0
    assert reach.equal(torch.ones(16, 16, dtype=torch.bool).tril())


def test_global_tokens_mask_longformer():
    m = global_tokens_mask(10, 2, [0, 9])
    assert m[0].all() and m[9].all() and m[:, 0].all() and m[:, 9].all()
    assert m[5].nonzero().flatten().tolist() == [0, 3, 4, 5, 6, 7, 9]
    assert global_tokens_mask(5, 1, []).equal(sliding_window_mask(5, 1, causal=False))


@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention_matches_explicit_kernel_attention(causal):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 12, 6).unbind(0)
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    w = phi_q @ phi_k.transpose(-2, -1)  # (B, T, T) unnormalised kernel weights
    if causal:
        w = w.tril()
    ref = (w / w.sum(-1, keepdim=True)) @ v
    torch.testing.assert_close(linear_attention(q, k, v, causal=causal), ref, atol=1e-5, rtol=1e-4)


def test_attention_memory_bytes_model():
    assert attention_memory_bytes(1024) == 2 * 1024 * 1024 * 4
    assert (
        attention_memory_bytes(1024, bytes_per_element=2, n_heads=2, batch=3)
        == 2 * 1024**2 * 2 * 2 * 3
    )
    assert attention_memory_bytes(8, tile_size=128) == (2 * 64 + 8 * 66) * 4
    # The ratio grows linearly with T once T >> tile.
    r1 = attention_memory_bytes(4096) / attention_memory_bytes(4096, tile_size=128)
    r2 = attention_memory_bytes(8192) / attention_memory_bytes(8192, tile_size=128)
    assert r2 > 1.9 * r1


def test_bad_input_raises_naming_the_argument():
    q = torch.randn(1, 4, 8)
    with pytest.raises(ValueError, match="tile_size"):
        tiled_attention(q, q, q, tile_size=0)
    with pytest.raises(ValueError, match="tile_size"):
        tiled_attention(q, q, q, tile_size=2.5)
    with pytest.raises(ValueError, match="k must"):
        tiled_attention(q, torch.randn(1, 4, 6), q)
    with pytest.raises(ValueError, match="v must"):
        tiled_attention(q, q, torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="window"):
        sliding_window_mask(8, 0)
    with pytest.raises(ValueError, match="seq_len"):
        sliding_window_mask(0, 2)
    with pytest.raises(ValueError, match="stride"):
        strided_mask(8, 0)
    with pytest.raises(ValueError, match="n_summary"):
        fixed_mask(8, 2, n_summary=3)
    with pytest.raises(ValueError, match="global_idx"):
        global_tokens_mask(8, 2, [8])
    with pytest.raises(ValueError, match="k must"):
        linear_attention(q, torch.randn(1, 4, 6), q)
    with pytest.raises(ValueError, match="v must"):
        linear_attention(q, q, torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="causal"):
        linear_attention(q, torch.randn(1, 5, 8), torch.randn(1, 5, 8), causal=True)
    with pytest.raises(ValueError, match="tile_size"):
        attention_memory_bytes(64, tile_size=0)
    with pytest.raises(ValueError, match="d_head"):
        attention_memory_bytes(64, d_head=0)
