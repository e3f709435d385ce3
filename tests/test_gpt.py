"""Tests of fmref.models.gpt: logits equal transformers' GPT-2, KV cache, counts, bad input."""

import pytest
import torch

from fmref.models.gpt import GPT, MLP, Block, GPTConfig, count_gpt_parameters

SMALL = dict(vocab_size=97, block_size=16, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture(scope="module")
def hf_pair():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf_config = GPT2Config(
        vocab_size=97,
        n_positions=16,
        n_embd=32,
        n_layer=2,
        n_head=2,
        attn_implementation="eager",
    )
    hf = GPT2LMHeadModel(hf_config).eval()
    return hf, GPT.from_hf(hf)


def test_logits_match_transformers_gpt2(hf_pair):
    hf, model = hf_pair
    idx = torch.randint(0, 97, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(idx), hf(idx).logits, atol=1e-4, rtol=1e-4)
    assert not model.training
    assert model.lm_head.weight is model.wte.weight


def test_kv_cache_generation_matches_full_recompute(hf_pair):
    _, model = hf_pair
    idx = torch.randint(0, 97, (2, 12), generator=torch.Generator().manual_seed(2))
    cache = model.make_kv_cache()
    with torch.no_grad():
        full = model(idx)
        logits = [model(idx[:, :5], kv_cache=cache)]
        for t in range(5, 12):
            logits.append(model(idx[:, t : t + 1], kv_cache=cache))
            assert cache.length == t + 1
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=1e-5)


def test_kv_cache_matches_transformers_cached_generation(hf_pair):
    hf, model = hf_pair
    idx = torch.randint(0, 97, (1, 6), generator=torch.Generator().manual_seed(3))
    cache = model.make_kv_cache()
    with torch.no_grad():
        out = hf(idx[:, :4], use_cache=True)
        step = hf(idx[:, 4:], past_key_values=out.past_key_values, use_cache=True)
        model(idx[:, :4], kv_cache=cache)
        ours = model(idx[:, 4:], kv_cache=cache)
    torch.testing.assert_close(ours, step.logits, atol=1e-4, rtol=1e-4)


def test_kv_cache_crop_rolls_back_rejected_tokens(hf_pair):
    _, model = hf_pair
    idx = torch.randint(0, 97, (1, 8), generator=torch.Generator().manual_seed(4))
    cache = model.make_kv_cache()
    with torch.no_grad():
        model(idx[:, :6], kv_cache=cache)
        cache.crop(4)  # reject the last two tokens
        again = model(idx[:, 4:8], kv_cache=cache)
        torch.testing.assert_close(again, model(idx)[:, 4:8], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n_layer", [1, 3])
def test_num_parameters_equals_formula(bias, n_layer):
    config = GPTConfig(**{**SMALL, "n_layer": n_layer, "bias": bias})
    model = GPT(config)
    assert model.num_parameters() == count_gpt_parameters(config)
    assert model.num_parameters(exclude_embeddings=True) == count_gpt_parameters(
        config, exclude_embeddings=True
    )
    # the tied head is counted once: a plain sum over named parameters would double it
    assert model.num_parameters() == len(torch.nn.utils.parameters_to_vector(model.parameters()))


def test_gpt2_small_has_124439808_parameters_from_meta_device():
    # nanoGPT reports 124.44M for GPT-2 small with the tied head (and 123.65M without wpe)
    config = GPTConfig.gpt2("gpt2")
    assert count_gpt_parameters(config) == 124_439_808
    with torch.device("meta"):
        model = GPT(config)
    assert model.num_parameters() == 124_439_808
    assert model.num_parameters(exclude_embeddings=True) == 124_439_808 - 1024 * 768


@pytest.mark.parametrize(
    "name,expected",
    # totals with the tied head; nanoGPT prints the count without wpe, 353.77M for gpt2-medium
    [("gpt2-medium", 354_823_168), ("gpt2-large", 774_030_080), ("gpt2-xl", 1_557_611_200)],
)
def test_gpt2_presets_parameter_counts(name, expected):
    assert count_gpt_parameters(GPTConfig.gpt2(name)) == expected


def test_presets_accept_overrides_and_reject_unknown_names():
    assert GPTConfig.gpt2("gpt2", dropout=0.1).dropout == 0.1
    with pytest.raises(ValueError, match="name must be one of"):
        GPTConfig.gpt2("gpt3")


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"n_embd must be divisible by n_head=3"):
        GPTConfig(n_embd=32, n_head=3)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        GPTConfig(block_size=0)


def test_sequence_longer_than_block_size_raises():
    model = GPT(GPTConfig(**SMALL)).eval()
    with pytest.raises(ValueError, match="block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    cache = model.make_kv_cache()
    model(torch.zeros(1, 10, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match=r"10 cached \+ 7 new tokens exceeds block_size=16"):
        model(torch.zeros(1, 7, dtype=torch.long), kv_cache=cache)


@pytest.mark.parametrize(
    "idx", [torch.zeros(1, 3), [[1, 2, 3]], torch.zeros(1, 3, dtype=torch.bool)]
)
def test_non_integer_idx_raises_type_error(idx):
    model = GPT(GPTConfig(**SMALL))
    with pytest.raises(TypeError, match="idx must be an integer tensor"):
        model(idx)


def test_bad_idx_shape_and_cache_size_raise():
    model = GPT(GPTConfig(**SMALL))
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    from fmref.nn.attention import KVCache

    with pytest.raises(ValueError, match="kv_cache must have n_layers=2"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_cache=KVCache(3))


def test_blocks_are_pre_norm_with_gelu_tanh_mlp():
    config = GPTConfig(**SMALL)
    mlp = MLP(config)
    x = torch.randn(1, 2, 32)
    expected = mlp.c_proj(torch.nn.functional.gelu(mlp.c_fc(x), approximate="tanh"))
    torch.testing.assert_close(mlp(x), expected)
    block = Block(config).eval()
    with torch.no_grad():  # zero the residual branches: a pre-norm block is then the identity
        block.attn.out_proj.weight.zero_()
        block.attn.out_proj.bias.zero_()
        block.mlp.c_proj.weight.zero_()
        block.mlp.c_proj.bias.zero_()
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(activation_function="relu"), "activation_function='gelu_new'"),
        (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx=False"),
    ],
)
def test_from_hf_rejects_unsupported_variants(change, match):
    from transformers import GPT2Config, GPT2LMHeadModel

    hf = GPT2LMHeadModel(
        GPT2Config(vocab_size=11, n_positions=4, n_embd=8, n_layer=1, n_head=2, **change)
    )
    with pytest.raises(ValueError, match=match):
        GPT.from_hf(hf)
