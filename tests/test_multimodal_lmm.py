"""Tests of fmref.multimodal.lmm."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.gpt import GPT, GPTConfig
from fmref.multimodal.lmm import (
    FlamingoLM,
    GatedCrossAttention,
    LLaVA,
    PerceiverResampler,
    VisionProjector,
    image_token_count,
    splice_image_tokens,
)


def small_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=20, block_size=24, n_layer=2, n_head=2, n_embd=16)).eval()


def test_image_token_counts_of_published_models():
    # LLaVA-1.5: CLIP ViT-L/14 at 336 px -> 24 x 24 = 576 tokens (Liu et al. 2024, sec. 3)
    assert image_token_count(336, 14) == 576
    # CLIP ViT-B/32 at 224 px: 7 x 7 patches + class token
    assert image_token_count(224, 32, cls_token=True) == 50
    with pytest.raises(ValueError, match="patch_size"):
        image_token_count(336, 15)


def test_projector_depths_follow_llava_and_llava_15():
    linear, mlp = VisionProjector(6, 10, depth=1), VisionProjector(6, 10)
    assert [type(m).__name__ for m in linear.net] == ["Linear"]
    assert [type(m).__name__ for m in mlp.net] == ["Linear", "GELU", "Linear"]
    with pytest.raises(ValueError, match="depth"):
        VisionProjector(6, 10, depth=3)


def test_splice_puts_each_image_feature_at_its_placeholder():
    ids = torch.tensor([[4, 0, 0, 0, 5, 6], [0, 0, 7, 8, 0, 9]])  # image id 0, two layouts
    embeds = torch.randn(2, 6, 3)
    feats = torch.arange(2 * 3 * 3, dtype=torch.float32).reshape(2, 3, 3)
    out = splice_image_tokens(embeds, ids, feats, image_token_id=0)
    for b in range(2):
        positions = (ids[b] == 0).nonzero().flatten()
        torch.testing.assert_close(out[b, positions], feats[b])  # in order, own image
        keep = ids[b] != 0
        torch.testing.assert_close(out[b, keep], embeds[b, keep])  # text untouched


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_splice_property_any_layout(data):
    B, T, N = (
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(4, 10)),
        data.draw(st.integers(1, 4)),
    )
    ids = torch.randint(1, 9, (B, T))
    for b in range(B):
        pos = data.draw(st.lists(st.integers(0, T - 1), min_size=N, max_size=N, unique=True))
        ids[b, pos] = 0
    embeds, feats = torch.randn(B, T, 2), torch.randn(B, N, 2)
    out = splice_image_tokens(embeds, ids, feats, 0)
    assert torch.equal(out[ids == 0], feats.reshape(-1, 2))


def test_splice_rejects_bad_shapes_and_counts():
    ids = torch.tensor([[0, 0, 5]])
    with pytest.raises(ValueError, match="image tokens"):
        splice_image_tokens(torch.randn(1, 3, 4), ids, torch.randn(1, 3, 4), 0)  # 2 slots, 3 feats
    with pytest.raises(ValueError, match="image_features"):
        splice_image_tokens(torch.randn(1, 3, 4), ids, torch.randn(1, 2, 5), 0)  # width
    with pytest.raises(ValueError, match="image_features"):
        splice_image_tokens(torch.randn(1, 3, 4), ids, torch.randn(2, 2, 4), 0)  # batch
    with pytest.raises(ValueError, match="token_embeds"):
        splice_image_tokens(torch.randn(1, 4, 4), ids, torch.randn(1, 2, 4), 0)


def test_llava_text_only_positions_before_the_image_match_the_lm():
    lm = small_gpt()
    model = LLaVA(lambda x: x, lm, vision_dim=5, image_token_id=0).eval()
    ids = torch.tensor([[3, 4, 0, 0, 6]])
    feats = torch.randn(1, 2, 5)
    with torch.no_grad():
        logits = model(None, ids, image_features=feats)
        ref = lm(ids)
        # causal: the two tokens before the image see no image and equal the plain LM
        torch.testing.assert_close(logits[:, :2], ref[:, :2])
        assert not torch.allclose(logits[:, 4], ref[:, 4])
        # the spliced sequence through GPT's own blocks
        x = splice_image_tokens(lm.wte(ids), ids, model.projector(feats), 0)
        x = x + lm.wpe(torch.arange(5))
        for block in lm.h:
            x = block(x)
        torch.testing.assert_close(logits, lm.lm_head(lm.ln_f(x)))


def test_llava_generate_is_greedy_and_stops_at_eos():
    lm = small_gpt()
    model = LLaVA(lambda x: x, lm, vision_dim=5, image_token_id=0).eval()
    images, ids = torch.randn(2, 2, 5), torch.tensor([[0, 0, 3], [0, 0, 4]])
    out = model.generate(images, ids, max_new_tokens=4)
    seq = ids
    for _ in range(4):
        seq = torch.cat([seq, model(images, seq)[:, -1:].argmax(-1)], 1)
    assert torch.equal(out, seq[:, 3:])
    eos = int(out[0, 0])
    stopped = model.generate(images, ids, max_new_tokens=4, eos_token_id=eos)
    assert (stopped[0] == eos).all()
    with pytest.raises(ValueError, match="block_size"):
        model.generate(images, torch.tensor([[0, 0] + [3] * 23] * 2), 1)


def test_gated_cross_attention_at_init_leaves_the_language_model_unchanged():
    lm = small_gpt()
    flamingo = FlamingoLM(lm, d_visual=12, n_heads=2).eval()
    ids, visual = torch.randint(0, 20, (3, 7)), torch.randn(3, 5, 12)
    with torch.no_grad():
        torch.testing.assert_close(flamingo(ids, visual), lm(ids), rtol=0, atol=0)
    assert not any(p.requires_grad for p in lm.parameters())


def test_gated_cross_attention_opens_with_its_gate():
    xattn = GatedCrossAttention(16, 2, d_visual=8)
    x, visual = torch.randn(2, 4, 16), torch.randn(2, 3, 8)
    with torch.no_grad():
        xattn.attn_gate.fill_(0.5)
    y = xattn(x, visual)
    assert not torch.allclose(y, x)
    # gradients reach the gate at initialisation (tanh'(0) = 1), so it can open
    xattn2 = GatedCrossAttention(16, 2, d_visual=8)
    xattn2(x, visual).sum().backward()
    assert xattn2.attn_gate.grad.abs() > 0 and xattn2.ffw_gate.grad.abs() > 0
    with pytest.raises(ValueError, match="visual"):
        xattn(x, torch.randn(2, 3, 16))  # wrong width
    with pytest.raises(ValueError, match="visual"):
        xattn(x, torch.randn(1, 3, 8))  # wrong batch


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 300), b=st.integers(1, 3))
def test_resampler_returns_a_fixed_number_of_tokens(n, b):
    torch.manual_seed(0)
    resampler = PerceiverResampler(d_model=8, n_latents=5, n_layers=1, n_heads=2)
    assert resampler(torch.randn(b, n, 8)).shape == (b, 5, 8)


def test_resampler_output_depends_on_its_input_and_rejects_bad_width():
    torch.manual_seed(0)
    resampler = PerceiverResampler(d_model=8, n_latents=4, n_heads=2)
    a, b = resampler(torch.randn(1, 10, 8)), resampler(torch.randn(1, 10, 8))
    assert not torch.allclose(a, b)
    # a permutation of the input features does not change the output (no positions inside)
    x = torch.randn(1, 10, 8)
    torch.testing.assert_close(resampler(x), resampler(x[:, torch.randperm(10)]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="x must have shape"):
        resampler(torch.randn(1, 10, 6))
