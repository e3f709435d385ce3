"""fmref.rag.rerank: pairs as BERT's tokenizer builds them; reranking stays inside the top k."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.bert import Bert, BertConfig
from fmref.rag.rerank import CrossEncoder, cross_encoder_rankings, encode_pairs, rerank


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(12))), st.integers(1, 15), st.integers(0, 2**16))
def test_rerank_never_brings_in_an_item_outside_the_top_k(ranking, k, seed):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(12, generator=g).tolist()
    out = rerank(lambda items: [table[i] for i in items], ranking, k)
    assert set(out[:k]) == set(ranking[:k])  # the same candidates, reordered
    assert out[k:] == ranking[k:]  # the tail is untouched
    scores = [table[i] for i in out[:k]]
    assert scores == sorted(scores, reverse=True)


def test_rerank_keeps_the_first_stage_order_among_ties():
    assert rerank(lambda items: [0.0] * len(items), [3, 1, 2], k=3) == [3, 1, 2]
    with pytest.raises(ValueError, match="score"):
        rerank(lambda items: [1.0], [3, 1, 2], k=3)


def test_pairs_match_transformers_bert_tokenizer():
    # Golden: transformers' BertTokenizer on all-MiniLM-L6-v2's vocab.txt (a local file),
    # sentence pairs truncated "only_second", as a cross-encoder's tokenizer does.
    transformers = pytest.importorskip("transformers")
    from fmref.rag.minilm import minilm_files
    from fmref.text.wordpiece import WordPieceTokenizer

    vocab = minilm_files() / "vocab.txt"
    ours = WordPieceTokenizer.from_file(vocab)
    ref = transformers.BertTokenizer(str(vocab), do_lower_case=True)
    query = "Does a loop's else clause run after break?"
    passages = ["It terminates the nearest enclosing loop, skipping the optional else clause.",
                "pass is a null operation " * 20]  # fmt: skip
    ids, mask, types = encode_pairs(ours, query, passages, max_length=40)
    for row, passage in enumerate(passages):
        enc = ref(query, passage, truncation="only_second", max_length=40)
        n = len(enc["input_ids"])
        assert ids[row, :n].tolist() == enc["input_ids"]
        assert types[row, :n].tolist() == enc["token_type_ids"]
        assert mask[row].tolist() == [1] * n + [0] * (ids.shape[1] - n)


def test_cross_encoder_reranks_inside_the_top_k_and_ignores_padding():
    from fmref.text.wordpiece import WordPieceTokenizer

    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d"])
    torch.manual_seed(0)
    model = CrossEncoder(Bert(BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=16)))  # fmt: skip
    torch.nn.init.normal_(model.head.weight)
    model.eval()
    texts = ["a", "b c", "c d a", "d", "a a b", "b"]
    first = [[5, 4, 3, 2, 1, 0], [0, 2, 4, 1, 3, 5]]
    out = cross_encoder_rankings(model, tok, ["a b", "d"], first, texts, k=3)
    for o, f in zip(out, first):
        assert set(o[:3]) == set(f[:3]) and o[3:] == f[3:]
    # a pair's score does not depend on the padding added for a longer one in its batch
    alone = model(*encode_pairs(tok, "a b", ["d"]))
    batch = model(*encode_pairs(tok, "a b", ["d", "c d a a b"]))
    torch.testing.assert_close(alone[0], batch[0], atol=1e-5, rtol=0)


def test_the_cached_reranker_only_reorders_the_hybrid_top_10_of_held_out_questions():
    from fmref.rag.compare import COMPARISON_SETTINGS, heldout_comparison
    from fmref.rag.evalset import load_evalset

    result = heldout_comparison()
    k = COMPARISON_SETTINGS["rerank_k"]
    hybrid, reranked = result["rankings"]["hybrid"], result["rankings"]["hybrid + reranker"]
    assert len(reranked) == len(load_evalset("test")) == 48
    for a, b in zip(hybrid, reranked):
        assert set(a[:k]) == set(b[:k]) and a[k:] == b[k:]
    train = {q["question"] for q in load_evalset("train")}
    assert not train & {q["question"] for q in load_evalset("test")}  # held out
