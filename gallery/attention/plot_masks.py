"""
Causal, bidirectional and sliding-window masks
==============================================

A mask decides which keys each query may see. An encoder such as BERT lets
every token see every other (bidirectional); a decoder such as GPT lets token
``i`` see only tokens ``0..i`` (causal), so that it can be trained to predict
the next token on all positions at once; a sliding window keeps only the last
``w`` keys, which bounds the cost per token. We draw each mask and the weights
it produces from the same queries and keys, then show why a decoder that uses a
KV cache needs its causal mask aligned to the bottom-right corner.
"""

# %%
# Three masks, same scores
# ------------------------
# :func:`fmref.nn.attention.causal_mask` builds both the causal and the
# sliding-window mask (``True`` = may attend).
import matplotlib.pyplot as plt
import torch

from fmref.nn.attention import attention_weights, causal_mask

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

T, d = 8, 16
q, k = torch.randn(T, d), torch.randn(T, d)  # (T, d)
masks = {
    "bidirectional (BERT)": torch.ones(T, T, dtype=torch.bool),
    "causal (GPT)": causal_mask(T, T),
    "sliding window, w = 3": causal_mask(T, T, window=3),
}

fig, axes = plt.subplots(2, 3, figsize=(10, 6.6), layout="constrained")
for col, (name, mask) in enumerate(masks.items()):
    weights = attention_weights(q, k, attn_mask=mask)  # (T, T)
    axes[0, col].imshow(mask, cmap="Greys", vmin=0, vmax=1)
    axes[0, col].set_title(f"{name}\n{int(mask.sum())} of {T * T} pairs allowed", fontsize=10)
    im = axes[1, col].imshow(weights, cmap="viridis", vmin=0, vmax=1)
    axes[1, col].set_title(f"weights; row sums = {weights.sum(-1).min():.2f}", fontsize=10)
    for row in range(2):
        axes[row, col].set_xlabel("key position")
        axes[row, col].set_ylabel("query position")
fig.colorbar(im, ax=axes[1].tolist(), label="attention weight", shrink=0.8)
fig.suptitle(
    "Masks (black = may attend) and their weights: masked keys get exactly zero weight",
    fontsize=11,
)

# %%
# Every row of the weights is a probability distribution over the allowed keys.
# The sliding window costs ``w`` keys per query instead of up to ``T``.
#
# Where the causal diagonal sits when queries are fewer than keys
# ---------------------------------------------------------------
# With a KV cache, a decoder that has already processed 5 tokens feeds only the
# 3 new ones: 3 queries meet 8 keys. Torch's ``is_causal=True`` builds
# ``ones(3, 8).tril()``, aligned to the top-left corner, so the newest query sees
# 3 keys; :func:`~fmref.nn.attention.causal_mask` aligns the diagonal to the
# bottom-right corner (query ``i`` sits at position ``5 + i``), which is what
# :class:`~fmref.nn.attention.MultiHeadAttention` uses with a cache.
t_q, t_k = 3, 8
top_left = torch.ones(t_q, t_k, dtype=torch.bool).tril()
bottom_right = causal_mask(t_q, t_k)

fig, axes = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
for ax, mask, name in zip(axes, (top_left, bottom_right), ("torch is_causal", "causal_mask")):
    ax.imshow(mask, cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(t_k))
    ax.set_yticks(range(t_q), [f"new {i} (pos {5 + i})" for i in range(t_q)])
    ax.axvline(4.5, color="tab:red", linestyle="--")
    ax.set_xlabel("key position (left of red: cached)")
    ax.set_title(f"{name}: newest query sees {int(mask[-1].sum())} keys", fontsize=10)
fig.suptitle("With 5 cached tokens, only the bottom-right alignment (right) is causal", fontsize=11)
plt.show()
