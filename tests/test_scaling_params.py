"""Tests of fmref.scaling.params: analytic counts equal instantiated models."""

import pytest
import torch
import transformers

from fmref.models.gpt import GPT, GPTConfig, count_gpt_parameters
from fmref.models.llama import Llama, LlamaConfig, llama2_70b, llama_7b, llama_13b, mistral_7b
from fmref.scaling import count_parameters, parameter_breakdown
from fmref.scaling.params import PARTS


def _numel(model):
    return sum(p.numel() for p in model.parameters())  # a tied weight counted once


@pytest.mark.parametrize(
    "config",
    [
        GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=2, n_embd=32),
        GPTConfig(vocab_size=50, block_size=8, n_layer=3, n_head=4, n_embd=16, bias=False),
        LlamaConfig(64, 32, 2, 4, 2, 48, 16),  # grouped-query
        LlamaConfig(64, 32, 1, 4, 1, 40, 16),  # multi-query
        LlamaConfig(100, 48, 3, 6, None, 128, 8),  # multi-head
    ],
)
def test_count_equals_instantiated_model(config):
    model = GPT(config) if isinstance(config, GPTConfig) else Llama(config)
    assert count_parameters(config) == _numel(model)
    parts = parameter_breakdown(config)
    assert tuple(parts) == PARTS and sum(parts.values()) == count_parameters(config)


def test_breakdown_parts_match_modules():
    config = LlamaConfig(64, 32, 2, 4, 2, 48, 16)
    model = Llama(config)
    parts = parameter_breakdown(config)
    assert parts["head"] == model.output.weight.numel()
    assert parts["embeddings"] == model.tok_embeddings.weight.numel()
    assert parts["attention"] == sum(_numel(layer.attention) for layer in model.layers)
    assert parts["feed_forward"] == sum(_numel(layer.feed_forward) for layer in model.layers)


def test_gpt_count_agrees_with_gpt_module_formula():
    for name in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"):
        config = GPTConfig.gpt2(name)
        assert count_parameters(config) == count_gpt_parameters(config)


def _hf_count(model_cls, config):
    with torch.device("meta"):  # shapes only: no memory is allocated
        return _numel(model_cls(config))


# Published configurations: GPT-2 (Radford et al. 2019), LLaMA (Touvron et al. 2023a,
# Table 2), Llama 2 70B (Touvron et al. 2023b; params.json dim 8192, n_heads 64,
# n_kv_heads 8, ffn 28672), Mistral 7B (Jiang et al. 2023, Table 1). The expected
# numbers are those of transformers' own models, built on the meta device.
PUBLISHED = [
    (GPTConfig.gpt2("gpt2"), transformers.GPT2LMHeadModel, transformers.GPT2Config(), 124_439_808),
    (
        GPTConfig.gpt2("gpt2-medium"),
        transformers.GPT2LMHeadModel,
        transformers.GPT2Config(n_embd=1024, n_layer=24, n_head=16),
        354_823_168,
    ),
    (llama_7b(), transformers.LlamaForCausalLM, transformers.LlamaConfig(), 6_738_415_616),
    (
        llama_13b(),
        transformers.LlamaForCausalLM,
        transformers.LlamaConfig(
            hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40
        ),
        13_015_864_320,
    ),
    (
        llama2_70b(),
        transformers.LlamaForCausalLM,
        transformers.LlamaConfig(
            hidden_size=8192,
            intermediate_size=28672,
            num_hidden_layers=80,
            num_attention_heads=64,
            num_key_value_heads=8,
        ),
        68_976_648_192,
    ),
    (
        mistral_7b(),
        transformers.MistralForCausalLM,
        transformers.MistralConfig(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=32000,
        ),
        7_241_732_096,
    ),
]


@pytest.mark.parametrize(
    "config, hf_cls, hf_config, published",
    PUBLISHED,
    ids=["gpt2", "gpt2-medium", "llama-7b", "llama-13b", "llama-2-70b", "mistral-7b"],
)
def test_published_counts_match_transformers(config, hf_cls, hf_config, published):
    assert count_parameters(config) == published
    assert _hf_count(hf_cls, hf_config) == published


def test_rejects_other_configs():
    with pytest.raises(TypeError, match="config"):
        count_parameters({"dim": 4096})
    with pytest.raises(TypeError, match="config"):
        parameter_breakdown(transformers.LlamaConfig())


# 2024-2025 presets. The transformers configurations are the models' config.json shapes; the
# published figures are the model cards' (Llama 3.1 8B: 8.03B, 70B: 70.6B; Qwen3-8B: 8.2B;
# Mixtral 8x7B: 46.7B, Mistral AI's announcement; gpt-oss-120b: 116.83B, model card Table 1).
def _modern_presets():
    from fmref.models.llama import gpt_oss_120b, llama3_8b, llama3_70b, mixtral_8x7b, qwen3_8b

    llama3 = dict(vocab_size=128256, num_key_value_heads=8,
                  rope_parameters={"rope_type": "default", "rope_theta": 5e5})
    return [
        (llama3_8b(), transformers.LlamaForCausalLM, transformers.LlamaConfig(
            hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
            **llama3), 8.03e9),
        (llama3_70b(), transformers.LlamaForCausalLM, transformers.LlamaConfig(
            hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
            **llama3), 70.6e9),
        (qwen3_8b(), transformers.Qwen3ForCausalLM, transformers.Qwen3Config(
            vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
            num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
         8.2e9),
        (mixtral_8x7b(), transformers.MixtralForCausalLM, transformers.MixtralConfig(), 46.7e9),
        (gpt_oss_120b(), transformers.GptOssForCausalLM, transformers.GptOssConfig(), 116.83e9),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "index", range(5), ids=["llama3-8b", "llama3-70b", "qwen3-8b", "mixtral", "gpt-oss"]
)
def test_modern_presets_match_transformers_and_published_counts(index):
    config, hf_cls, hf_config, published = _modern_presets()[index]
    ours, theirs = count_parameters(config), _hf_count(hf_cls, hf_config)
    if hf_cls is transformers.GptOssForCausalLM:
        c = config  # fmref leaves out the router's and the experts' biases
        theirs -= c.n_layers * (c.n_experts + c.n_experts * (2 * c.hidden_dim + c.dim))
    assert ours == theirs
    assert abs(ours / published - 1) < 0.005


def test_tied_moe_and_biased_configs_count_like_the_built_model():
    config = LlamaConfig(64, 32, 2, 4, 2, 48, 16, head_dim=16, qk_norm=True,
                         attention_sinks=True, attention_bias=True, n_experts=3,
                         n_experts_per_tok=2, tie_embeddings=True)  # fmt: skip
    model = Llama(config)
    assert count_parameters(config) == _numel(model)
    parts = parameter_breakdown(config)
    assert parts["head"] == 0 and model.output.weight is model.tok_embeddings.weight
    assert parts["attention"] == sum(_numel(layer.attention) for layer in model.layers)
