"""fmref.rag.late: MaxSim equals its formula; the index equals MaxSim per document."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.models.bert import Bert, BertConfig
from fmref.rag.late import (
    LateInteractionIndex,
    document_token_vectors,
    late_interaction_rankings,
    maxsim,
)
from fmref.rag.minilm import SentenceEncoder
from fmref.text.wordpiece import WordPieceTokenizer


def direct_maxsim(q, d):
    # Khattab and Zaharia (2020), Eq. 3: S = sum_i max_j E_q_i . E_d_j, written as loops in float64
    total = 0.0
    for i in range(q.shape[0]):
        total += max(sum(float(q[i, c]) * float(d[j, c]) for c in range(q.shape[1]))
                     for j in range(d.shape[0]))  # fmt: skip
    return total


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**16))
def test_maxsim_equals_the_direct_formula(tq, td, dim, seed):
    g = torch.Generator().manual_seed(seed)
    q, d = torch.randn(tq, dim, generator=g), torch.randn(td, dim, generator=g)
    assert maxsim(q, d) == pytest.approx(direct_maxsim(q, d), abs=1e-5)


def test_index_scores_every_document_by_maxsim_and_ranks_by_them():
    g = torch.Generator().manual_seed(0)
    docs = [torch.nn.functional.normalize(torch.randn(n, 8, generator=g), dim=1)
            for n in (3, 1, 7, 2, 5)]  # fmt: skip
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    index = LateInteractionIndex(docs)
    expected = [direct_maxsim(q, d) for d in docs]
    assert index.scores(q).tolist() == pytest.approx(expected, abs=1e-5)
    ranked = [i for i, _ in index.top_k(q, k=5)]
    assert ranked == sorted(range(5), key=lambda i: -expected[i])
    assert len(index.top_k(q, k=50)) == 5
    assert index.doc_of_token.tolist() == [0] * 3 + [1] + [2] * 7 + [3] * 2 + [4] * 5


@pytest.fixture(scope="module")
def encoder():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", "tuple", "copy", ",", "."]
    torch.manual_seed(0)
    bert = Bert(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=32)).eval()  # fmt: skip
    return SentenceEncoder(bert, WordPieceTokenizer(vocab))


def test_token_vectors_are_the_unit_hidden_states_whatever_the_batch(encoder):
    texts = ["list", "copy a tuple, then a list.", "tuple tuple"]
    batched = encoder.token_embeddings(texts)
    for text, v in zip(texts, batched):
        ids = torch.tensor([encoder.tokenizer.encode(text)])
        alone = torch.nn.functional.normalize(encoder.model(ids)[0], dim=-1)
        torch.testing.assert_close(v, alone, atol=1e-5, rtol=0)
    # mean of the hidden states (before normalisation) is what embed() pools
    hidden = encoder.model(torch.tensor([encoder.tokenizer.encode(texts[1])]))[0]
    pooled = torch.nn.functional.normalize(hidden.mean(0), dim=0)
    torch.testing.assert_close(encoder.embed([texts[1]])[0], pooled, atol=1e-5, rtol=0)


def test_document_vectors_drop_punctuation_only(encoder):
    full = encoder.token_embeddings(["copy, list."])[0]  # [CLS] copy , list . [SEP]
    kept = document_token_vectors(encoder, ["copy, list."])[0]
    torch.testing.assert_close(kept, full[[0, 1, 3, 5]])


def test_rankings_refuse_empty_queries_and_bad_k(encoder):
    docs = encoder.token_embeddings(["list", "tuple"])
    assert late_interaction_rankings(encoder, ["tuple"], docs, k=1) == [[1]]
    with pytest.raises(ValueError, match="queries"):
        late_interaction_rankings(encoder, [""], docs, k=1)
    with pytest.raises(TypeError, match="queries"):
        late_interaction_rankings(encoder, "tuple", docs, k=1)
    for k in (0, -1):
        with pytest.raises(ValueError, match="k"):
            late_interaction_rankings(encoder, ["tuple"], docs, k=k)
    with pytest.raises(ValueError, match="doc_tokens"):
        LateInteractionIndex([torch.zeros(0, 16)])
