"""
Sparse, dense and hybrid retrieval on the Python docs
=====================================================

We index the chunks of the Python documentation corpus three ways, with
:class:`~fmref.rag.bm25.BM25` over words, with exact inner-product search over
all-MiniLM-L6-v2 embeddings (:func:`~fmref.rag.minilm.load_minilm`,
:class:`~fmref.rag.dense.DenseIndex`), and with reciprocal rank fusion of the
two (:func:`~fmref.rag.dense.reciprocal_rank_fusion`), and ask each the
manual's evaluation questions (:func:`~fmref.rag.evalset.load_evalset`). The
figure shows recall@k, the fraction of relevant topics found among the first
``k`` topics retrieved, for ``k`` from 1 to 20; the table gives recall@5, MRR
and nDCG@10.
"""

# %%
# The corpus, the questions and the two indexes
# ---------------------------------------------
# The chunk embeddings are computed once and cached (:func:`fmref.zoo.cached`).
import time

import matplotlib.pyplot as plt
import torch

from fmref.rag.bm25 import BM25, tokenize
from fmref.rag.dense import DenseIndex, reciprocal_rank_fusion
from fmref.rag.evalset import (
    corpus_chunks,
    corpus_embeddings,
    evaluate,
    load_evalset,
    topic_ranking,
)
from fmref.rag.metrics import recall_at_k
from fmref.rag.minilm import load_minilm

torch.set_num_threads(1)  # small model: one thread, and no oversubscription of a shared CPU
texts, topics = corpus_chunks()
questions = load_evalset()
start = time.perf_counter()
chunk_embeddings = corpus_embeddings()
print(
    f"{len(texts)} chunks, {len(questions)} questions; embeddings ready in "
    f"{time.perf_counter() - start:.1f} s (cached after the first run)"
)

bm25 = BM25([tokenize(t) for t in texts])
dense = DenseIndex(chunk_embeddings)
encoder = load_minilm()
query_embeddings = encoder.embed([q["question"] for q in questions])

# %%
# Rank every chunk for every question
# -----------------------------------
N = len(texts)
runs = {
    "BM25": [[i for i, _ in bm25.top_k(tokenize(q["question"]), N)] for q in questions],
    "MiniLM (dense)": dense.search(query_embeddings, N)[1].tolist(),
}
runs["hybrid (RRF)"] = [
    [d for d, _ in reciprocal_rank_fusion([a, b])]
    for a, b in zip(runs["BM25"], runs["MiniLM (dense)"])
]
for name, rankings in runs.items():
    print(f"{name:>15}: {evaluate(rankings)}")

# %%
# Recall at every cut-off
# -----------------------
ks = list(range(1, 21))
fig, ax = plt.subplots(figsize=(7, 4))
for name, rankings in runs.items():
    curve = [
        sum(
            recall_at_k(topic_ranking(r, topics), q["relevant"], k)
            for r, q in zip(rankings, questions)
        )
        / len(questions)
        for k in ks
    ]
    ax.plot(ks, curve, marker="o", markersize=3, label=name)
ax.set_xlabel("k (topics retrieved)")
ax.set_ylabel("recall@k (mean over questions)")
ax.set_ylim(0, 1)
ax.set_xticks([1, 5, 10, 15, 20])
ax.grid(alpha=0.3)
ax.legend()
ax.set_title("Questions in everyday words: MiniLM finds more relevant topics than BM25")
fig.tight_layout()
plt.show()
