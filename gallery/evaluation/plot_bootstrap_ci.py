"""
Bootstrap confidence intervals of two systems
=============================================

Two systems answer the same 400 benchmark items, and system A scores a couple
of points higher than system B. Do they really differ? The left panel shows the bootstrap
distributions of each accuracy (:func:`fmref.eval.bootstrap.bootstrap_ci`):
their 95% intervals overlap. The middle panel shows the paired bootstrap of
the *difference* (:func:`fmref.eval.bootstrap.paired_bootstrap`): because
both systems find the same items hard, the item-by-item difference varies far
less than either score, and its interval excludes zero. The right panel shows
how many items a benchmark needs to detect a given gap with 80% power
(:func:`fmref.eval.bootstrap.required_items`).
"""

# %%
# Simulated per-item outcomes: a shared item difficulty makes the systems' errors correlated.
import matplotlib.pyplot as plt
import numpy as np
import torch

from fmref.eval.bootstrap import bootstrap_ci, mcnemar, paired_bootstrap, required_items

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
rng = np.random.default_rng(0)
difficulty = rng.uniform(0, 1, 400)
a = (difficulty < 0.66) | (rng.uniform(0, 1, 400) < 0.02)
b = (difficulty < 0.62) | (rng.uniform(0, 1, 400) < 0.02)
ra, rb = bootstrap_ci(a, seed=0), bootstrap_ci(b, seed=1)
rd = paired_bootstrap(a, b, seed=2)
only_a, only_b, p = mcnemar(a, b)
print(
    f"A {ra.estimate:.3f} [{ra.low:.3f}, {ra.high:.3f}]  B {rb.estimate:.3f} "
    f"[{rb.low:.3f}, {rb.high:.3f}]"
)
print(
    f"A - B {rd.difference:.3f} [{rd.low:.3f}, {rd.high:.3f}], bootstrap p = {rd.p_value:.4f}; "
    f"McNemar: {only_a} vs {only_b} items, p = {p:.2g}"
)

# %%
# The resampled distributions (recomputed here to draw them) and the sample sizes.
idx = rng.integers(0, 400, size=(2000, 400))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
axes[0].hist(a[idx].mean(1), bins=40, alpha=0.6, label="A")
axes[0].hist(b[idx].mean(1), bins=40, alpha=0.6, label="B")
for r, c in ((ra, "C0"), (rb, "C1")):
    axes[0].axvspan(r.low, r.high, color=c, alpha=0.12)
axes[0].set(xlabel="accuracy", ylabel="resamples", title="Separate intervals overlap")
axes[0].legend()
axes[1].hist((a.astype(float) - b)[idx].mean(1), bins=40, color="C2", alpha=0.7)
axes[1].axvline(0, color="k", lw=1)
axes[1].axvspan(rd.low, rd.high, color="C2", alpha=0.15)
axes[1].set(xlabel="accuracy of A minus B", title="The paired difference excludes 0")
gaps = np.linspace(0.01, 0.1, 19)
axes[2].loglog(gaps * 100, [required_items(0.7, 0.7 + g) for g in gaps], "o-", ms=3)
axes[2].set(
    xlabel="gap to detect (accuracy points, from 70%)",
    ylabel="items needed",
    title="Halving the gap quadruples the items",
)
fig.tight_layout()
plt.show()
