"""Tests of fmref.models.llama: equivalence with transformers, the KV cache, bad input."""

import dataclasses

import pytest
import torch
import transformers

from fmref.models.llama import (
    Llama,
    LlamaConfig,
    SwiGLU,
    llama2_70b,
    llama_7b,
    llama_13b,
    mistral_7b,
    swiglu_hidden_dim,
)

SMALL = dict(
    vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=48, max_seq_len=32
)


def _randomise(hf_model):
    """transformers initialises RMSNorm gains to ones and weights with std 0.02, where
    SiLU is nearly linear and ``silu(a) * b ~ a * b / 2`` is symmetric in gate and up.
    Distinct gains and larger weights make any swap in the weight mapping visible."""
    with torch.no_grad():
        for name, p in hf_model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.5 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2)


def _hf_llama(**overrides):
    fields = dict(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    )
    fields.update(overrides)
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**fields)).eval()
    _randomise(hf)
    return hf


def test_from_hf_matches_transformers_llama_with_gqa():
    hf = _hf_llama()
    model = Llama.from_hf(hf)
    assert model.config.n_kv_heads == 2 < model.config.n_heads == 4  # grouped-query
    assert model.config.rope_theta == 500.0 and model.config.norm_eps == 1e-5
    idx = torch.randint(0, 64, (3, 20))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx).logits
    assert ours.shape == theirs.shape == (3, 20, 64)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_from_hf_matches_transformers_mistral_sliding_window():
    cfg = transformers.MistralConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        max_position_embeddings=32,
        sliding_window=4,
    )
    hf = transformers.MistralForCausalLM(cfg).eval()
    _randomise(hf)
    model = Llama.from_hf(hf)
    assert model.config.sliding_window == 4 and model.config.n_kv_heads == 1  # multi-query
    idx = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx).logits
        model.config.sliding_window = None  # the window must matter for this test to pin it
        full = model(idx)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert not torch.allclose(full[:, 8:], theirs[:, 8:], atol=1e-3)


@pytest.mark.parametrize("window", [None, 3])
def test_kv_cache_generation_matches_full_recompute(window):
    model = Llama(LlamaConfig(**SMALL, sliding_window=window)).eval()
    idx = torch.randint(0, 64, (2, 12))
    with torch.no_grad():
        full = model(idx)  # (B, T, V)
        cache = model.make_kv_cache()
        steps = [model(idx[:, :5], kv_cache=cache)]  # prefill 5 tokens
        for t in range(5, 12):  # then one token at a time
            steps.append(model(idx[:, t : t + 1], kv_cache=cache))
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


def test_gqa_shrinks_key_value_projections_and_cache():
    model = Llama(LlamaConfig(**SMALL))
    attn = model.layers[0].attention
    assert attn.q_proj.weight.shape == (32, 32)
    assert attn.k_proj.weight.shape == attn.v_proj.weight.shape == (16, 32)  # 2 heads of 8
    cache = model.make_kv_cache()
    model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)
    assert cache.keys[0].shape == (1, 2, 3, 8)  # (B, n_kv_heads, T, head_dim)


def test_head_is_untied_and_has_no_biases():
    model = Llama(LlamaConfig(**SMALL))
    assert model.output.weight.data_ptr() != model.tok_embeddings.weight.data_ptr()
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    assert "rope" not in model.state_dict()  # a buffer recomputed from the config


def test_swiglu_is_silu_gate_times_up_then_down():
    ffn = SwiGLU(8, 16)
    x = torch.randn(2, 8)
    expected = ffn.w2(torch.nn.functional.silu(ffn.w1(x)) * ffn.w3(x))
    torch.testing.assert_close(ffn(x), expected)


def test_swiglu_hidden_dim_reproduces_published_widths():
    # Meta's params.json: LLaMA-7B/13B multiple_of=256; LLaMA-2-70B multiple_of=4096,
    # ffn_dim_multiplier=1.3 (Touvron et al. 2023a, 2023b).
    assert swiglu_hidden_dim(4096) == llama_7b().hidden_dim == 11008
    assert swiglu_hidden_dim(5120) == llama_13b().hidden_dim == 13824
    assert swiglu_hidden_dim(8192, 4096, 1.3) == llama2_70b().hidden_dim == 28672


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dim=0), "dim"),
        (dict(vocab_size=1.5), "vocab_size"),
        (dict(n_layers=True), "n_layers"),
        (dict(dim=30), "dim must be divisible by n_heads"),
        (dict(dim=36, n_heads=12, n_kv_heads=4), "even"),
        (dict(n_kv_heads=3), "n_kv_heads"),
        (dict(norm_eps=0.0), "norm_eps"),
        (dict(rope_theta=-1.0), "rope_theta"),
        (dict(sliding_window=0), "sliding_window"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LlamaConfig(**{**SMALL, **kwargs})


def test_swiglu_hidden_dim_rejects_bad_values():
    with pytest.raises(ValueError, match="dim"):
        swiglu_hidden_dim(0)
    with pytest.raises(ValueError, match="multiple_of"):
        swiglu_hidden_dim(64, multiple_of=-1)
    with pytest.raises(ValueError, match="ffn_dim_multiplier"):
        swiglu_hidden_dim(64, ffn_dim_multiplier=0.0)


def test_forward_rejects_bad_input():
    model = Llama(LlamaConfig(**SMALL))
    with pytest.raises(TypeError, match="config"):
        Llama(SMALL)
    with pytest.raises(TypeError, match="idx"):
        model(torch.zeros(1, 3))
    with pytest.raises(TypeError, match="idx"):
        model([[1, 2]])
    with pytest.raises(ValueError, match="idx"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 33, dtype=torch.long))
    from fmref.nn.attention import KVCache

    with pytest.raises(ValueError, match="kv_cache"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_cache=KVCache(3))
    cache = model.make_kv_cache()
    model(torch.zeros(1, 30, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)


def test_from_hf_rejects_unsupported_models():
    with pytest.raises(TypeError, match="hf_model"):
        Llama.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="hidden_act"):
        Llama.from_hf(_hf_llama(hidden_act="gelu"))
    with pytest.raises(ValueError, match="attention_bias"):
        Llama.from_hf(_hf_llama(attention_bias=True))
    longrope = {"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0] * 4,
                "long_factor": [2.0] * 4, "original_max_position_embeddings": 16}  # fmt: skip
    with pytest.raises(ValueError, match="rope_type"):
        Llama.from_hf(_hf_llama(rope_parameters=longrope))


def test_presets_are_configs_not_models():
    for make in (llama_7b, llama_13b, llama2_70b, mistral_7b):
        cfg = make()
        assert isinstance(cfg, LlamaConfig) and cfg.vocab_size == 32000
    assert (llama_7b().norm_eps, llama2_70b().norm_eps) == (1e-6, 1e-5)  # params.json
    assert mistral_7b().sliding_window == 4096  # Jiang et al. 2023, Table 1


# ---- 2024-2025 additions: Qwen3 (QK-norm), scaled RoPE, gpt-oss sinks, alternating windows ----


def _hf_qwen3(**overrides):
    fields = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16,  # 4 * 16 != 32
                  max_position_embeddings=32, rms_norm_eps=1e-6,
                  rope_parameters={"rope_type": "default", "rope_theta": 1000.0})  # fmt: skip
    fields.update(overrides)
    hf = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**fields)).eval()
    _randomise(hf)  # q_norm/k_norm gains become distinct from 1
    return hf


@pytest.mark.parametrize("tie", [False, True])
def test_from_hf_matches_transformers_qwen3_with_qk_norm(tie):
    hf = _hf_qwen3(tie_word_embeddings=tie)
    model = Llama.from_hf(hf)
    c = model.config
    assert c.qk_norm and c.head_dim == 16 and c.tie_embeddings == tie
    assert model.num_parameters() == sum(p.numel() for p in hf.parameters())
    idx = torch.randint(0, 64, (2, 24))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx).logits
        for layer in model.layers:  # without the norms the logits must differ
            layer.attention.qk_norm = False
        plain = model(idx)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert (plain - theirs).abs().max() > 1e-2


SCALINGS = [
    {"rope_type": "linear", "factor": 4.0},
    {"rope_type": "dynamic", "factor": 4.0},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 16},
]  # fmt: skip


@pytest.mark.parametrize("scaling", SCALINGS, ids=lambda s: s["rope_type"])
def test_from_hf_matches_transformers_with_scaled_rope(scaling):
    # theta 10000, head_dim 8: some pairs turn slowly enough for each method to change them
    hf = _hf_llama(max_position_embeddings=16,
                   rope_parameters={**scaling, "rope_theta": 10000.0})  # fmt: skip
    model = Llama.from_hf(hf)
    assert model.config.rope_scaling["rope_type"] == scaling["rope_type"]
    t = 48 if scaling["rope_type"] == "dynamic" else 16  # dynamic only acts past 16 tokens
    idx = torch.randint(0, 64, (2, t))
    with torch.no_grad():
        ours, theirs = model(idx), hf(idx).logits
        plain = Llama(dataclasses.replace(model.config, rope_scaling=None, max_seq_len=t))
        plain.load_state_dict(model.state_dict())
        unscaled = plain(idx)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert (unscaled - theirs).abs().max() > 1e-3  # the scaling changed the logits


def test_attention_with_sinks_bias_and_window_matches_gpt_oss_attention():
    from transformers.models.gpt_oss import modeling_gpt_oss as go

    from fmref.models.llama import LlamaAttention
    from fmref.nn.attention import causal_mask
    from fmref.nn.position import rope_angles, rope_inv_freq

    yarn = {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0,
            "truncate": False, "original_max_position_embeddings": 8}  # gpt-oss's keys, scaled down
    hf_cfg = transformers.GptOssConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, sliding_window=3, max_position_embeddings=32,
        rope_parameters={**yarn, "rope_theta": 150000.0}, attn_implementation="eager")  # fmt: skip
    cfg = LlamaConfig(64, 32, 2, 4, 2, 48, 32, rope_theta=150000.0, sliding_window=3,
                      head_dim=16, rope_scaling=yarn, attention_sinks=True, attention_bias=True,
                      layer_types=hf_cfg.layer_types)  # fmt: skip
    assert cfg.is_sliding(0) and not cfg.is_sliding(1)  # gpt-oss: sliding first, then full
    x, t = torch.randn(2, 10, 32), 10
    inv, factor = rope_inv_freq(16, 150000.0, yarn)
    rotary = go.GptOssRotaryEmbedding(hf_cfg)
    assert factor == pytest.approx(rotary.attention_scaling) and factor > 1
    cos, sin = rotary(x, torch.arange(t)[None])
    for layer in (0, 1):
        hf = go.GptOssAttention(hf_cfg, layer).eval()
        _randomise(hf)
        ours = LlamaAttention(cfg, layer)
        weights = {k.replace("o_proj", "out_proj"): v for k, v in hf.state_dict().items()}
        ours.load_state_dict(weights)
        window = 3 if cfg.is_sliding(layer) else None
        mask = causal_mask(t, t, window=window)  # (T, T) bool
        additive = torch.zeros(t, t).masked_fill(~mask, float("-inf"))[None, None]
        with torch.no_grad():
            want, _ = hf(x, (cos, sin), additive)
            got = ours(x, rope_angles(16, t, 150000.0, yarn), mask, rope_scale=factor)
            del ours.sinks  # without the sinks the outputs must differ
            no_sink = ours(x, rope_angles(16, t, 150000.0, yarn), mask, rope_scale=factor)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        assert (no_sink - want).abs().max() > 1e-3


@pytest.mark.parametrize(
    "extra",
    [dict(qk_norm=True, attention_sinks=True, head_dim=16),
     dict(sliding_window=3, layer_types=("sliding_attention", "full_attention")),
     dict(n_experts=4, n_experts_per_tok=2, tie_embeddings=True),
     dict(rope_scaling={"rope_type": "yarn", "factor": 2.0,
                        "original_max_position_embeddings": 16})],
)  # fmt: skip
def test_kv_cache_generation_matches_full_recompute_with_new_options(extra):
    from fmref.scaling import count_parameters

    model = Llama(LlamaConfig(**{**SMALL, **extra})).eval()
    assert model.num_parameters() == count_parameters(model.config)
    idx = torch.randint(0, 64, (2, 12))
    with torch.no_grad():
        full = model(idx)
        cache = model.make_kv_cache()
        steps = [model(idx[:, :5], kv_cache=cache)]
        steps += [model(idx[:, t : t + 1], kv_cache=cache) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


def test_sparse_moe_matches_transformers_mixtral_block():
    from transformers.models.mixtral import modeling_mixtral as mx

    from fmref.models.llama import SparseMoE

    cfg = transformers.MixtralConfig(hidden_size=8, intermediate_size=16, num_local_experts=4,
                                     num_experts_per_tok=2)  # fmt: skip
    hf = mx.MixtralSparseMoeBlock(cfg).eval()
    _randomise(hf)
    ours = SparseMoE(8, 16, 4, 2)
    sd = hf.state_dict()
    with torch.no_grad():
        ours.gate.weight.copy_(sd["gate.weight"])
        for e, expert in enumerate(ours.experts):
            gate_up = sd["experts.gate_up_proj"][e]  # (2 * F, C): gate rows, then up rows
            expert.w1.weight.copy_(gate_up[:16])
            expert.w3.weight.copy_(gate_up[16:])
            expert.w2.weight.copy_(sd["experts.down_proj"][e])
        x = torch.randn(2, 5, 8)
        out = hf(x)
        want = out[0] if isinstance(out, tuple) else out
        torch.testing.assert_close(ours(x), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(layer_types=("full_attention",)), "layer_types"),
        (dict(layer_types=("full_attention", "local")), "layer_types"),
        (dict(layer_types=("sliding_attention", "full_attention")), "sliding_window"),
        (dict(n_experts=4, n_experts_per_tok=5), "n_experts_per_tok"),
        (dict(n_experts=-1), "n_experts"),
        (dict(head_dim=7), "head_dim"),
        (dict(rope_scaling={"rope_type": "linear", "factor": 0.5}), "factor"),
        (dict(rope_scaling={"rope_type": "su", "factor": 2.0}), "rope_type"),
    ],
)
def test_config_rejects_bad_new_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LlamaConfig(**{**SMALL, **kwargs})
