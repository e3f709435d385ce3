"""Tests of fmref.train.objectives: causal LM loss, BERT masking, T5 span corruption."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.train.objectives import causal_lm_loss, mask_tokens, merge_spans, span_corruption


# --------------------------------------------------------------------------- causal LM
def test_causal_lm_loss_equals_transformers_gpt2_loss():
    import transformers
    config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(50, (3, 12))
    with torch.no_grad():
        out = model(ids, labels=ids)  # transformers shifts the labels inside, as we do
    torch.testing.assert_close(causal_lm_loss(out.logits, ids), out.loss)


def test_causal_lm_loss_equals_formula_and_ignores_index():
    logits = torch.randn(2, 5, 7)
    tokens = torch.randint(7, (2, 5))
    tokens[0, 3] = -100  # a masked target (e.g. padding)
    logp = logits.log_softmax(-1)
    terms = [
        -logp[b, t, tokens[b, t + 1]]
        for b in range(2)
        for t in range(4)
        if tokens[b, t + 1] != -100
    ]
    expected = torch.stack(terms).mean()
    torch.testing.assert_close(causal_lm_loss(logits, tokens), expected)


def test_causal_lm_loss_of_uniform_logits_is_log_vocab():
    loss = causal_lm_loss(torch.zeros(1, 8, 32), torch.zeros(1, 8, dtype=torch.long))
    assert loss.item() == pytest.approx(math.log(32))


def test_causal_lm_loss_bad_input_raises():
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        causal_lm_loss(torch.zeros(1, 4, 5), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="logits must have shape"):
        causal_lm_loss(torch.zeros(1, 3, 5), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens must have at least 2 positions"):
        causal_lm_loss(torch.zeros(1, 1, 5), torch.zeros(1, 1, dtype=torch.long))


# --------------------------------------------------------------------------- masked LM
def test_mask_tokens_80_10_10_within_statistical_tolerance():
    g = torch.Generator().manual_seed(0)
    vocab, mask_id = 1000, 3
    tokens = torch.randint(10, vocab, (200, 500), generator=g)  # 100k tokens, none special
    inputs, labels = mask_tokens(tokens, mask_id, vocab, 0.15, special_ids=(0, 1, 2), generator=g)
    selected = labels != -100
    n = tokens.numel()
    k = selected.sum().item()
    # Binomial(n, 0.15): standard deviation sqrt(n p (1-p)) ~ 113; allow 5 sigma
    assert abs(k - 0.15 * n) < 5 * math.sqrt(n * 0.15 * 0.85)
    assert torch.equal(labels[selected], tokens[selected])  # labels are the originals
    masked = (inputs == mask_id) & selected
    kept = (inputs == tokens) & selected
    randomised = selected & ~masked & ~kept
    for count, p in ((masked.sum(), 0.8), (randomised.sum(), 0.1 * (1 - 1 / vocab))):
        assert abs(count.item() - p * k) < 5 * math.sqrt(k * p * (1 - p))
    # kept = 10% plus the random draws that hit the original token (1/vocab of 10%)
    assert abs(kept.sum().item() - 0.1 * k) < 5 * math.sqrt(k * 0.1 * 0.9)
    # unselected positions are untouched
    assert torch.equal(inputs[~selected], tokens[~selected])


def test_mask_tokens_never_masks_special_tokens():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 6, (50, 40), generator=g)  # many specials (0, 1, 2)
    inputs, labels = mask_tokens(tokens, 5, 6, 0.9, special_ids=[0, 1, 2], generator=g)
    special = tokens <= 2
    assert (labels[special] == -100).all()
    assert torch.equal(inputs[special], tokens[special])
    assert (labels[~special] != -100).float().mean() > 0.8


def test_mask_tokens_is_deterministic_given_generator_and_keeps_dtype():
    tokens = torch.randint(100, (4, 32), dtype=torch.int32)
    a = mask_tokens(tokens, 1, 100, generator=torch.Generator().manual_seed(7))
    b = mask_tokens(tokens, 1, 100, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].dtype == torch.int32 and a[1].dtype == torch.int64


def test_mask_tokens_bad_input_raises():
    tokens = torch.zeros(2, 3, dtype=torch.long)
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"mlm_probability must be in \(0, 1\)"):
            mask_tokens(tokens, 1, 10, mlm_probability=p)
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        mask_tokens(tokens.float(), 1, 10)
    with pytest.raises(ValueError, match="mask_token_id must be in range"):
        mask_tokens(tokens, 10, 10)


# --------------------------------------------------------------------------- span corruption
@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(2, 120),
    density=st.floats(0.05, 0.95),
    mean_span=st.floats(1.0, 8.0),
    seed=st.integers(0, 2**16),
)
def test_span_corruption_targets_reconstruct_the_input(length, density, mean_span, seed):
    tokens = torch.randint(1000, (length,), generator=torch.Generator().manual_seed(seed))
    sentinels = list(range(2000, 2000 + length + 1))
    g = torch.Generator().manual_seed(seed)
    inputs, targets = span_corruption(tokens, sentinels, density, mean_span, generator=g)
    assert torch.equal(merge_spans(inputs, targets, sentinels), tokens)


def test_span_corruption_lengths_follow_t5():
    tokens = torch.arange(100).repeat(3, 1)  # (3, 100)
    sentinels = list(range(1000, 1100))
    g = torch.Generator().manual_seed(0)
    inputs, targets = span_corruption(tokens, sentinels, 0.15, 3.0, generator=g)
    n_noise, n_spans = 15, 5  # round(100 * 0.15), round(15 / 3)
    assert inputs.shape == (3, 100 - n_noise + n_spans)
    assert targets.shape == (3, n_noise + n_spans + 1)
    for row_in, row_tgt in zip(inputs, targets):
        assert row_in.tolist().count(1000) == 1 and row_tgt[0] == 1000
        assert row_tgt[-1] == 1000 + n_spans  # the closing sentinel
        assert torch.equal(merge_spans(row_in, row_tgt, sentinels), torch.arange(100))
    assert not torch.equal(inputs[0], inputs[1])  # rows get their own spans


def test_span_corruption_is_deterministic_given_generator():
    tokens = torch.arange(50)
    a = span_corruption(tokens, range(100, 120), generator=torch.Generator().manual_seed(3))
    b = span_corruption(tokens, range(100, 120), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_span_corruption_bad_input_raises():
    tokens = torch.arange(20)
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        span_corruption(tokens.float(), range(100, 110))
    with pytest.raises(ValueError, match="tokens must have shape"):
        span_corruption(tokens[:1], range(100, 110))
    with pytest.raises(ValueError, match="tokens must have shape"):
        span_corruption(tokens.reshape(1, 2, 10), range(100, 110))
    with pytest.raises(ValueError, match=r"noise_density must be in \(0, 1\)"):
        span_corruption(tokens, range(100, 110), noise_density=1.0)
    with pytest.raises(ValueError, match="mean_span_length must be >= 1"):
        span_corruption(tokens, range(100, 110), mean_span_length=0.5)
    with pytest.raises(ValueError, match="sentinel_ids must hold at least 2"):
        span_corruption(tokens, [100])


def test_merge_spans_bad_input_raises():
    with pytest.raises(ValueError, match="must be 1-D"):
        merge_spans(torch.zeros(1, 3, dtype=torch.long), torch.zeros(3, dtype=torch.long), [0])
    with pytest.raises(ValueError, match="targets must hold sentinel 101"):
        merge_spans(torch.tensor([5, 101]), torch.tensor([100, 6]), [100, 101])
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        merge_spans(torch.tensor([5]), torch.tensor([1.0]), [100])
