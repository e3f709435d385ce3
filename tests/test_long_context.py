"""Context extension: the scaled models keep their weights and score the same tokens."""

import pytest
import torch

from fmref.eval.long_context import (
    context_extension_perplexity,
    extension_scaling,
    with_rope_scaling,
)
from fmref.eval.perplexity import perplexity
from fmref.models.llama import Llama, LlamaConfig


def _close(ours, theirs, atol=1e-5, rtol=0.0):
    # torch.testing.assert_close imports torch.distributed.tensor (seconds) on first use
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = (ours - theirs).abs().max().item()
    assert diff <= atol + rtol * theirs.abs().max().item(), f"max |difference| {diff:.2e}"



@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Llama(LlamaConfig(256, 32, 1, 2, 2, 64, 16)).eval()


def test_interpolated_positions_land_on_trained_angles(model):
    # PI by 4: position 4p of the long model turns as far as position p of the short one
    longer = with_rope_scaling(model, extension_scaling("pi", 4, 16), 64)
    _close(longer.rope[::4], model.rope)
    # the weights are copied, not shared, and unchanged
    assert all(torch.equal(a, b) for a, b in zip(longer.parameters(), model.parameters()))
    assert longer.tok_embeddings.weight.data_ptr() != model.tok_embeddings.weight.data_ptr()


def test_yarn_keeps_fast_pairs_and_interpolates_slow_ones(model):
    # head_dim 16, trained length 16: pair 0 turns 2.5 times over it, pairs >= 1 less than
    # once; with transformers' rounding of the ramp's ends pair 0 is kept, the others / 4
    longer = with_rope_scaling(model, extension_scaling("yarn", 4, 16), 64)
    ratio = model.rope[1] / longer.rope[1]
    assert ratio.tolist() == pytest.approx([1.0] + [4.0] * 7)
    assert longer.rope_scale == pytest.approx(0.1 * torch.log(torch.tensor(4.0)).item() + 1)


def test_every_method_is_the_plain_model_at_the_training_length(model):
    tokens = torch.randint(0, 256, (129,), generator=torch.Generator().manual_seed(0))
    table = context_extension_perplexity(model, tokens, multiples=(1, 2), n_tokens=128)
    assert table["lengths"] == [16, 32]
    plain = perplexity(model, tokens, 16, 15)
    assert {table[m][0] for m in ("none", "pi", "ntk", "yarn")} == {plain}
    # past it, the four differ: each is its own rescaled model
    assert len({table[m][1] for m in ("none", "pi", "ntk", "yarn")}) == 4


def test_bad_input(model):
    with pytest.raises(ValueError, match="rope_scaling"):
        scaled = with_rope_scaling(model, extension_scaling("pi", 2, 16), 32)
        context_extension_perplexity(scaled)
    with pytest.raises(ValueError, match="n_tokens"):
        context_extension_perplexity(model, torch.zeros(10, dtype=torch.long), n_tokens=64)
    with pytest.raises(ValueError, match="methods"):
        context_extension_perplexity(model, methods=("alibi",))
