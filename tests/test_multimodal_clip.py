"""Tests of fmref.multimodal.contrastive and fmref.multimodal.clip."""

import math

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from fmref.multimodal.clip import CLIP, CLIPConfig, CLIPEncoderLayer, quick_gelu, zero_shot_classify
from fmref.multimodal.contrastive import CLIP_LOGIT_SCALE_INIT, clip_loss, siglip_loss

SMALL = dict(
    image_size=8, patch_size=2, num_channels=1, vision_width=16, vision_layers=1, vision_heads=2,
    vision_mlp_dim=32, vocab_size=12, context_length=6, text_width=16, text_layers=1,
    text_heads=2, text_mlp_dim=32, projection_dim=8,
)  # fmt: skip


def hf_clip(eos_token_id=60, hidden_act="quick_gelu", seed=0):
    config = transformers.CLIPConfig(
        text_config=dict(
            vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=10, eos_token_id=eos_token_id,
            hidden_act=hidden_act,
        ),
        vision_config=dict(
            image_size=12, patch_size=4, num_channels=3, hidden_size=24, intermediate_size=40,
            num_hidden_layers=2, num_attention_heads=3, hidden_act=hidden_act,
        ),
        projection_dim=16,
    )  # fmt: skip
    torch.manual_seed(seed)
    hf = transformers.CLIPModel(config).eval()
    with torch.no_grad():  # an arbitrary non-initial temperature, so that it is really copied
        hf.logit_scale.fill_(3.1)
    return hf


def inputs(eos):
    g = torch.Generator().manual_seed(1)
    images = torch.randn(3, 3, 12, 12, generator=g)
    ids = torch.randint(1, 50, (4, 7), generator=g)
    ids[0, 6], ids[1, 3], ids[2, 5], ids[3, 1] = eos, eos, eos, eos  # eos at different places
    return images, ids


@pytest.mark.parametrize("eos", [60, 2])  # 2: the legacy rule, pooled at argmax(input_ids)
def test_from_hf_logits_match_transformers(eos):
    hf = hf_clip(eos_token_id=eos)
    model = CLIP.from_hf(hf)
    images, ids = inputs(eos if eos != 2 else 60)  # legacy: eos = the largest id
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=images, return_loss=False)
        per_image, per_text = model(images, ids)
    torch.testing.assert_close(per_image, out.logits_per_image, rtol=0, atol=1e-5)
    torch.testing.assert_close(per_text, out.logits_per_text, rtol=0, atol=1e-5)
    assert model.config.eos_token_id == (None if eos == 2 else eos)


def test_from_hf_loss_and_padding_mask_match_transformers():
    hf = hf_clip(hidden_act="gelu")
    model = CLIP.from_hf(hf)
    g = torch.Generator().manual_seed(2)
    images = torch.randn(4, 3, 12, 12, generator=g)
    _, ids = inputs(60)
    mask = (torch.arange(7) <= (ids == 60).int().argmax(-1, keepdim=True)).long()  # pad after eos
    ids = torch.where(mask.bool(), ids, 0)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=images, attention_mask=mask, return_loss=True)
        ours = model(images, ids, attention_mask=mask)[0]
        loss = model.loss(images, ids, attention_mask=mask)
    torch.testing.assert_close(ours, out.logits_per_image, rtol=0, atol=1e-5)
    torch.testing.assert_close(loss, out.loss, rtol=0, atol=1e-5)
    # our loss function on transformers' own normalised embeddings and temperature
    torch.testing.assert_close(
        clip_loss(out.image_embeds, out.text_embeds, hf.logit_scale), out.loss, rtol=0, atol=1e-6
    )


def test_default_config_has_the_parameter_count_of_transformers_vit_b32():
    with torch.device("meta"):
        ours = CLIP(CLIPConfig())
        theirs = transformers.CLIPModel(transformers.CLIPConfig())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) == count(theirs) == 151_277_313  # openai/clip-vit-base-patch32


@pytest.mark.parametrize(
    "change, match",
    [({"hidden_act": "relu"}, "hidden_act"), ({"layer_norm_eps": 1e-6}, "layer_norm_eps")],
)
def test_from_hf_rejects_towers_it_cannot_copy(change, match):
    hf = hf_clip()
    key = "hidden_act" if "hidden_act" in change else "layer_norm_eps"
    setattr(hf.config.text_config, key, change[key])
    with pytest.raises(ValueError, match=match):
        CLIP.from_hf(hf)


def reference_clip_loss(x, y, scale):
    # Radford et al. 2021, figure 3 pseudo-code, written with explicit log-softmax sums
    x = x / x.norm(dim=1, keepdim=True)
    y = y / y.norm(dim=1, keepdim=True)
    logits = x @ y.T * math.exp(scale)
    n = len(x)
    loss_i = -sum(logits[i, i] - torch.logsumexp(logits[i], 0) for i in range(n)) / n
    loss_t = -sum(logits[i, i] - torch.logsumexp(logits[:, i], 0) for i in range(n)) / n
    return (loss_i + loss_t) / 2


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(2, 8), scale=st.floats(-2, 4), seed=st.integers(0, 99))
def test_clip_loss_equals_the_papers_formula(n, d, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(n, d, generator=g, dtype=torch.float64),
    )
    torch.testing.assert_close(clip_loss(x, y, scale), reference_clip_loss(x, y, scale))
    # invariant to the embeddings' norms (normalised inside)
    torch.testing.assert_close(clip_loss(3 * x, 0.5 * y, scale), clip_loss(x, y, scale))


def test_clip_default_temperature_is_one_over_0_07():
    assert CLIP_LOGIT_SCALE_INIT == pytest.approx(2.6592600)  # ln(1/0.07), Radford et al. 2021
    assert math.exp(CLIP_LOGIT_SCALE_INIT) == pytest.approx(1 / 0.07)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 99), t=st.floats(-1, 3), b=st.floats(-12, 2))
def test_siglip_loss_equals_the_papers_formula(n, seed, t, b):
    g = torch.Generator().manual_seed(seed)
    x, y = (
        torch.randn(n, 5, generator=g, dtype=torch.float64),
        torch.randn(n, 5, generator=g, dtype=torch.float64),
    )
    xn, yn = F.normalize(x, dim=1), F.normalize(y, dim=1)
    # Zhai et al. 2023, algorithm 1: -sum(log_sigmoid(labels * logits)) / n
    ref = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            ref -= math.log(1 / (1 + math.exp(-z * (math.exp(t) * float(xn[i] @ yn[j]) + b))))
    assert siglip_loss(x, y, t, b).item() == pytest.approx(ref / n, rel=1e-9, abs=1e-12)


def test_siglip_loss_matches_transformers():
    config = transformers.SiglipConfig(
        text_config=dict(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=8),
        vision_config=dict(image_size=8, patch_size=4, hidden_size=16, intermediate_size=32,
                           num_hidden_layers=1, num_attention_heads=2),
    )  # fmt: skip
    torch.manual_seed(0)
    hf = transformers.SiglipModel(config).eval()
    g = torch.Generator().manual_seed(3)
    images, ids = torch.randn(3, 3, 8, 8, generator=g), torch.randint(0, 40, (3, 8), generator=g)
    with torch.no_grad():
        out = hf(input_ids=ids, pixel_values=images, return_loss=True)
    ours = siglip_loss(out.image_embeds, out.text_embeds, hf.logit_scale, hf.logit_bias)
    torch.testing.assert_close(ours, out.loss, rtol=0, atol=1e-5)


@pytest.mark.parametrize("loss", [clip_loss, siglip_loss])
def test_losses_reject_mismatched_embeddings(loss):
    with pytest.raises(ValueError, match="text_embeds"):
        loss(torch.randn(4, 8), torch.randn(4, 6))  # dimensions differ
    with pytest.raises(ValueError, match="text_embeds"):
        loss(torch.randn(4, 8), torch.randn(3, 8))  # batch sizes differ
    with pytest.raises(ValueError, match="image_embeds"):
        loss(torch.randn(4), torch.randn(4))
    with pytest.raises(TypeError, match="image_embeds"):
        loss([[1.0]], torch.randn(1, 1))


def test_quick_gelu_is_x_sigmoid_1_702x():
    x = torch.linspace(-4, 4, 9)
    # transformers' QuickGELUActivation (the activation of OpenAI's CLIP)
    ref = transformers.activations.ACT2FN["quick_gelu"](x)
    torch.testing.assert_close(quick_gelu(x), ref)


def test_text_tower_is_causal_and_pooled_at_eos():
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(**SMALL, eos_token_id=11)).eval()
    a = torch.tensor([[3, 4, 11, 5, 6, 7]])
    b = torch.tensor([[3, 4, 11, 9, 1, 2]])  # differs only after the end-of-text token
    c = torch.tensor([[3, 5, 11, 5, 6, 7]])  # differs before it
    with torch.no_grad():
        ea, eb, ec = (model.encode_text(t) for t in (a, b, c))
    torch.testing.assert_close(ea, eb)
    assert not torch.allclose(ea, ec)


def test_clip_rejects_bad_inputs():
    model = CLIP(CLIPConfig(**SMALL, eos_token_id=11))
    with pytest.raises(ValueError, match="pixel_values"):
        model.encode_image(torch.randn(2, 1, 10, 10))  # wrong image size
    with pytest.raises(ValueError, match="input_ids"):
        model.encode_text(torch.zeros(2, 7, dtype=torch.long))  # longer than context_length
    with pytest.raises(ValueError, match="eos_token_id"):
        model.encode_text(torch.ones(2, 4, dtype=torch.long))  # no end-of-text
    with pytest.raises(ValueError, match="class_prompts"):
        zero_shot_classify(model, torch.randn(1, 1, 8, 8), torch.ones(2, 2, 2, 3, dtype=torch.long))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"patch_size": 3}, "patch_size"),
        ({"vision_heads": 3}, "vision_width"),
        ({"hidden_act": "relu"}, "hidden_act"),
        ({"text_layers": 0}, "text_layers"),
    ],
)
def test_config_rejects_bad_sizes(change, match):
    with pytest.raises(ValueError, match=match):
        CLIPConfig(**{**SMALL, **change})


def test_zero_shot_classify_picks_the_most_similar_prompt():
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(**SMALL, eos_token_id=11)).eval()
    images = torch.randn(5, 1, 8, 8)
    prompts = torch.tensor(
        [[[1, 2, 11], [3, 2, 11]], [[1, 4, 11], [3, 4, 11]], [[5, 6, 11], [7, 6, 11]]]
    )
    pred, probs = zero_shot_classify(model, images, prompts)
    with torch.no_grad():
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(prompts.reshape(6, 3)), dim=-1).reshape(3, 2, -1)
        cls = F.normalize(txt.mean(1), dim=-1)
    assert torch.equal(pred, (img @ cls.T).argmax(-1))
    # one prompt per class: the (K, T) form gives the logits of the forward pass, softmaxed
    pred1, probs1 = zero_shot_classify(model, images, prompts[:, 0])
    with torch.no_grad():
        torch.testing.assert_close(probs1, model(images, prompts[:, 0])[0].softmax(-1))


def test_encoder_layer_gelu_option():
    layer = CLIPEncoderLayer(8, 2, 16, hidden_act="gelu")
    assert layer.act is F.gelu
