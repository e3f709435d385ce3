"""Tests of fmref.models.llama: equivalence with transformers, the KV cache, bad input."""

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
    with pytest.raises(ValueError, match="rope_type"):
        Llama.from_hf(
            _hf_llama(rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0})
        )
    with pytest.raises(ValueError, match="head_dim"):
        Llama.from_hf(_hf_llama(head_dim=16))


def test_presets_are_configs_not_models():
    for make in (llama_7b, llama_13b, llama2_70b, mistral_7b):
        cfg = make()
        assert isinstance(cfg, LlamaConfig) and cfg.vocab_size == 32000
    assert (llama_7b().norm_eps, llama2_70b().norm_eps) == (1e-6, 1e-5)  # params.json
    assert mistral_7b().sliding_window == 4096  # Jiang et al. 2023, Table 1
