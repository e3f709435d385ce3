"""
Sparse attention patterns
=========================

A full causal mask lets each of :math:`N` queries see up to :math:`N` keys.
Sparse patterns keep a fixed budget per query: a sliding window (Longformer,
Mistral), the strided and fixed patterns of the Sparse Transformer, and
Longformer's global tokens that see and are seen by everyone. We draw each
mask from :mod:`fmref.nn.efficient` at :math:`N = 64` and count how many
query-key pairs survive as :math:`N` grows.
"""

# %%
# Five masks
# ----------
import matplotlib.pyplot as plt
import torch

from fmref.nn.attention import causal_mask
from fmref.nn.efficient import fixed_mask, global_tokens_mask, sliding_window_mask, strided_mask

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

N = 64
masks = {
    "full causal": causal_mask(N, N),
    "sliding window (w = 8)": sliding_window_mask(N, 8),
    "strided (l = 8)": strided_mask(N, 8),
    "fixed (l = 8, c = 1)": fixed_mask(N, 8),
    "Longformer (w = 4, 2 global)": global_tokens_mask(N, 4, [0, 32]),
}
fig, axes = plt.subplots(1, 5, figsize=(14, 3.4), layout="constrained")
for ax, (name, mask) in zip(axes, masks.items()):
    ax.imshow(mask, cmap="Greys", vmin=0, vmax=1)
    ax.set_title(f"{name}\n{mask.float().mean():.0%} of pairs", fontsize=9)
    ax.set_xlabel("key position")
    ax.set_xticks([0, 32, 63])
    ax.set_yticks([0, 32, 63])
axes[0].set_ylabel("query position")
fig.suptitle("Sparse patterns keep a fixed number of keys per query (black = attend)")

# %%
# How the number of pairs grows
# -----------------------------
# With the stride set to :math:`\sqrt{N}`, the strided pattern keeps about
# :math:`2\sqrt{N}` keys per query, so :math:`O(N\sqrt{N})` pairs in all; a
# window of fixed size keeps :math:`O(N w)`; the full causal mask keeps
# :math:`N(N+1)/2`.
ns = [256, 512, 1024, 2048, 4096]
counts = {"full causal": [], "strided, l = sqrt(N)": [], "sliding window, w = 256": []}
for n in ns:
    counts["full causal"].append(n * (n + 1) // 2)
    counts["strided, l = sqrt(N)"].append(int(strided_mask(n, int(n**0.5)).sum()))
    counts["sliding window, w = 256"].append(int(sliding_window_mask(n, 256).sum()))
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
for name, c in counts.items():
    ax.loglog(ns, c, "o-", label=name)
    print(f"{name:24s}", c)
ax.set_xlabel("sequence length N")
ax.set_ylabel("query-key pairs computed")
ax.set_title("Full attention grows as N^2; sparse patterns as N sqrt(N) or N w")
ax.legend()
plt.show()
