"""Tests of fmref.peft.lora: equivalence with the peft library's LoRA layer and model
wrapper, the zero start, merging, and the parameter count of the LoRA paper."""

import copy

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.gpt import GPT, GPTConfig
from fmref.models.llama import Llama, LlamaConfig
from fmref.peft.lora import (
    LoRALinear,
    apply_lora,
    lora_parameter_count,
    merge_lora,
    trainable_parameters,
)


def small_gpt():
    return GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()


# ------------------------------------------------------------ equivalence with peft
@pytest.mark.parametrize("bias", [True, False])
def test_lora_linear_matches_peft_outputs_and_merged_weight(bias):
    import peft  # here, not at the top: collecting this module then costs no peft import
    base = torch.nn.Linear(12, 7, bias=bias)
    ours = LoRALinear(copy.deepcopy(base), r=3, alpha=5)
    # peft's layer on the same base weights: lora_A is Linear(in, r), lora_B Linear(r, out)
    model = peft.get_peft_model(
        torch.nn.Sequential(copy.deepcopy(base)),
        peft.LoraConfig(r=3, lora_alpha=5, target_modules=["0"], lora_dropout=0.0),
    )
    theirs = model.base_model.model[0]
    assert isinstance(theirs, peft.tuners.lora.Linear)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ours.lora_A.copy_(torch.randn(3, 12, generator=g))
        ours.lora_B.copy_(torch.randn(7, 3, generator=g))
        theirs.lora_A["default"].weight.copy_(ours.lora_A)
        theirs.lora_B["default"].weight.copy_(ours.lora_B)
    assert theirs.scaling["default"] == ours.scaling == 5 / 3
    x = torch.randn(4, 12, generator=g)
    torch.testing.assert_close(ours(x), theirs(x))
    ours.merge()
    theirs.merge()
    torch.testing.assert_close(ours.base.weight, theirs.base_layer.weight)
    torch.testing.assert_close(ours(x), theirs(x))


def test_lora_init_matches_peft_distribution():
    # peft: kaiming_uniform_(lora_A, a=sqrt(5)) -> U(-1/sqrt(in), 1/sqrt(in)); lora_B zeros
    layer = LoRALinear(torch.nn.Linear(400, 30), r=64, alpha=64)
    bound = 1 / 400**0.5
    assert layer.lora_A.abs().max() <= bound
    assert layer.lora_A.abs().max() > 0.95 * bound  # fills the range
    assert torch.count_nonzero(layer.lora_B) == 0


@pytest.mark.parametrize(
    "targets", [("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj"), ("w2",)]
)
def test_apply_lora_on_llama_counts_like_peft_get_peft_model(targets):
    import peft  # here, not at the top: collecting this module then costs no peft import
    cfg = LlamaConfig(vocab_size=128, dim=64, n_layers=3, n_heads=4, n_kv_heads=2,
                      hidden_dim=160, max_seq_len=32)  # fmt: skip
    hf_cfg = transformers.LlamaConfig(
        vocab_size=128, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=160, max_position_embeddings=32,
    )  # fmt: skip
    # the names differ: fmref's out_proj is transformers' o_proj, w2 is down_proj
    ours_names = {"o_proj": "out_proj", "w2": "w2"}
    hf_names = {"w2": "down_proj"}
    ours = Llama(cfg)
    apply_lora(ours, tuple(ours_names.get(t, t) for t in targets), r=4, alpha=8)
    hf = peft.get_peft_model(
        transformers.LlamaForCausalLM(hf_cfg),
        peft.LoraConfig(r=4, lora_alpha=8, target_modules=[hf_names.get(t, t) for t in targets]),
    )
    hf_trainable, hf_total = hf.get_nb_trainable_parameters()
    assert trainable_parameters(ours)[0] == hf_trainable
    assert trainable_parameters(ours)[1] == hf_total


# ------------------------------------------------------------ behaviour
def test_freshly_wrapped_model_equals_base_model_exactly():
    base = small_gpt()
    model = copy.deepcopy(base)
    apply_lora(model, ("q_proj", "k_proj", "v_proj", "out_proj", "c_fc", "c_proj"), r=4)
    idx = torch.randint(0, 50, (3, 10))
    assert torch.equal(model(idx), base(idx))


def test_apply_lora_freezes_all_but_lora_and_gradients_reach_only_lora():
    model = small_gpt()
    names = apply_lora(model, r=2, alpha=4)
    assert names == ["h.0.attn.q_proj", "h.0.attn.v_proj", "h.1.attn.q_proj", "h.1.attn.v_proj"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(n.rsplit(".", 1)[1] in ("lora_A", "lora_B") for n in trainable)
    assert len(trainable) == 8
    model(torch.randint(0, 50, (2, 8))).sum().backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    # B = 0, so A gets no gradient at the first step while B does (the paper's init)
    q = model.h[0].attn.q_proj
    assert torch.count_nonzero(q.lora_A.grad) == 0 and torch.count_nonzero(q.lora_B.grad) > 0


@settings(max_examples=20, deadline=None)
@given(
    r=st.integers(1, 8),
    alpha=st.floats(0.5, 64),
    d_in=st.integers(1, 24),
    d_out=st.integers(1, 24),
    seed=st.integers(0, 2**16),
)
def test_merged_equals_unmerged_and_unmerge_restores_weight(r, alpha, d_in, d_out, seed):
    g = torch.Generator().manual_seed(seed)
    layer = LoRALinear(torch.nn.Linear(d_in, d_out), r=r, alpha=alpha)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(d_out, r, generator=g))
    w0 = layer.base.weight.clone()
    x = torch.randn(5, d_in, generator=g)
    y = layer(x)
    layer.merge()
    layer.merge()  # idempotent
    torch.testing.assert_close(layer(x), y, atol=1e-4, rtol=1e-4)
    assert torch.linalg.matrix_rank(layer.base.weight - w0) <= r
    layer.unmerge()
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, w0, atol=1e-5, rtol=1e-5)


def test_merge_lora_returns_a_plain_model_with_the_adapted_outputs():
    model = small_gpt()
    apply_lora(model, r=3, alpha=3)
    for m in model.modules():
        if isinstance(m, LoRALinear):
            torch.nn.init.normal_(m.lora_B)
    idx = torch.randint(0, 50, (2, 9))
    before = model(idx)
    assert merge_lora(model) == 4
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    torch.testing.assert_close(model(idx), before, atol=1e-5, rtol=1e-5)


def test_dropout_applies_to_the_low_rank_path_only():
    layer = LoRALinear(torch.nn.Linear(8, 8), r=2, alpha=2, dropout=0.5).train()
    x = torch.randn(4, 8)
    assert torch.equal(layer(x), layer.base(x))  # B = 0: dropout cannot show
    torch.nn.init.ones_(layer.lora_B)
    assert not torch.equal(layer(x), layer(x))  # random masks
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    assert "r=2" in repr(layer)
    assert (layer.in_features, layer.out_features) == (8, 8)


# ------------------------------------------------------------ counts
def test_lora_parameter_count_gpt3_from_the_paper():
    # Hu et al. 2021, Table 5: an 18M budget on GPT-3 175B (d_model 12288, 96 layers) is
    # r = 8 on one weight type or r = 4 on two; |Theta| = 2 * L_hat * d_model * r.
    per_rank = 2 * 96 * 2 * 12288
    assert per_rank == 4_718_592
    assert lora_parameter_count(12288, 96, r=1) == per_rank
    assert lora_parameter_count(12288, 96, r=4, targets=("q", "v")) == 18_874_368
    assert lora_parameter_count(12288, 96, r=8, targets=1) == 18_874_368
    assert lora_parameter_count(12288, 96, r=2, targets=4) == 18_874_368


def test_lora_parameter_count_agrees_with_apply_lora():
    model = small_gpt()
    apply_lora(model, ("q_proj", "k_proj", "v_proj"), r=5)
    assert trainable_parameters(model)[0] == lora_parameter_count(16, 2, 5, targets=3)


def test_trainable_parameters_counts_tied_weights_once():
    model = small_gpt()  # lm_head.weight is wte.weight
    assert trainable_parameters(model) == (model.num_parameters(), model.num_parameters())


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize("r", [0, -1, 2.0, True])
def test_bad_rank_is_rejected(r):
    with pytest.raises(ValueError, match="r must be a positive int"):
        LoRALinear(torch.nn.Linear(4, 4), r=r, alpha=1)
    with pytest.raises(ValueError, match="r must"):
        apply_lora(small_gpt(), r=r)


@pytest.mark.parametrize("alpha", [0, -2.0, "8"])
def test_bad_alpha_is_rejected(alpha):
    with pytest.raises(ValueError, match="alpha must be a positive"):
        LoRALinear(torch.nn.Linear(4, 4), r=1, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        apply_lora(small_gpt(), alpha=alpha)


@pytest.mark.parametrize("dropout", [-0.1, 1.0, "0.1"])
def test_bad_dropout_is_rejected(dropout):
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(torch.nn.Linear(4, 4), r=1, alpha=1, dropout=dropout)


def test_target_modules_matching_nothing_or_not_linear_is_rejected():
    with pytest.raises(ValueError, match="target_modules .* matched no module"):
        apply_lora(small_gpt(), target_modules=("c_attn",))
    with pytest.raises(ValueError, match="target_modules must be a non-empty"):
        apply_lora(small_gpt(), target_modules=())
    with pytest.raises(ValueError, match="target_modules must be a non-empty"):
        apply_lora(small_gpt(), target_modules=("q_proj", 3))
    with pytest.raises(TypeError, match="target_modules must name torch.nn.Linear"):
        apply_lora(small_gpt(), target_modules=("ln_1",))
    with pytest.raises(TypeError, match="base must be a torch.nn.Linear"):
        LoRALinear(torch.nn.Conv1d(2, 2, 1), r=1, alpha=1)
    with pytest.raises(ValueError, match="d_model"):
        lora_parameter_count(0, 2, 1)
    with pytest.raises(ValueError, match="targets"):
        lora_parameter_count(8, 2, 1, targets=0)


def test_a_target_matching_nothing_is_told_the_names_that_would_match():
    with pytest.raises(ValueError) as err:
        apply_lora(small_gpt(), target_modules=("query",))
    # the last name of every nn.Linear in nanoGPT-style GPT blocks, and the LM head
    names = "'c_fc', 'c_proj', 'k_proj', 'lm_head', 'out_proj', 'q_proj', 'v_proj'"
    assert f"names that match its linear layers: {names}" in str(err.value)
    with pytest.raises(ValueError, match="it has no torch.nn.Linear layer"):
        apply_lora(torch.nn.Sequential(torch.nn.ReLU()), target_modules=("query",))
    model = small_gpt()
    apply_lora(model, target_modules=("q_proj", "k_proj", "v_proj", "out_proj", "c_fc", "c_proj"))
    with pytest.raises(ValueError, match="linear layers: 'lm_head' "):  # not LoRA's inner ones
        apply_lora(model, target_modules=("query",))


def test_a_single_string_target_and_rewrapping_are_handled():
    model = small_gpt()
    assert apply_lora(model, target_modules="q_proj", r=1) == ["h.0.attn.q_proj", "h.1.attn.q_proj"]
    with pytest.raises(ValueError, match="matched no module"):  # already wrapped
        apply_lora(model, target_modules="q_proj", r=1)
