"""Tests for fmref.models.seq2seq: additive attention and the RNN encoder-decoder."""

import pytest
import torch

from fmref.models.seq2seq import (
    AdditiveAttention,
    MultiplicativeAttention,
    Seq2Seq,
    Seq2SeqConfig,
    reversal_batch,
    train_reversal,
)


def test_additive_attention_matches_the_bahdanau_formula():
    torch.manual_seed(0)
    attn = AdditiveAttention(3, 4, 5)
    q, keys = torch.randn(2, 3), torch.randn(2, 6, 4)
    context, w = attn(q, keys)
    # e_j = v^T tanh(W q + U k_j), written out per position
    e = torch.stack(
        [
            attn.v.weight
            @ torch.tanh(attn.W.weight @ q[0] + attn.U.weight @ keys[0, j] + attn.U.bias)
            for j in range(6)
        ]
    ).squeeze(-1)
    torch.testing.assert_close(w[0], torch.softmax(e, 0))
    torch.testing.assert_close(context[0], w[0] @ keys[0])


def test_additive_attention_mask_gives_padding_zero_weight():
    torch.manual_seed(0)
    attn = AdditiveAttention(3, 4, 5)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    _, w = attn(torch.randn(2, 3), torch.randn(2, 3, 4), mask)
    assert (w[~mask] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match="mask"):
        attn(torch.randn(2, 3), torch.randn(2, 3, 4), mask[:, :2])


def test_multiplicative_attention_matches_the_luong_formulas():
    torch.manual_seed(0)
    q, keys = torch.randn(2, 3), torch.randn(2, 6, 4)
    attn = MultiplicativeAttention(3, 4)  # "general": e_j = q^T W_a k_j (Luong et al. 2015, eq. 8)
    context, w = attn(q, keys)
    W_a = attn.W_a.weight  # (query_dim, key_dim)
    e = torch.stack([q[0] @ W_a @ keys[0, j] for j in range(6)])
    torch.testing.assert_close(w[0], torch.softmax(e, 0))
    torch.testing.assert_close(context[0], w[0] @ keys[0])
    dot = MultiplicativeAttention(4, 4, score="dot")  # e_j = q^T k_j, no parameters
    assert list(dot.parameters()) == []
    q4 = torch.randn(2, 4)
    _, w = dot(q4, keys)
    torch.testing.assert_close(w[1], torch.softmax(keys[1] @ q4[1], 0))
    mask = torch.tensor([[True, False, True, True, False, True]] * 2)
    _, w = attn(q, keys, mask)
    assert (w[~mask] == 0).all()
    with pytest.raises(ValueError, match="mask"):
        attn(q, keys, mask[:, :2])


def test_multiplicative_attention_rejects_bad_arguments():
    with pytest.raises(ValueError, match="score"):
        MultiplicativeAttention(4, 4, score="concat")
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        MultiplicativeAttention(3, 4, score="dot")
    with pytest.raises(ValueError, match="key_dim"):
        MultiplicativeAttention(3, 0)
    with pytest.raises(ValueError, match="score"):
        Seq2SeqConfig(5, 5, score="dot")


@pytest.mark.parametrize("score", ["additive", "general"])
def test_teacher_forcing_equals_step_by_step_decoding(score):
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(7, 9, emb_dim=8, hidden_size=12, attn_dim=10, score=score))
    model.eval()
    kind = AdditiveAttention if score == "additive" else MultiplicativeAttention
    assert isinstance(model.attention, kind)
    src = torch.randint(7, (3, 5))
    tokens, w_greedy = model.greedy_decode(src, bos=0, max_len=4)
    tgt_in = torch.cat([torch.zeros(3, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    logits, w = model(src, tgt_in)
    assert torch.equal(logits.argmax(-1), tokens)
    torch.testing.assert_close(w, w_greedy)


def test_backward_encoder_reads_the_future():
    # The annotation of position 0 depends on the last source token through the backward GRU.
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(7, 7, emb_dim=4, hidden_size=6, attn_dim=5))
    src = torch.randint(7, (1, 5))
    a1, _ = model.encode(src)
    src2 = src.clone()
    src2[0, -1] = (src[0, -1] + 1) % 7
    a2, _ = model.encode(src2)
    assert not torch.allclose(a1[0, 0, 6:], a2[0, 0, 6:])  # backward half changed
    torch.testing.assert_close(a1[0, 0, :6], a2[0, 0, :6])  # forward half did not


def test_learns_to_reverse_with_an_anti_diagonal_alignment():
    torch.manual_seed(0)
    V, S = 8, 5
    model = Seq2Seq(Seq2SeqConfig(V, V, emb_dim=16, hidden_size=24, attn_dim=24))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(120):
        src = torch.randint(1, V, (32, S), generator=g)
        tgt = src.flip(1)
        tgt_in = torch.cat([torch.zeros(32, 1, dtype=torch.long), tgt[:, :-1]], 1)
        loss = torch.nn.functional.cross_entropy(
            model(src, tgt_in)[0].reshape(-1, V), tgt.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    src = torch.randint(1, V, (64, S), generator=g)
    tokens, w = model.greedy_decode(src, bos=0, max_len=S)
    assert (tokens == src.flip(1)).float().mean() > 0.9
    # Output step i looks near source position S - 1 - i: an anti-diagonal alignment.
    # (Bidirectional annotations also describe their neighbours, so the peak may sit one off.)
    near = (torch.arange(S)[None, :] - torch.arange(S - 1, -1, -1)[:, None]).abs() <= 1  # (T, S)
    assert (w.mean(0) * near).sum(-1).min() > 0.6  # uniform weights would give min 0.4


def test_bad_input_raises_naming_the_argument():
    model = Seq2Seq(Seq2SeqConfig(5, 5))
    with pytest.raises(ValueError, match="src"):
        model.encode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="tgt_in"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(torch.zeros(2, 3, dtype=torch.long), bos=0, max_len=0)


def test_reversal_batch_and_train_reversal_record_snapshots():
    src, tgt = reversal_batch(3, 4, 5, torch.Generator().manual_seed(1))
    assert torch.equal(tgt, src.flip(1)) and src.min() >= 1 and src.max() <= 4
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(5, 5, emb_dim=4, hidden_size=4, attn_dim=4, score="general"))
    examples = torch.tensor([[1, 2, 3], [4, 4, 1]])
    h = train_reversal(model, steps=3, batch=4, seq_len=3, examples=examples, eval_batch=16)
    assert len(h["loss"]) == 3 and [s["step"] for s in h["snapshots"]] == [3]
    snap = h["snapshots"][0]
    tokens, alignment = model.greedy_decode(examples, bos=0, max_len=3)  # the final model's
    assert snap["tokens"] == tokens.tolist() and not model.training
    torch.testing.assert_close(torch.tensor(snap["alignment"]), alignment)
    assert h["accuracy"] == snap["accuracy"] and 0 <= h["accuracy"] <= 1


def test_reversal_helpers_reject_bad_arguments():
    with pytest.raises(ValueError, match="vocab"):
        reversal_batch(2, 3, 2)
    with pytest.raises(ValueError, match="seq_len"):
        reversal_batch(2, 0, 5)
    model = Seq2Seq(Seq2SeqConfig(5, 6, emb_dim=4, hidden_size=4, attn_dim=4))
    with pytest.raises(ValueError, match="src_vocab == tgt_vocab"):
        train_reversal(model, steps=1)
    model = Seq2Seq(Seq2SeqConfig(5, 5, emb_dim=4, hidden_size=4, attn_dim=4))
    with pytest.raises(TypeError, match="model"):
        train_reversal(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="examples"):
        train_reversal(model, steps=1, seq_len=3, examples=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="eval_every"):
        train_reversal(model, steps=1, eval_every=-1)
    with pytest.raises(ValueError, match="lr"):
        train_reversal(model, steps=1, lr=0.0)
