"""Tests of fmref.models.deepseek: equivalence with transformers' DeepseekV3ForCausalLM,
cached and absorbed decoding, multi-token prediction, the published configuration."""

import dataclasses

import pytest
import torch
import transformers

from fmref.infer.generate import generate
from fmref.models.deepseek import (
    DeepSeekV3,
    DeepSeekV3Config,
    deepseek_tiny,
    mtp_acceptance,
    mtp_lm_loss,
)
from fmref.scaling import active_parameters, count_parameters

HF_SMALL = dict(
    vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
    num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=8,
    n_shared_experts=2, n_group=4, topk_group=2, num_experts_per_tok=3, kv_lora_rank=16,
    q_lora_rank=24, qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=6,
    first_k_dense_replace=1, routed_scaling_factor=2.5, max_position_embeddings=32,
    rms_norm_eps=1e-5,
)  # fmt: skip


def _hf(**overrides):
    torch.manual_seed(0)
    hf = transformers.DeepseekV3ForCausalLM(
        transformers.DeepseekV3Config(**{**HF_SMALL, **overrides})
    ).eval()
    with torch.no_grad():  # larger weights, distinct norms and a nonzero routing bias
        for name, p in hf.named_parameters():
            p.copy_(1 + 0.5 * torch.randn_like(p) if "norm" in name else 0.2 * torch.randn_like(p))
        for layer in hf.model.layers[HF_SMALL["first_k_dense_replace"] :]:
            layer.mlp.gate.e_score_correction_bias.normal_(0, 0.1)
    return hf


@pytest.fixture(scope="module")
def pair():
    hf = _hf()
    return hf, DeepSeekV3.from_hf(hf)


def test_from_hf_logits_equal_transformers(pair):
    hf, model = pair
    idx = torch.randint(0, 64, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    # the routing bias was copied and changes the choice of experts
    assert model.layers[1].mlp.e_score_correction_bias.abs().sum() > 0
    assert count_parameters(model.config) == sum(p.numel() for p in hf.parameters())


def test_from_hf_with_deepseek_yarn_and_direct_queries():
    rope = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "beta_fast": 32.0,
            "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 0.8,
            "original_max_position_embeddings": 8}  # fmt: skip
    hf = _hf(rope_parameters=rope, q_lora_rank=None, rope_interleave=False, num_hidden_layers=2)
    model = DeepSeekV3.from_hf(hf)
    assert model.config.softmax_scale() != pytest.approx(12**-0.5)  # mscale_all_dim applied
    idx = torch.randint(0, 64, (1, 24), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, atol=1e-5, rtol=0)


def test_cached_absorbed_generation_equals_uncached(pair):
    _, model = pair
    prompt = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(3))
    plain = generate(model, prompt, 10, temperature=0.0, use_cache=False)
    cached = generate(model, prompt, 10, temperature=0.0, use_cache=True)
    assert torch.equal(plain, cached)
    # the same through the absorbed form, step by step
    cache, seq = model.make_kv_cache(), prompt
    logits = model(seq, kv_cache=cache, absorb=True)
    for _ in range(10):
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], 1)
        logits = model(nxt, kv_cache=cache, absorb=True)
    assert torch.equal(seq, plain)


def test_parameter_count_equals_instantiated_model():
    cfg = dataclasses.replace(deepseek_tiny(), tie_word_embeddings=True)
    model = DeepSeekV3(cfg)
    assert count_parameters(cfg) == sum(p.numel() for p in model.parameters())
    # active: the 8 - 2 unused routed experts of the one MoE layer drop out
    assert count_parameters(cfg) - active_parameters(cfg) == 6 * 3 * 32 * 16


def test_deepseek_v3_counts_match_the_paper_and_transformers():
    # DeepSeek-V3 technical report (arXiv:2412.19437), abstract: 671B total, 37B activated
    # per token; the HF checkpoint's 685B adds the 14B MTP module.
    from fmref.models.deepseek import deepseek_v3

    cfg = deepseek_v3()
    total, active = count_parameters(cfg), active_parameters(cfg)
    assert abs(total / 671e9 - 1) < 0.001
    assert abs(active_parameters(cfg, embeddings=False) / 37e9 - 1) < 0.015
    assert abs(active / 37e9 - 1) < 0.015
    # transformers' model of the default config (= DeepSeek-V3's config.json), on meta
    with torch.device("meta"):
        hf = transformers.DeepseekV3ForCausalLM(transformers.DeepseekV3Config())
    assert total == sum(p.numel() for p in hf.parameters())


def test_mtp_loss_trains_the_mtp_module_and_its_draft_is_scored():
    cfg = dataclasses.replace(deepseek_tiny(), num_nextn_predict_layers=1)
    torch.manual_seed(0)
    model = DeepSeekV3(cfg)
    batch = torch.randint(0, 64, (2, 12))
    loss = mtp_lm_loss(model, batch)
    loss.backward()
    assert model.mtp[0].eh_proj.weight.grad.abs().sum() > 0
    # DeepSeek-V3 eq. (25): next-token loss + lambda * (depth-1 loss on tokens i + 2)
    with torch.no_grad():
        logits, h = model(batch, return_hidden=True)
        main = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, 64), batch[:, 1:].reshape(-1)
        )
        extra = torch.nn.functional.cross_entropy(
            model.mtp_logits(batch, h)[0][:, :-1].reshape(-1, 64), batch[:, 2:].reshape(-1)
        )
    torch.testing.assert_close(loss.detach(), main + 0.3 * extra)
    # acceptance, recomputed step by step: after each greedy token, the MTP module drafts
    # the next one from the last hidden state and the token just produced
    model.eval()
    prompts = torch.randint(0, 64, (3, 4), generator=torch.Generator().manual_seed(4))
    seq, draft, hits = prompts, None, []
    with torch.no_grad():
        for _ in range(7):
            nxt = model(seq)[:, -1].argmax(-1)
            if draft is not None:
                hits.append(draft == nxt)
            seq = torch.cat([seq, nxt[:, None]], 1)
            draft = model.mtp_logits(seq, model(seq, return_hidden=True)[1])[0][:, -1].argmax(-1)
    expected = torch.stack(hits).float().mean().item()
    assert mtp_acceptance(model, prompts, 7) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kw, name",
    [(dict(kv_lora_rank=0), "kv_lora_rank"), (dict(qk_rope_head_dim=5), "qk_rope_head_dim"),
     (dict(num_experts_per_tok=9), "num_experts_per_tok"), (dict(n_group=3), "n_group"),
     (dict(topk_group=5), "topk_group"), (dict(n_group=4, topk_group=1, num_experts_per_tok=3),
                                           "num_experts_per_tok")],
)  # fmt: skip
def test_bad_config_names_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        DeepSeekV3Config(**{**deepseek_tiny().__dict__, **kw})


def test_mtp_module_equals_transformers_mtp_layer():
    # transformers 5's MtpModel (modeling_layers.py) is the reference MTP layer: enorm, hnorm,
    # eh_proj on [enorm(embedding of token i+1); hnorm(h_i)], a decoder block, post_norm, the
    # shared head.
    from transformers.modeling_layers import MtpModel

    hf = _hf(num_mtp_layers=1)
    hf_mtp = MtpModel(hf, 1).eval()
    with torch.no_grad():
        for p in hf_mtp.layers.parameters():
            p.copy_(1 + 0.5 * torch.randn_like(p) if p.dim() == 1 else 0.2 * torch.randn_like(p))
        hf_mtp.layers[0].mtp_block.mlp.gate.e_score_correction_bias.normal_(0, 0.1)
    model = DeepSeekV3.from_hf(hf, mtp_model=hf_mtp)
    idx = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        _, hidden = model(idx, return_hidden=True)
        ours = model.mtp_logits(idx, hidden)[0]  # (B, T - 1, V): position i predicts i + 2
        h_hf = hf.model(idx).last_hidden_state
        theirs = hf_mtp._project_to_logits(
            hf_mtp.forward_layer(
                0, h_hf[:, :-1], torch.arange(1, 12)[None], None, input_ids=idx[:, 1:]
            )
        )
    torch.testing.assert_close(hidden, h_hf, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
