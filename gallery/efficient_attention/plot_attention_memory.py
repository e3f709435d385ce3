"""
Memory and time of naive vs tiled attention
===========================================

Naive attention builds the :math:`N \\times N` matrix of scores and then of
weights; tiled attention (:func:`fmref.nn.efficient.tiled_attention`, the
FlashAttention algorithm) visits :math:`128 \\times 128` tiles with an online
softmax and never holds more than one tile. We plot the extra peak memory and
the time of one attention call (one head, :math:`d = 64`, fp32) measured by
``benchmarks/attention_memory.py``, each configuration in its own process,
next to the memory model of :func:`fmref.nn.efficient.attention_memory_bytes`.
"""

# %%
# Tiled attention is exact
# ------------------------
# First the claim that matters most: the tiles change how the work is
# scheduled, not the result.
import json

import matplotlib.pyplot as plt
import torch

from fmref.nn.attention import scaled_dot_product_attention
from fmref.nn.efficient import attention_memory_bytes, tiled_attention

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

q, k, v = torch.randn(3, 1, 1000, 64).unbind(0)  # (B, N, d), N not a multiple of 128
for causal in (False, True):
    diff = (
        (
            tiled_attention(q, k, v, tile_size=128, is_causal=causal)
            - scaled_dot_product_attention(q, k, v, is_causal=causal)
        )
        .abs()
        .max()
    )
    print(f"is_causal={causal}: max |tiled - naive| = {diff:.1e}")

# %%
# The measured numbers
# --------------------
# The benchmark saved its results with the machine's details in the package
# (:func:`fmref.results.load`; rerun it with ``python -m benchmarks attention_memory``).
from fmref.results import load

bench = load("attention_memory")
print(json.dumps(bench["machine"], indent=1))
for r in bench["results"]:
    print(
        f"N={r['n']:5d}: naive +{r['naive_peak_mib']:7.1f} MiB, "
        f"tiled +{r['tiled_peak_mib']:5.2f} MiB"
        f" ({r['memory_ratio']}x less), time tiled/naive = {r['time_ratio_tiled_over_naive']}"
    )

# %%
# Plot
# ----
# On log-log axes a quadratic is a line of slope 2. The naive curve follows
# the model's :math:`2 N^2` floats; the tiled one stays near the :math:`N(d+2)`
# floats of its running statistics plus two tiles.
ns = [1024, 2048, 4096, 8192]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
ax = axes[0]
ax.loglog(
    ns, [attention_memory_bytes(n) / 2**20 for n in ns], "k--", label="model: naive, 2 N^2 floats"
)
ax.loglog(
    ns,
    [attention_memory_bytes(n, tile_size=128) / 2**20 for n in ns],
    "k:",
    label="model: tiled, 2 tiles + N (d + 2)",
)
res = bench["results"]
n_meas = [r["n"] for r in res]
ax.loglog(n_meas, [r["naive_peak_mib"] for r in res], "o-", label="measured: naive (fmref)")
ax.loglog(
    n_meas, [max(r["tiled_peak_mib"], 0.01) for r in res], "s-", label="measured: tiled (fmref)"
)
ax.loglog(
    n_meas, [r["torch_sdpa_peak_mib"] for r in res], "^-", label="measured: torch SDPA (CPU)"
)
axes[1].loglog(n_meas, [r["naive_s"] for r in res], "o-", label="naive (fmref)")
axes[1].loglog(n_meas, [r["tiled_s"] for r in res], "s-", label="tiled (fmref, Python loop)")
axes[1].loglog(n_meas, [r["torch_sdpa_s"] for r in res], "^-", label="torch SDPA (CPU)")
ax.set_xlabel("sequence length N")
ax.set_ylabel("extra peak memory (MiB)")
ax.set_title("Memory: quadratic vs linear in N")
ax.legend(fontsize=8)
axes[1].set_xlabel("sequence length N")
axes[1].set_ylabel("time of one call (s)")
axes[1].set_title("Time: both quadratic; constants differ")
axes[1].legend(fontsize=8)
fig.suptitle("Tiled attention needs memory linear in N and returns the same output")
plt.show()
