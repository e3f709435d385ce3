"""fmref.rag.bm25 against rank_bm25.BM25Okapi on real text (the Python docs)."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from fmref.rag.bm25 import BM25, tokenize
from fmref.rag.chunk import chunk_text
from fmref.text.corpus import python_docs_topics


@pytest.fixture(scope="module")
def docs_corpus():
    chunks = []
    for text in python_docs_topics().values():
        chunks += chunk_text(text, max_tokens=120, overlap=20)
    return [tokenize(c) for c in chunks]


QUERIES = [
    "how do I copy a list",
    "the else clause of a for loop runs when the loop is not broken",
    "what does the the the with statement guarantee",  # repeated tokens count each time
    "__exit__ __enter__ context manager",
    "unknownwordxyz the",  # an unknown token adds nothing
    "",
]


@pytest.mark.parametrize("k1,b,epsilon", [(1.5, 0.75, 0.25), (1.2, 0.3, 0.5), (2.0, 1.0, 0.0)])
def test_scores_equal_rank_bm25_on_python_docs(docs_corpus, k1, b, epsilon):
    ref = BM25Okapi(docs_corpus, k1=k1, b=b, epsilon=epsilon)
    ours = BM25(docs_corpus, k1=k1, b=b, epsilon=epsilon)
    assert ours.avgdl == pytest.approx(ref.avgdl, rel=1e-15)
    assert ours.average_idf == pytest.approx(ref.average_idf, rel=1e-12)
    # rank_bm25 floors negative IDFs ("the", "a" ... appear in most chunks) at eps * mean IDF
    assert ours.idf["the"] == pytest.approx(ref.idf["the"], rel=1e-12)
    assert ours.idf["the"] == pytest.approx(epsilon * ref.average_idf, rel=1e-12)
    for query in QUERIES:
        q = tokenize(query)
        np.testing.assert_allclose(ours.get_scores(q).numpy(), ref.get_scores(q), rtol=1e-12)


def test_top_k_is_the_argsort_of_rank_bm25_scores(docs_corpus):
    ref = BM25Okapi(docs_corpus)
    ours = BM25(docs_corpus)
    q = tokenize("how are default parameter values evaluated")
    scores = ref.get_scores(q)
    top = ours.top_k(q, k=10)
    assert [i for i, _ in top] == list(np.argsort(-scores, kind="stable")[:10])
    np.testing.assert_allclose([s for _, s in top], np.sort(scores)[::-1][:10], rtol=1e-12)
    assert len(ours.top_k(q, k=10**6)) == len(docs_corpus)


def test_top_k_breaks_ties_by_document_order():
    bm25 = BM25([["x"], ["y"], ["x"], ["z"], ["w"]])
    assert [i for i, _ in bm25.top_k(["x"], 3)] == [0, 2, 1]


def test_tokenize_lowercases_words():
    assert tokenize("Hello, World_2!") == ["hello", "world_2"]
    with pytest.raises(TypeError, match="text"):
        tokenize(["a"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="corpus_tokens"):
        BM25([])
    with pytest.raises(ValueError, match="corpus_tokens"):
        BM25("text")
    with pytest.raises(ValueError, match="corpus_tokens"):
        BM25([[], []])
    with pytest.raises(TypeError, match=r"corpus_tokens\[1\]"):
        BM25([["a"], "a b"])
    with pytest.raises(ValueError, match="k1"):
        BM25([["a"]], k1=-1)
    with pytest.raises(ValueError, match="b must"):
        BM25([["a"]], b=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BM25([["a"]], epsilon=-0.1)
    bm25 = BM25([["a"], ["b"]])
    with pytest.raises(TypeError, match="query_tokens"):
        bm25.get_scores("a")
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must"):
            bm25.top_k(["a"], k)
