"""
Every retriever on the held-out questions
=========================================

The 48 held-out questions of the manual's evaluation set
(:func:`~fmref.rag.evalset.load_evalset` with ``split="test"``) are asked of
six retrievers over the same chunks of the Python documentation: BM25, dense
all-MiniLM-L6-v2, late interaction over MiniLM's token vectors
(:mod:`fmref.rag.late`), the hybrid of BM25 and MiniLM, the hybrid's top 10
reordered by a cross-encoder fine-tuned on the other 48 questions
(:mod:`fmref.rag.rerank`), and a scripted agent that searches twice
(:mod:`fmref.rag.agentic`). The left panel shows recall@k for ``k`` from 1
to 20 topics, the right one recall@5 and nDCG@10. Everything is read from one
cached computation, :func:`fmref.rag.compare.heldout_comparison`.
"""

# %%
# The cached comparison
# ---------------------
# The first run computes it (two MiniLM passes over the corpus, the reranker's
# training, the searches); every later run reads it from :mod:`fmref.zoo`'s cache.
import matplotlib.pyplot as plt
import torch

import fmref.zoo
from fmref.rag.compare import RETRIEVERS, format_table

torch.set_num_threads(1)  # small models: one thread, no oversubscription of a shared CPU
result = fmref.zoo.get("rag-heldout-comparison").load()
print(format_table(result))
gain = result["rerank_gain"]["hybrid + reranker"]
print(
    f"reranker gain in nDCG@10 over the hybrid: {gain['ndcg@10']:+.3f} "
    f"(95% paired bootstrap interval {gain['low']:+.3f} to {gain['high']:+.3f})"
)

# %%
# Recall at every cut-off, and the two summary metrics
# ----------------------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1.2, 1])
ks = range(1, len(result["recall_curve"]["BM25"]) + 1)
for name in RETRIEVERS:
    left.plot(ks, result["recall_curve"][name], marker="o", markersize=3, label=name)
left.set_xlabel("k (topics retrieved)")
left.set_ylabel("recall@k (mean over 48 held-out questions)")
left.set_ylim(0, 1)
left.set_xticks([1, 5, 10, 15, 20])
left.grid(alpha=0.3)
left.legend(fontsize=8)
left.set_title("Recall at every cut-off")

width = 0.38
xs = range(len(RETRIEVERS))
for offset, metric in ((-width / 2, "recall@5"), (width / 2, "ndcg@10")):
    values = [result["metrics"][name][metric] for name in RETRIEVERS]
    right.bar([x + offset for x in xs], values, width, label=metric)
right.set_xticks(list(xs))
right.set_xticklabels(RETRIEVERS, rotation=30, ha="right", fontsize=8)
right.set_ylabel("score on the held-out questions")
right.set_ylim(0, 1.15)
right.legend(loc="upper center", ncol=2)
right.grid(axis="y", alpha=0.3)
best = max(RETRIEVERS, key=lambda n: result["metrics"][n]["ndcg@10"])
right.set_title(f"Best nDCG@10: {best} ({result['metrics'][best]['ndcg@10']:.3f})")
fig.suptitle("Retrievers on the same 48 held-out questions about the Python docs")
fig.tight_layout()
plt.show()
