"""Tests of fmref.nn.mla: MLA against transformers' DeepseekV3Attention, the latent cache,
weight absorption, bad input."""

import pytest
import torch
import transformers

from fmref.nn.attention import causal_mask
from fmref.nn.mla import MLACache, MultiHeadLatentAttention
from fmref.nn.position import rope_angles

DIMS = dict(d_model=32, n_heads=4, kv_lora_rank=16, qk_rope_head_dim=4, qk_nope_head_dim=8,
            v_head_dim=6)  # fmt: skip


def _mla(**kw):
    torch.manual_seed(0)
    attn = MultiHeadLatentAttention(**{**DIMS, "q_lora_rank": 24, **kw}).eval()
    with torch.no_grad():
        for name, p in attn.named_parameters():  # distinct norm gains: a swap shows
            p.copy_(
                1 + 0.5 * torch.randn_like(p) if "layernorm" in name else 0.3 * torch.randn_like(p)
            )
    return attn


@pytest.mark.parametrize("q_lora_rank", [24, None])
@pytest.mark.parametrize("interleave", [True, False])
def test_equals_transformers_deepseek_v3_attention(q_lora_rank, interleave):
    # transformers 5's DeepseekV3Attention is the reference implementation of MLA.
    from transformers.models.deepseek_v3 import modeling_deepseek_v3 as m

    hf_cfg = transformers.DeepseekV3Config(
        hidden_size=32, num_attention_heads=4, num_key_value_heads=4, kv_lora_rank=16,
        q_lora_rank=q_lora_rank, qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=6,
        rope_interleave=interleave, max_position_embeddings=16,
    )  # fmt: skip
    hf_cfg._attn_implementation = "eager"
    ours = _mla(q_lora_rank=q_lora_rank, rope_interleave=interleave)
    theirs = m.DeepseekV3Attention(hf_cfg, layer_idx=0).eval()
    theirs.load_state_dict(ours.state_dict())  # the same parameter names
    x = torch.randn(2, 7, 32)
    rotary = m.DeepseekV3RotaryEmbedding(hf_cfg)
    cos_sin = rotary(x, torch.arange(7)[None])
    mask = torch.full((7, 7), float("-inf")).triu(1)[None, None]
    with torch.no_grad():
        expected, _ = theirs(x, cos_sin, mask)
        got = ours(x, rope_angles(4, 16), causal_mask(7, 7))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_absorbed_attention_equals_expanded_with_and_without_cache():
    attn, x, rope = _mla(), torch.randn(2, 9, 32), rope_angles(4, 16)
    with torch.no_grad():
        full = attn(x, rope, causal_mask(9, 9))
        torch.testing.assert_close(attn(x, rope, causal_mask(9, 9), absorb=True), full,
                                   atol=1e-5, rtol=0)  # fmt: skip
        for absorb in (False, True):
            cache = MLACache(1)
            steps = [attn(x[:, :4], rope, causal_mask(4, 4), cache, absorb=absorb)]
            for t in range(4, 9):
                steps.append(
                    attn(x[:, t : t + 1], rope, causal_mask(1, t + 1), cache, absorb=absorb)
                )
            torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)
    # The cache holds the latent and the RoPE key only: (16 + 4) numbers per token.
    assert tuple(cache.keys[0].shape) == (2, 1, 9, 16) and tuple(cache.values[0].shape) == (
        2,
        1,
        9,
        4,
    )
    assert cache.nbytes() == 2 * 9 * (16 + 4) * 4


def test_positions_enter_only_through_the_rope_key():
    # With a zero RoPE width the scores would be position-free; here shifting every
    # position by the same offset leaves the output unchanged (RoPE is relative).
    attn, x = _mla(), torch.randn(1, 5, 32)
    rope = rope_angles(4, 32)
    with torch.no_grad():
        a = attn(x, rope, causal_mask(5, 5))
        b = attn(x, rope[7:], causal_mask(5, 5))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "kw, name",
    [(dict(kv_lora_rank=0), "kv_lora_rank"), (dict(qk_rope_head_dim=3), "qk_rope_head_dim"),
     (dict(q_lora_rank=0), "q_lora_rank"), (dict(v_head_dim=-1), "v_head_dim")],
)  # fmt: skip
def test_bad_sizes_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        MultiHeadLatentAttention(**{**DIMS, **kw})


def test_cache_refuses_mismatched_latent_and_rope_key():
    with pytest.raises(ValueError, match="k_rope"):
        MLACache(1).update(0, torch.zeros(1, 1, 3, 8), torch.zeros(1, 1, 2, 4))
