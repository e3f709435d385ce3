"""
A map of MiniLM embeddings of the Python docs
=============================================

all-MiniLM-L6-v2 (:func:`~fmref.rag.minilm.load_minilm`) maps every chunk of
the Python documentation corpus to a unit vector of 384 numbers. We project
the chunk embeddings (:func:`~fmref.rag.evalset.corpus_embeddings`) onto
their first two principal components and colour the chunks of a few groups
of related topics; the grey points are the other topics. Chunks about the
same subject land near each other, which is what lets a dense retriever find
them from a question phrased in other words.
"""

# %%
# Principal components of the chunk embeddings
# --------------------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.rag.evalset import corpus_chunks, corpus_embeddings

torch.set_num_threads(1)
texts, topics = corpus_chunks()
E = corpus_embeddings()  # (n_chunks, 384), unit rows
centred = E - E.mean(0)
U, S, V = torch.linalg.svd(centred, full_matrices=False)
xy = centred @ V[:2].T  # (n_chunks, 2)
explained = (S[:2] ** 2 / (S**2).sum()).tolist()
print(
    f"{len(texts)} chunks; the two components explain "
    f"{100 * explained[0]:.1f}% and {100 * explained[1]:.1f}% of the variance"
)

# %%
# Groups of topics
# ----------------
groups = {
    "loops and branches": {"for", "while", "break", "continue", "if", "else"},
    "exceptions": {"try", "raise", "exceptions", "assert"},
    "numbers and literals": {"integers", "floating", "imaginary", "numbers", "conversions"},
    "operators": {"binary", "bitwise", "shifting", "unary", "power", "comparisons"},
    "strings": {"strings", "string-methods", "formatstrings"},
    "special methods": {
        "specialnames",
        "customization",
        "numeric-types",
        "sequence-types",
        "attribute-access",
        "callable-types",
        "context-managers",
    },
    "names and scopes": {"naming", "execmodel", "global", "nonlocal", "dynamic-features"},
}
fig, ax = plt.subplots(figsize=(7, 5.5))
other = [i for i, t in enumerate(topics) if not any(t in g for g in groups.values())]
ax.scatter(xy[other, 0], xy[other, 1], s=8, c="0.8", label="other topics")
for name, members in groups.items():
    idx = [i for i, t in enumerate(topics) if t in members]
    ax.scatter(xy[idx, 0], xy[idx, 1], s=14, label=f"{name} ({len(idx)})")
ax.set_xlabel(f"principal component 1 ({100 * explained[0]:.1f}% of variance)")
ax.set_ylabel(f"principal component 2 ({100 * explained[1]:.1f}% of variance)")
ax.legend(fontsize=7, loc="best")
ax.set_title("MiniLM places chunks on the same subject together")
fig.tight_layout()
plt.show()
