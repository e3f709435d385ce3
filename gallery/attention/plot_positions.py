"""
Sinusoidal, rotary and ALiBi positions
======================================

Attention by itself ignores order. Three ways of putting order back are drawn
here: the sinusoidal encodings added to the input of the original Transformer,
the rotations of rotary position embeddings (RoPE) applied to queries and keys,
and the linear distance penalties of ALiBi added to the scores. The key finding
to look for: with RoPE the score between a query at position ``m`` and a key
at position ``n`` depends only on ``m - n``, so the score matrix is constant
along its diagonals.
"""

# %%
# Sinusoidal encodings
# --------------------
# Column pair ``(2i, 2i+1)`` is a sine and a cosine whose wavelength grows
# geometrically from ``2π`` to ``10000 · 2π``: fast dimensions on the left tell
# neighbours apart, slow ones on the right tell distant positions apart.
import matplotlib.pyplot as plt
import torch

from fmref.nn.position import (
    alibi_bias,
    alibi_slopes,
    apply_rope,
    rope_angles,
    sinusoidal_positions,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

pe = sinusoidal_positions(64, 64)  # (max_len, d_model)
similarity = pe @ pe.T  # (max_len, max_len)

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
im = axes[0].imshow(pe, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
axes[0].set_xlabel("dimension")
axes[0].set_ylabel("position")
axes[0].set_title("PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)", fontsize=10)
fig.colorbar(im, ax=axes[0])
for p in (0, 20, 40):
    axes[1].plot(similarity[p], label=f"position {p}")
axes[1].set_xlabel("other position")
axes[1].set_ylabel("dot product of encodings")
axes[1].set_title("PE(p)·PE(p') peaks at p' = p and depends on p - p'", fontsize=10)
axes[1].legend()
fig.tight_layout()

# %%
# RoPE: rotations whose scores depend on the offset only
# ------------------------------------------------------
# :func:`~fmref.nn.position.apply_rope` turns each pair of features of a query or
# key at position ``p`` by the angle ``p θ_i``. A dot product of two rotated
# vectors depends on the difference of their angles, so the same ``q`` and ``k``
# placed at positions ``m`` and ``n`` score ``f(m - n)``. Without rotation,
# learned absolute positions added to q and k give no such structure.
d_head, T = 16, 32
q, k = torch.randn(d_head), torch.randn(d_head)
angles = rope_angles(d_head, T)  # (T, d_head // 2)
q_rot = apply_rope(q.expand(T, d_head), angles)  # (T, d_head): q at every position
k_rot = apply_rope(k.expand(T, d_head), angles)
rope_scores = q_rot @ k_rot.T  # (T, T): [m, n] = score of q at m with k at n
absolute = torch.randn(T, d_head) * 0.7  # random absolute position vectors
abs_scores = (q + absolute) @ (k + absolute).T

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, scores, name in (
    (axes[0], rope_scores, "RoPE"),
    (axes[1], abs_scores, "added absolute positions"),
):
    im = ax.imshow(scores, cmap="RdBu")
    ax.set_xlabel("key position n")
    ax.set_ylabel("query position m")
    ax.set_title(f"{name}: score of the same q, k", fontsize=10)
    fig.colorbar(im, ax=ax)
offsets = torch.arange(-T + 1, T)
for name, scores in (("RoPE", rope_scores), ("absolute", abs_scores)):
    spread = [scores.diagonal(int(o)).std(correction=0).item() for o in offsets]
    axes[2].plot(offsets, spread, label=name)
axes[2].set_xlabel("offset n - m (a diagonal of the matrix)")
axes[2].set_ylabel("std of scores along the diagonal")
axes[2].set_title("RoPE's diagonals are constant (std ≈ 0)", fontsize=10)
axes[2].legend()
fig.tight_layout()

# %%
# The pairs turn at different speeds: pair ``i`` by ``θ_i = 10000^(-2i/d)``
# per position, so the first pair completes a turn every ``2π ≈ 6.3`` positions and
# the last barely moves over thousands of positions.
fig, ax = plt.subplots(figsize=(6, 3.6))
long = rope_angles(d_head, 200)  # (200, d_head // 2)
for i in (0, 2, 4, 7):
    ax.plot(torch.cos(long[:, i]), label=f"pair {i}: θ = {long[1, i]:.4f}")
ax.set_xlabel("position p")
ax.set_ylabel("cos(p θ_i)")
ax.set_title("Early pairs rotate fast, late pairs slowly", fontsize=10)
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()

# %%
# ALiBi: a linear penalty per head
# --------------------------------
# ALiBi adds ``-m_h · (i - j)`` to the score of query ``i`` and key ``j``, with
# head slopes from :func:`~fmref.nn.position.alibi_slopes`: a geometric sequence,
# so some heads look far and some look near.
n_heads = 8
bias = alibi_bias(n_heads, 16, 16)  # (H, T, T)
slopes = alibi_slopes(n_heads)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].bar(range(n_heads), slopes)
axes[0].set_yscale("log", base=2)
axes[0].set_xlabel("head h")
axes[0].set_ylabel("slope m_h")
axes[0].set_title("8 heads: slopes 1/2, 1/4, ..., 1/256", fontsize=10)
for h in (0, 3, 7):
    axes[1].plot(bias[h, -1], marker=".", label=f"head {h}, m = {slopes[h]:.4g}")
axes[1].set_xlabel("key position j (query at 15)")
axes[1].set_ylabel("bias added to the score")
axes[1].set_title("The penalty grows linearly with distance", fontsize=10)
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
