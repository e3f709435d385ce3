"""fmref.rag: chunking, dense search, fusion, metrics (vs scikit-learn), prompts, eval set."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.rag.chunk import chunk_text
from fmref.rag.dense import DenseIndex, reciprocal_rank_fusion
from fmref.rag.metrics import mrr, ndcg_at_k, recall_at_k, reciprocal_rank
from fmref.rag.prompt import build_prompt

# ----------------------------------------------------------------------------- chunking

words = st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=4), max_size=40)


@settings(max_examples=200, deadline=None)
@given(words, st.integers(1, 8), st.data())
def test_chunks_cover_the_words_in_order_with_the_overlap(ws, max_tokens, data):
    overlap = data.draw(st.integers(0, max_tokens - 1))
    text = " \n ".join(ws)
    chunks = chunk_text(text, max_tokens, overlap)
    split = [c.split() for c in chunks]
    assert all(1 <= len(c) <= max_tokens for c in split)
    # removing each chunk's overlap with the previous one gives back the words
    rebuilt = list(split[0]) if split else []
    for prev, cur in zip(split, split[1:]):
        shared = min(overlap, len(prev) - 1)
        assert cur[:shared] == prev[len(prev) - shared :]
        rebuilt += cur[shared:]
    assert rebuilt == ws
    assert all(c in text for c in chunks)  # substrings: layout kept


def test_chunks_count_tokenizer_tokens():
    pieces = {"aaaa": 4, "bb": 2, "c": 1}
    tokenizer = lambda w: ["t"] * pieces[w]  # noqa: E731
    chunks = chunk_text("aaaa bb c bb aaaa", max_tokens=4, overlap=2, tokenizer=tokenizer)
    assert chunks == ["aaaa", "bb c", "c bb", "bb", "aaaa"]
    assert chunk_text("aaaa", max_tokens=2, tokenizer=tokenizer) == ["aaaa"]  # too long alone


def test_chunk_bad_input():
    assert chunk_text("  \n ", 5) == []
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("a b", max_tokens=4, overlap=4)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("a b", max_tokens=4, overlap=-1)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_tokens"):
            chunk_text("a b", max_tokens=bad)
    with pytest.raises(TypeError, match="text"):
        chunk_text(["a"], 3)
    with pytest.raises(TypeError, match="tokenizer"):
        chunk_text("a", 3, tokenizer="wordpiece")


# ----------------------------------------------------------------------------- dense search


def test_dense_index_equals_brute_force_sort():
    g = torch.Generator().manual_seed(0)
    corpus = torch.nn.functional.normalize(torch.randn(200, 16, generator=g), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(5, 16, generator=g), dim=1)
    scores, ids = DenseIndex(corpus).search(queries, k=7)
    full = queries.double() @ corpus.double().T
    ref = torch.argsort(full, dim=1, descending=True)[:, :7]
    assert torch.equal(ids, ref)
    torch.testing.assert_close(scores.double(), full.gather(1, ref), atol=1e-6, rtol=0)
    top = DenseIndex(corpus).top_k(queries[0], k=3)
    assert [i for i, _ in top] == ref[0, :3].tolist()
    assert DenseIndex(corpus).search(queries, k=500)[1].shape == (5, 200)
    assert len(DenseIndex(corpus)) == 200 and DenseIndex(corpus).dim == 16


def test_dense_index_bad_input():
    with pytest.raises(ValueError, match="embeddings"):
        DenseIndex(torch.zeros(0, 8))
    with pytest.raises(ValueError, match="embeddings"):
        DenseIndex(torch.zeros(8))
    with pytest.raises(ValueError, match="embeddings"):
        DenseIndex([[1.0, 0.0]])
    index = DenseIndex(torch.eye(4))
    with pytest.raises(ValueError, match="d=4"):
        index.search(torch.ones(2, 3), k=1)  # mismatched embedding sizes
    with pytest.raises(ValueError, match="queries"):
        index.search(torch.ones(1, 1, 4), k=1)
    for k in (0, -1, 2.0):
        with pytest.raises(ValueError, match="k must"):
            index.search(torch.ones(4), k=k)
    with pytest.raises(ValueError, match="query"):
        index.top_k(torch.ones(2, 4), k=1)


# ----------------------------------------------------------------------------- fusion


def test_rrf_is_the_sum_of_reciprocal_ranks():
    # Cormack et al. (2009), eq. 1: RRFscore(d) = sum_r 1 / (k + r(d)), k = 60
    rankings = [["a", "b", "c", "d"], ["c", "a", "e"], ["e", "c"]]
    fused = dict(reciprocal_rank_fusion(rankings))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61 + 1 / 62)
    assert fused["d"] == pytest.approx(1 / 64)
    assert [d for d, _ in reciprocal_rank_fusion(rankings)][0] == "c"
    assert reciprocal_rank_fusion([["x", "y"]], k=0) == [("x", 1.0), ("y", 0.5)]


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(8))), st.permutations(list(range(8))))
def test_rrf_does_not_depend_on_the_order_of_the_rankings(r1, r2):
    a = dict(reciprocal_rank_fusion([r1, r2]))
    b = dict(reciprocal_rank_fusion([r2, r1]))
    assert a.keys() == b.keys() and all(a[d] == pytest.approx(b[d]) for d in a)
    # an item ranked first by both wins
    if r1[0] == r2[0]:
        assert reciprocal_rank_fusion([r1, r2])[0][0] == r1[0]


def test_rrf_bad_input():
    with pytest.raises(ValueError, match="rankings"):
        reciprocal_rank_fusion([])
    with pytest.raises(ValueError, match=r"rankings\[0\]"):
        reciprocal_rank_fusion([["a", "a"]])
    with pytest.raises(ValueError, match="k must"):
        reciprocal_rank_fusion([["a"]], k=-1)


# ----------------------------------------------------------------------------- metrics


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=2, max_size=12).filter(lambda g: max(g) > 0),
    st.data(),
    st.integers(1, 14),
)
def test_ndcg_equals_scikit_learn(grades, data, k):
    from sklearn import metrics as sklearn_metrics
    n = len(grades)
    ranking = data.draw(st.permutations(list(range(n))))
    scores = [0.0] * n
    for position, i in enumerate(ranking):
        scores[i] = float(n - position)  # distinct scores: no ties for sklearn to average
    relevant = {i: g for i, g in enumerate(grades)}
    ref = sklearn_metrics.ndcg_score(np.array([grades]), np.array([scores]), k=k)
    assert ndcg_at_k(ranking, relevant, k) == pytest.approx(ref, abs=1e-12)


def test_ndcg_hand_example():
    # DCG of grades (1, 2) = 1 + 2 / log2(3); ideal (2, 1) = 2 + 1 / log2(3)
    value = ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, k=2)
    assert value == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["z"], {"a"}, k=1) == 0.0


def test_recall_and_mrr():
    assert recall_at_k([1, 2, 3, 4], {4, 9}, k=3) == 0.0
    assert recall_at_k([1, 2, 3, 4], {4, 9}, k=4) == 0.5
    assert recall_at_k(["a", "b"], {"a": 2, "b": 0, "c": 1}, k=2) == 0.5  # grade 0: not relevant
    assert reciprocal_rank([5, 6, 7], {7}) == pytest.approx(1 / 3)
    assert reciprocal_rank([5, 6], {7}) == 0.0
    assert mrr([[1], [2, 1], [3]], [{1}, {1}, {1}]) == pytest.approx((1 + 0.5 + 0) / 3)


def test_metrics_bad_input():
    for k in (0, -2, 1.0):
        with pytest.raises(ValueError, match="k must"):
            recall_at_k([1], {1}, k)
        with pytest.raises(ValueError, match="k must"):
            ndcg_at_k([1], {1}, k)
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k([1], set(), 1)
    with pytest.raises(ValueError, match="relevant"):
        reciprocal_rank([1], [])
    with pytest.raises(ValueError, match="relevant"):
        ndcg_at_k([1], {1: 0}, 1)
    with pytest.raises(ValueError, match="relevant grades"):
        ndcg_at_k([1], {1: -1}, 1)
    with pytest.raises(ValueError, match="rankings and relevants"):
        mrr([[1]], [{1}, {2}])


# ----------------------------------------------------------------------------- prompts


def test_prompt_numbers_passages_in_order():
    prompt = build_prompt(" Why? ", ["first passage ", ("src", "second")])
    assert "[1] first passage\n\n[2] (src) second" in prompt
    assert prompt.endswith("Question: Why?\nAnswer:")
    assert "[1], [2]" in prompt  # the default instructions ask for citations
    assert prompt.index("[1] first") < prompt.index("[2] (src)") < prompt.index("Question")


def test_prompt_bad_input():
    with pytest.raises(ValueError, match="question"):
        build_prompt("  ", ["p"])
    with pytest.raises(ValueError, match="passages"):
        build_prompt("q", [])
    with pytest.raises(ValueError, match="passages"):
        build_prompt("q", "a single string")
    with pytest.raises(TypeError, match=r"passages\[1\]"):
        build_prompt("q", ["ok", ("a", "b", "c")])


# ----------------------------------------------------------------------------- IVF


def test_ivf_probing_every_cell_is_exact_search_and_recall_grows_with_n_probe():
    from fmref.rag.ivf import IVFIndex, kmeans

    g = torch.Generator().manual_seed(1)
    x = torch.nn.functional.normalize(torch.randn(600, 12, generator=g), dim=1)
    q = torch.nn.functional.normalize(torch.randn(40, 12, generator=g), dim=1)
    _, exact = DenseIndex(x).search(q, k=10)
    index = IVFIndex(x, n_lists=16)
    assert sorted(torch.cat(index.lists).tolist()) == list(range(600))  # a partition
    ids, scanned = index.search(q, k=10, n_probe=16)
    assert torch.equal(ids, exact) and scanned == 16 + 600
    recalls = []
    for n_probe in (1, 4, 16):
        ids, _ = index.search(q, k=10, n_probe=n_probe)
        hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, exact))
        recalls.append(hits / exact.numel())
    assert recalls[0] < recalls[1] < recalls[2] == 1.0
    centroids, assign = kmeans(x, 5)
    torch.testing.assert_close(centroids.norm(dim=1), torch.ones(5))
    assert torch.equal(assign, (x @ centroids.T).argmax(1))


def test_ivf_bad_input():
    from fmref.rag.ivf import IVFIndex, kmeans

    x = torch.nn.functional.normalize(torch.randn(20, 4), dim=1)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(x, 0)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(x, 21)
    with pytest.raises(ValueError, match="embeddings"):
        IVFIndex(torch.zeros(0, 4), n_lists=1)
    index = IVFIndex(x, n_lists=4)
    with pytest.raises(ValueError, match="n_probe"):
        index.search(x[:1], k=1, n_probe=5)
    with pytest.raises(ValueError, match="n_probe"):
        index.search(x[:1], k=1, n_probe=1.0)
    with pytest.raises(ValueError, match="k must"):
        index.search(x[:1], k=0)
    with pytest.raises(ValueError, match="queries"):
        index.search(torch.ones(1, 3), k=1)  # mismatched embedding size
    ids, _ = index.search(x[:1], k=20, n_probe=1)
    assert (ids == -1).any()  # one cell holds fewer than 20 vectors
