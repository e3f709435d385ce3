"""Tests of fmref.eval.perplexity: the sliding window scores every token once."""

import math

import pytest
import torch
import torch.nn.functional as F

from fmref.eval.perplexity import perplexity
from fmref.models.gpt import GPT, GPTConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


def brute_force(model, tokens, context_len, stride):
    """Score token t (t >= 1) from the window that first holds it, one forward per window."""
    n, nll = len(tokens), 0.0
    for t in range(1, n):
        end = context_len  # the first window ends at context_len, later ones stride apart
        while end < t + 1:
            end += stride
        end = min(end, n)
        begin = max(0, end - context_len)
        logits = model(tokens[begin:end][None])[0]
        nll += F.cross_entropy(logits[t - 1 - begin][None], tokens[t][None]).item()
    return math.exp(nll / (n - 1))


@pytest.mark.parametrize(
    "n, context_len, stride", [(50, 16, 8), (50, 16, 15), (37, 8, 3), (10, 16, 4)]
)
def test_sliding_window_equals_token_by_token_scoring(model, n, context_len, stride):
    tokens = torch.randint(11, (n,), generator=torch.Generator().manual_seed(n))
    expected = brute_force(model, tokens, context_len, stride)
    assert perplexity(model, tokens, context_len, stride) == pytest.approx(expected, rel=1e-5)
    assert perplexity(model, tokens, context_len, stride, batch_size=1) == pytest.approx(
        expected, rel=1e-5
    )


def test_stride_one_gives_every_token_a_full_context(model):
    tokens = torch.randint(11, (40,), generator=torch.Generator().manual_seed(0))
    ppl_full = perplexity(model, tokens, 16, 1)
    assert ppl_full == pytest.approx(brute_force(model, tokens, 16, 1), rel=1e-5)


def test_perfect_model_has_perplexity_one():
    class Oracle(torch.nn.Module):  # puts all mass on (token + 1) % 5
        def forward(self, idx):
            return F.one_hot((idx + 1) % 5, 5).float() * 100

    tokens = torch.arange(30) % 5
    assert perplexity(Oracle(), tokens, 8, 4) == pytest.approx(1.0)


def test_restores_training_mode(model):
    model.train()
    perplexity(model, torch.arange(20) % 11, 8, 4)
    assert model.training
    model.eval()


def test_bad_input_raises(model):
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        perplexity(model, torch.zeros(10), 8, 4)
    with pytest.raises(ValueError, match="tokens must be 1-D with at least 2"):
        perplexity(model, torch.zeros(1, 10, dtype=torch.long), 8, 4)
    with pytest.raises(ValueError, match="context_len must be an int >= 2"):
        perplexity(model, torch.zeros(10, dtype=torch.long), 1, 1)
    with pytest.raises(ValueError, match=r"stride must be an int in \[1, context_len - 1 = 7\]"):
        perplexity(model, torch.zeros(10, dtype=torch.long), 8, 8)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        perplexity(model, torch.zeros(10, dtype=torch.long), 8, 4, batch_size=0)
