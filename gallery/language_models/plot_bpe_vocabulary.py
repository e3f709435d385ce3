"""
BPE merges and compression versus vocabulary size
=================================================

Byte-level BPE starts from the 256 byte values and adds one token per merge.
Here :class:`fmref.text.bpe.BPETokenizer` is trained on the training split of
the Python documentation corpus (:func:`fmref.text.corpus.python_docs`) with
vocabularies from 256 to 8,192 tokens. We print the first merges it learns,
show how one sentence splits as the vocabulary grows, and plot the
compression on the validation split (UTF-8 bytes per token): it rises quickly
for the first few hundred merges and then ever more slowly, while the
embedding table grows linearly with the vocabulary.
"""

# %%
# The first merges
# ----------------
# Each merge joins the most frequent pair of adjacent tokens. In English
# technical prose the first ones are frequent letter pairs and the leading
# space of common words: a leading space belongs to the word that follows it.
import time

import matplotlib.pyplot as plt
import torch

from fmref.text.bpe import BPETokenizer
from fmref.text.corpus import python_docs

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

train, val = python_docs("train"), python_docs("validation")
start = time.perf_counter()
tok = BPETokenizer.train(train, vocab_size=8192)
print(f"trained {len(tok.merges)} merges in {time.perf_counter() - start:.2f} s")
for i in range(12):
    a, b = tok.merges[i]
    print(
        f"merge {i:2d}: {tok.token_bytes(a)!r:>8} + {tok.token_bytes(b)!r:<8}"
        f" -> {tok.token_bytes(256 + i)!r}"
    )

# %%
# One sentence at growing vocabulary sizes
# ----------------------------------------
# Merges are learned in order, so the tokenizer with the first ``k`` merges is
# a prefix of the larger one: we cut the merge list instead of retraining.
sentence = "The for statement is used to iterate over the elements of a sequence."
sizes = [256, 512, 1024, 2048, 4096, 8192]
for size in sizes:
    small = BPETokenizer(tok.merges[: size - 256])
    pieces = [small.decode([i]) for i in small.encode(sentence)]
    print(f"{size:5d} ids, {len(pieces):2d} tokens: " + "|".join(pieces))

# %%
# Compression on held-out text
# ----------------------------
# Bytes per token on the validation split, which the tokenizer never saw.
# Each doubling of the vocabulary buys less than the one before.
val_bytes = len(val.encode("utf-8"))
grid = [256, 320, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
ratios = [val_bytes / len(BPETokenizer(tok.merges[: v - 256]).encode(val)) for v in grid]
for v, r in zip(grid, ratios):
    print(f"vocab {v:5d}: {r:.2f} bytes per token")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(grid, ratios, "o-", color="#4c72b0")
ax.set_xscale("log", base=2)
ax.set_xlabel("vocabulary size (tokens, log scale)")
ax.set_ylabel("UTF-8 bytes per token (validation split)")
ax.set_title("Each doubling of the vocabulary compresses less")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# What the extra compression costs
# --------------------------------
# A model's embedding table (and its output head, unless tied) has one row per
# token: at width 768, as in GPT-2 small, the table grows by 768 parameters per
# token added, while the sequence a text needs shrinks by the ratio above.
width = 768
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(grid, [v * width / 1e6 for v in grid], "s-", color="#c44e52", label="embedding table")
ax.set_xscale("log", base=2)
ax.set_xlabel("vocabulary size (tokens, log scale)")
ax.set_ylabel("parameters at width 768 (millions)")
ax2 = ax.twinx()
ax2.plot(
    grid, [val_bytes / r / 1000 for r in ratios], "o-", color="#4c72b0", label="validation tokens"
)
ax2.set_ylabel("tokens for the validation split (thousands)")
ax.set_title("A bigger vocabulary: more parameters, shorter sequences")
fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.88))
fig.tight_layout()
plt.show()
