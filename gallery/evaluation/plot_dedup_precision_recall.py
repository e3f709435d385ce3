"""
Measuring a deduplicator: precision and recall against known copies
====================================================================

A deduplicator is a classifier of document pairs, and it can be evaluated like
one. The 79 topic texts of the Python documentation corpus are mixed with 10
re-formatted copies (upper case, extra blank lines) and 20 near copies in
which 2% of the words were edited (:func:`fmref.data.dedup.perturb`). Exact
hashing after normalisation (:func:`fmref.data.dedup.exact_duplicates`) finds
only the re-formatted copies; MinHash with LSH
(:func:`fmref.data.minhash.near_duplicates`) finds the near copies too, and
its similarity threshold trades precision for recall. The right panel shows
the LSH S-curve: the probability that a pair of a given Jaccard similarity
becomes a candidate, for the banding chosen at threshold 0.8.
"""

# %%
# Build the corpus with known duplicate pairs.
import matplotlib.pyplot as plt
import numpy as np
import torch

from fmref.data.dedup import exact_duplicates, perturb
from fmref.data.minhash import lsh_params, near_duplicates
from fmref.text.corpus import python_docs_topics

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
docs = list(python_docs_topics().values())
corpus, truth = list(docs), set()
for i in range(0, 20, 2):  # 10 re-formatted copies
    corpus.append("\n\n".join(line.upper() for line in docs[i].split("\n")))
    truth.add((i, len(corpus) - 1))
for i in range(1, 40, 2):  # 20 near copies, 2% of the words edited
    corpus.append(perturb(docs[i], n_edits=max(1, len(docs[i].split()) // 50), seed=i))
    truth.add((i, len(corpus) - 1))


def precision_recall(found):
    hits = len(found & truth)
    return (hits / len(found) if found else 1.0), hits / len(truth)


exact = {(j, i) for i, j in exact_duplicates(corpus).items()}
p_exact, r_exact = precision_recall(exact)
print(f"exact hash: precision {p_exact:.3f}, recall {r_exact:.3f}")

# %%
# Sweep the MinHash threshold.
thresholds = [0.5, 0.6, 0.7, 0.8, 0.9]
scores = [precision_recall(set(near_duplicates(corpus, threshold=t))) for t in thresholds]
for t, (p, r) in zip(thresholds, scores):
    print(f"MinHash threshold {t}: precision {p:.3f}, recall {r:.3f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.plot(thresholds, [p for p, _ in scores], "o-", label="precision")
ax0.plot(thresholds, [r for _, r in scores], "s-", label="recall")
ax0.axhline(r_exact, color="0.5", ls="--", label="recall of exact hashing")
ax0.set(
    xlabel="MinHash Jaccard threshold",
    ylabel="fraction",
    ylim=(0, 1.05),
    title="A high threshold misses edited copies",
)
ax0.legend(loc="lower left")
b, r = lsh_params(0.8, 128)
s = np.linspace(0, 1, 200)
ax1.plot(s, 1 - (1 - s**r) ** b)
ax1.axvline(0.8, color="0.5", ls="--")
ax1.set(
    xlabel="Jaccard similarity of a pair",
    ylabel="probability of becoming a candidate",
    title=f"LSH S-curve: {b} bands of {r} rows",
)
fig.tight_layout()
plt.show()
