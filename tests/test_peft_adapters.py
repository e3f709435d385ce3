"""Tests of fmref.peft's other methods: Houlsby adapters, prompt and prefix tuning, BitFit,
(IA)^3 (with peft's trainable-parameter count), and the comparison task's helpers."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.gpt import GPT, GPTConfig
from fmref.models.llama import Llama, LlamaConfig
from fmref.peft.adapters import (
    Adapted,
    BottleneckAdapter,
    adapter_parameter_count,
    apply_adapters,
)
from fmref.peft.bitfit import apply_bitfit
from fmref.peft.experiment import finetune, prepare, reverse_words
from fmref.peft.ia3 import IA3Linear, apply_ia3
from fmref.peft.lora import trainable_parameters
from fmref.peft.prompts import PrefixTuning, PromptTuning

CFG = GPTConfig(vocab_size=50, block_size=24, n_layer=2, n_head=2, n_embd=16)
LLAMA = LlamaConfig(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2,
                    hidden_dim=48, max_seq_len=24)  # fmt: skip


def gpt():
    return GPT(CFG).eval()


# ------------------------------------------------------------ adapters
@pytest.mark.parametrize("make, d, targets", [
    (gpt, 16, ("attn", "mlp")),
    (lambda: Llama(LLAMA).eval(), 32, ("attention", "feed_forward")),
])  # fmt: skip
def test_adapters_start_as_the_base_model_and_count_as_houlsby(make, d, targets):
    base = make()
    model = copy.deepcopy(base)
    names = apply_adapters(model, d_model=d, bottleneck=4, target_modules=targets)
    assert len(names) == 4
    idx = torch.randint(0, 50, (2, 7))
    assert torch.equal(model(idx), base(idx))
    # Houlsby et al. 2019, Sec. 3.6: each adapter has 2md + d + m parameters, two per layer
    assert trainable_parameters(model)[0] == 2 * 2 * (2 * d * 4 + d + 4)
    assert trainable_parameters(model)[0] == adapter_parameter_count(d, 2, 4)


def test_adapter_gradients_flow_and_training_changes_outputs():
    model = gpt()
    apply_adapters(model, 16, 3)
    idx = torch.randint(0, 50, (2, 6))
    model(idx).sum().backward()
    up = model.h[0].mlp.adapter.up
    assert torch.count_nonzero(up.weight.grad) > 0
    assert all(p.grad is None for n, p in model.named_parameters() if "adapter" not in n)


def test_adapter_errors():
    with pytest.raises(ValueError, match="bottleneck"):
        BottleneckAdapter(8, 0)
    with pytest.raises(ValueError, match="target_modules .* matched no module"):
        apply_adapters(gpt(), 16, 2, target_modules=("ffn",))
    with pytest.raises(ValueError, match="per_layer"):
        adapter_parameter_count(8, 2, 2, per_layer=0)
    assert isinstance(Adapted(torch.nn.Identity(), BottleneckAdapter(2, 1)), torch.nn.Module)


# ------------------------------------------------------------ prompt and prefix tuning
def test_prompt_tuning_from_real_tokens_equals_the_model_on_the_concatenation():
    model = gpt()
    tuned = PromptTuning(model, n_tokens=5, init_ids=[3, 1, 4, 1, 5])
    idx = torch.randint(0, 50, (3, 8))
    full = model(torch.cat([torch.tensor([[3, 1, 4, 1, 5]]).expand(3, -1), idx], 1))
    torch.testing.assert_close(tuned(idx), full[:, 5:])
    assert trainable_parameters(tuned)[0] == 5 * 16
    tuned(idx).sum().backward()
    assert tuned.prompt.grad is not None and model.wte.weight.grad is None


@pytest.mark.parametrize("make", [gpt, lambda: Llama(LLAMA).eval()])
def test_prefix_tuning_from_real_tokens_equals_the_model_on_the_concatenation(make):
    model = make()
    prefix = torch.tensor([7, 2, 9])
    tuned = PrefixTuning(model, n_tokens=3, init_ids=prefix)
    idx = torch.randint(0, 50, (2, 6))
    full = model(torch.cat([prefix.expand(2, -1), idx], 1))
    torch.testing.assert_close(tuned(idx), full[:, 3:], atol=1e-5, rtol=1e-5)
    n_layers, d_kv = (2, 16) if isinstance(model, GPT) else (2, 2 * 8)  # kv heads * d_head
    assert trainable_parameters(tuned)[0] == 2 * n_layers * 3 * d_kv
    assert tuned.n_tokens == 3


def test_virtual_tokens_default_to_sampled_vocabulary_and_errors():
    assert PromptTuning(gpt(), 4).n_tokens == 4
    assert PrefixTuning(gpt(), 4).n_tokens == 4
    with pytest.raises(ValueError, match="n_tokens must be smaller than block_size"):
        PromptTuning(gpt(), 24)
    with pytest.raises(ValueError, match="n_tokens must be a positive int"):
        PrefixTuning(gpt(), 0)
    with pytest.raises(ValueError, match="init_ids must have shape"):
        PromptTuning(gpt(), 3, init_ids=[1, 2])
    with pytest.raises(TypeError, match="model must be an fmref GPT"):
        PromptTuning(Llama(LLAMA), 3)
    with pytest.raises(TypeError, match="k_proj, v_proj"):
        PrefixTuning(torch.nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="at most 20 fit"):
        PromptTuning(gpt(), 4)(torch.zeros(1, 21, dtype=torch.long))


# ------------------------------------------------------------ BitFit
def test_bitfit_trains_exactly_the_biases():
    model = gpt()
    n_bias = sum(p.numel() for n, p in model.named_parameters() if n.endswith(".bias"))
    assert apply_bitfit(model) == n_bias == trainable_parameters(model)[0]
    with pytest.raises(ValueError, match="bias parameters"):
        apply_bitfit(Llama(LLAMA))  # LLaMA has no biases


# ------------------------------------------------------------ (IA)^3
def test_ia3_counts_like_peft_on_llama():
    import peft
    import transformers
    ours = Llama(LLAMA)
    apply_ia3(ours, ("k_proj", "v_proj", "w2"), feedforward_modules=("w2",))
    hf_cfg = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=48, max_position_embeddings=24,
    )  # fmt: skip
    hf = peft.get_peft_model(
        transformers.LlamaForCausalLM(hf_cfg),
        peft.IA3Config(target_modules=["k_proj", "v_proj", "down_proj"],
                       feedforward_modules=["down_proj"]),
    )  # fmt: skip
    assert trainable_parameters(ours)[0] == hf.get_nb_trainable_parameters()[0]


def test_ia3_starts_as_base_and_folds_into_the_weight():
    base = gpt()
    model = copy.deepcopy(base)
    apply_ia3(model)
    idx = torch.randint(0, 50, (2, 5))
    assert torch.equal(model(idx), base(idx))
    lin = torch.nn.Linear(6, 4, bias=False)
    out, inp = IA3Linear(lin), IA3Linear(lin, feedforward=True)
    with torch.no_grad():
        out.ia3_l.uniform_(0, 2)
        inp.ia3_l.uniform_(0, 2)
    x = torch.randn(3, 6)
    # (IA)^3 is linear in the weight: l * (W x) = (diag(l) W) x and W (l * x) = (W diag(l)) x
    torch.testing.assert_close(out(x), x @ (out.ia3_l[:, None] * lin.weight).T)
    torch.testing.assert_close(inp(x), x @ (lin.weight * inp.ia3_l).T)
    with pytest.raises(ValueError, match="target_modules .* matched no module"):
        apply_ia3(gpt(), ("w2",))
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        apply_ia3(gpt(), ("ln_1",))
    with pytest.raises(TypeError, match="base must be"):
        IA3Linear(torch.nn.Identity())


# ------------------------------------------------------------ the comparison task
@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="ab \n", max_size=40))
def test_reverse_words_is_an_involution_that_keeps_the_words(text):
    assert reverse_words(reverse_words(text)) == text
    assert sorted(reverse_words(text).split()) == sorted(text.split())


def test_prepare_rejects_unknown_methods():
    for bad in ("lora", "lora-0", "lora-x", "qlora-4", "full-2"):
        with pytest.raises(ValueError, match="method must be"):
            prepare(gpt(), bad)


def test_finetune_leaves_the_base_untouched_and_every_method_learns():
    base = GPT(GPTConfig(vocab_size=8, block_size=32, n_layer=1, n_head=2, n_embd=16))
    before = copy.deepcopy(base.state_dict())
    data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7] * 40)
    fast = {"steps": 15, "block_size": 12, "eval_batches": 2}
    start = finetune(base, "none", data, data, fast)["val_loss"]
    for method in ("full", "adapter-2", "prompt-2", "prefix-2", "bitfit", "ia3"):
        out = finetune(base, method, data, data, fast)
        assert out["val_loss"] < start, method
        assert out["state"] and out["val_curve"][-1] == (15, out["val_loss"])
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())


def test_reversed_docs_are_a_new_distribution_for_the_tiny_gpt():
    from fmref.peft.experiment import run_methods
    from fmref.zoo import tiny_gpt

    model, _, history = tiny_gpt()  # from the shared cache
    settings = {"eval_batches": 2, "train_tokens": 5_000}  # a key of its own: a cache miss
    first = run_methods(["none"], settings)["none"]
    again = run_methods(["none"], settings)["none"]  # served from the cache
    assert first["val_loss"] == again["val_loss"]
    # reading backwards is harder than the text the model was trained on
    assert first["val_loss"] > history["val_loss"][-1] + 0.3
    assert first["trainable"] == 0 and first["total"] == model.num_parameters()
