"""Tests of fmref.models.bert: equivalence with transformers.BertModel, masks, bad input."""

import pytest
import torch
import transformers

from fmref.models.bert import Bert, BertConfig

SMALL = dict(
    vocab_size=100,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=24,
)


def _hf_bert(**overrides):
    hf = transformers.BertModel(transformers.BertConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        # transformers starts LayerNorms at (1, 0), biases at 0 and weights at std 0.02,
        # where GELU is nearly linear; larger random values make a swapped mapping or
        # the tanh approximation of GELU visible.
        for name, p in hf.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2)
    return hf


def _padded_batch():
    lengths = torch.tensor([20, 13, 5, 1])
    ids = torch.randint(1, 100, (4, 20))
    mask = (torch.arange(20)[None, :] < lengths[:, None]).long()  # (B, T) 1 = token
    ids = ids * mask  # [PAD] = 0
    token_type_ids = (torch.arange(20)[None, :] >= lengths[:, None] // 2).long() * mask
    return ids, mask, token_type_ids


def test_from_hf_matches_transformers_with_padding_masks():
    hf = _hf_bert()
    model = Bert.from_hf(hf)
    assert model.config.layer_norm_eps == 1e-12
    assert all(m.eps == 1e-12 for m in model.modules() if hasattr(m, "eps"))
    ids, mask, types = _padded_batch()
    with torch.no_grad():
        ours = model(ids, attention_mask=mask, token_type_ids=types)
        theirs = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    assert ours.shape == (4, 20, 32)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)


def test_from_hf_matches_transformers_without_mask():
    hf = _hf_bert()
    model = Bert.from_hf(hf)
    ids = torch.randint(0, 100, (2, 24))
    with torch.no_grad():
        torch.testing.assert_close(
            model(ids), hf(input_ids=ids).last_hidden_state, atol=1e-4, rtol=0
        )


def test_all_minilm_l6_v2_shape_loads_and_matches():
    # sentence-transformers/all-MiniLM-L6-v2: a BERT with 6 layers, width 384, 12 heads,
    # feed-forward 1536 (its config.json); vocabulary shrunk here to keep the test fast.
    hf = _hf_bert(
        vocab_size=500,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    model = Bert.from_hf(hf)
    ids, mask, _ = _padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(
            model(ids, attention_mask=mask),
            hf(input_ids=ids, attention_mask=mask).last_hidden_state,
            atol=1e-4,
            rtol=0,
        )


def test_padding_does_not_change_real_tokens():
    model = Bert(BertConfig(**SMALL)).eval()
    ids, mask, _ = _padded_batch()
    with torch.no_grad():
        batched = model(ids, attention_mask=mask.bool())
        alone = model(ids[1:2, :13])  # the 13 real tokens of row 1, no padding
    torch.testing.assert_close(batched[1:2, :13], alone, atol=1e-5, rtol=0)


def test_mask_hides_padding_keys():
    model = Bert(BertConfig(**SMALL)).eval()
    ids, mask, _ = _padded_batch()
    with torch.no_grad():
        masked = model(ids, attention_mask=mask)
        unmasked = model(ids)
    assert not torch.allclose(masked[1, :13], unmasked[1, :13], atol=1e-3)


def test_uses_exact_gelu_not_tanh_approximation():
    hf = _hf_bert(hidden_act="gelu_new")
    with pytest.raises(ValueError, match="hidden_act"):
        Bert.from_hf(hf)


def test_dropout_is_active_only_in_training():
    model = Bert(BertConfig(**SMALL, hidden_dropout_prob=0.5))
    ids = torch.randint(0, 100, (2, 6))
    model.train()
    assert not torch.equal(model(ids), model(ids))
    model.eval()
    assert torch.equal(model(ids), model(ids))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hidden_size=0), "hidden_size"),
        (dict(vocab_size=True), "vocab_size"),
        (dict(hidden_size=30), "num_attention_heads"),
        (dict(layer_norm_eps=0.0), "layer_norm_eps"),
        (dict(hidden_dropout_prob=1.0), "hidden_dropout_prob"),
        (dict(attention_probs_dropout_prob=-0.1), "attention_probs_dropout_prob"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BertConfig(**{**SMALL, **kwargs})


def test_forward_rejects_bad_input():
    model = Bert(BertConfig(**SMALL))
    ids = torch.randint(0, 100, (2, 5))
    with pytest.raises(TypeError, match="config"):
        Bert(SMALL)
    with pytest.raises(TypeError, match="input_ids"):
        model(ids.float())
    with pytest.raises(TypeError, match="input_ids"):
        model([[1, 2]])
    with pytest.raises(ValueError, match="input_ids"):
        model(ids[0])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask"):
        model(ids, attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="attention_mask"):
        model(ids, attention_mask=torch.full((2, 5), -10000.0))  # an additive mask
    with pytest.raises(TypeError, match="token_type_ids"):
        model(ids, token_type_ids=torch.zeros(2, 5))
    with pytest.raises(ValueError, match="token_type_ids"):
        model(ids, token_type_ids=torch.zeros(2, 4, dtype=torch.long))


def test_from_hf_rejects_other_models():
    with pytest.raises(TypeError, match="hf_model"):
        Bert.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="is_decoder"):
        Bert.from_hf(_hf_bert(is_decoder=True))
