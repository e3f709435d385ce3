"""
A scaling study on a laptop: tiny GPTs on the Python docs
=========================================================

A real, if very small, scaling study. We train a ladder of byte-level GPTs
(2 layers, widths 8 to 64, 4k to 121k parameters) on the Python
documentation corpus (:func:`fmref.text.corpus.python_docs`) at four compute
budgets, ``C = 6 N D`` from 1e9 to 3e10 FLOPs, so that every budget is spent
by several model sizes: an isoFLOP design, as in Chinchilla's Approach 2. Each
run trains with :func:`fmref.train.loop.train` (AdamW, warm-up and a cosine
schedule that ends exactly at the budget) and reports its validation loss.
We keep the best run of each budget and fit the three-parameter frontier
``L(C) = E + a C^(-α)`` with :func:`fmref.scaling.fit.fit_power_law`.

Runs are trained once by :func:`fmref.scaling.fit.mini_scaling_run` and cached
(recipe ``mini-scaling-study`` of :mod:`fmref.zoo`), so a rebuild of the manual
only reads them back.

**What a study this small can and cannot show.** It shows the method: isoFLOP
curves with a minimum, a frontier that falls with compute, a fitted exponent.
It cannot pin the constants: four budgets spanning 1.5 orders of magnitude and
one seed per run leave the three frontier constants weakly determined (the
exponent moves if one run moves), bytes are not BPE tokens, and models this
small sit far from the regime of the published laws. Read the numbers as a
demonstration, not as a law of byte-level models.
"""

# %%
# The runs
# --------
# Every (width, budget) pair whose step count falls between 30 and 460 steps
# of 16 sequences of 64 bytes.
import time

import matplotlib.pyplot as plt
import torch

import fmref.zoo
from fmref.models.gpt import GPTConfig
from fmref.scaling.fit import fit_power_law
from fmref.scaling.params import count_parameters

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
t0 = time.perf_counter()

BATCH, BLOCK = 16, 64
widths = [8, 16, 32, 48, 64]
budgets = [1e9, 3e9, 1e10, 3e10]


def config(width):
    return GPTConfig(vocab_size=256, block_size=BLOCK, n_layer=2, n_head=2, n_embd=width)


plan = []
for C in budgets:
    for width in widths:
        n = count_parameters(config(width))
        steps = round(C / (6 * n * BATCH * BLOCK))
        if 30 <= steps <= 460:
            plan.append((C, width, n, steps))
print(f"{len(plan)} runs, {sum(p[3] for p in plan)} steps in all")

recipe = fmref.zoo.get("mini-scaling-study")  # fmref.scaling.fit.mini_scaling_run
results = []
for C, width, n, steps in plan:
    r = recipe.load(width=width, steps=steps, batch=BATCH, block=BLOCK)
    results.append((C, width, n, steps, r["val_loss"]))
    print(
        f"C = {C:.0e}  width {width:3d}  N = {n:7,d}  {steps:4d} steps  "
        f"val loss {r['val_loss']:.3f} nats/byte"
    )

# %%
# The frontier
# ------------
# The best run of each budget, and the fitted ``E + a C^(-α)``.
best = {}
for C, _width, n, _steps, loss in results:
    if C not in best or loss < best[C][1]:
        best[C] = (n, loss)
Cs = sorted(best)
fit = fit_power_law(Cs, [best[c][1] for c in Cs])
print(f"frontier: L(C) = {fit.E:.3f} + {fit.a:.3g} C^-{fit.alpha:.3f}")
for c in Cs:
    print(
        f"  C = {c:.0e}: best N = {best[c][0]:,d}, loss {best[c][1]:.3f}, fit {fit.predict(c):.3f}"
    )

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
for C in budgets:
    pts = sorted((n, loss) for c, _, n, _, loss in results if c == C)
    if pts:
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"C = {C:.0e} FLOPs")
ax1.set_xscale("log")
ax1.set_xlabel("parameters N")
ax1.set_ylabel("validation loss [nats/byte]")
ax1.set_title("IsoFLOP curves of tiny byte-level GPTs")
ax1.legend(fontsize=8)

ax2.plot([r[0] for r in results], [r[4] for r in results], ".", color="0.6", label="all runs")
ax2.plot(Cs, [best[c][1] for c in Cs], "o", label="best run per budget")
grid = torch.logspace(8.8, 10.7, 50, dtype=torch.float64)
ax2.plot(grid, fit.predict(grid), "-", label=f"fit: {fit.E:.2f} + {fit.a:.3g}·C^-{fit.alpha:.2f}")
ax2.set_xscale("log")
ax2.set_xlabel("training compute C = 6ND [FLOPs]")
ax2.set_ylabel("validation loss [nats/byte]")
ax2.set_title(f"Loss falls as a power of compute (α = {fit.alpha:.2f})")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
print(f"total time {time.perf_counter() - t0:.1f} s")
