"""
Chinchilla's isoFLOP curves and two compute-optimal allocations
===============================================================

Hoffmann et al. (2022) model the final loss of a language model with ``N``
parameters trained on ``D`` tokens as ``L(N, D) = E + A / N^α + B / D^β``.
At a fixed compute budget ``C = 6 N D`` every model size has one token count,
so each budget draws a U-shaped *isoFLOP curve* of loss against model size;
its minimum is the compute-optimal model. This page draws those curves with
the published constants, marks the closed-form optimum of
:func:`fmref.scaling.laws.compute_optimal`, and sets the Chinchilla
allocation beside Kaplan et al.'s (:func:`fmref.scaling.laws.kaplan_compute_optimal`)
and the 20-tokens-per-parameter rule.
"""

# %%
# IsoFLOP curves
# --------------
# Four budgets from 1e18 to 1e24 FLOPs; for each, sweep the model size and
# give the rest of the budget to tokens.
import matplotlib.pyplot as plt
import numpy as np
import torch

from fmref.scaling.laws import (
    chinchilla_loss,
    compute_optimal,
    kaplan_compute_optimal,
    tokens_per_parameter_allocation,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

budgets = [1e18, 1e20, 1e22, 1e24]
for C in budgets:
    n_opt, d_opt = compute_optimal(C)
    print(
        f"C = {C:.0e}: N_opt = {n_opt:.3g}, D_opt = {d_opt:.3g}, "
        f"{d_opt / n_opt:.0f} tokens per parameter"
    )

# %%
# Three allocations
# -----------------
# The closed form with the rounded published constants, the 20-tokens rule,
# and Kaplan et al.'s ``N ∝ C^0.73``. Chinchilla's Table 3 (Approach 1) is
# drawn as points: the rule of thumb follows it, the rounded Approach 3
# constants drift towards smaller models at large budgets. Left, the isoFLOP
# curves with their minima; right, the three allocations.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
for C in budgets:
    n_opt, d_opt = compute_optimal(C)
    N = np.logspace(np.log10(n_opt) - 1.5, np.log10(n_opt) + 1.5, 200)
    L = [chinchilla_loss(n, C / (6 * n)) for n in N]
    (line,) = ax1.plot(N, L, label=f"C = {C:.0e} FLOPs")
    ax1.plot(n_opt, chinchilla_loss(n_opt, d_opt), "o", color=line.get_color())
ax1.set_xscale("log")
ax1.set_xlabel("parameters N")
ax1.set_ylabel("predicted loss L(N, C / 6N) [nats/token]")
ax1.set_title("Each budget has one best model size")
ax1.legend(fontsize=8)

C = np.logspace(18, 26, 50)
ax2.plot(C, [compute_optimal(c)[0] for c in C], label="Chinchilla Approach 3 (closed form)")
ax2.plot(
    C, [tokens_per_parameter_allocation(c)[0] for c in C], "--", label="20 tokens per parameter"
)
ax2.plot(C, [kaplan_compute_optimal(c)[0] for c in C], ":", label="Kaplan et al. (N ∝ C^0.73)")
table3 = [
    (400e6, 1.92e19),
    (1e9, 1.21e20),
    (10e9, 1.23e22),
    (67e9, 5.76e23),
    (175e9, 3.85e24),
    (280e9, 9.90e24),
    (520e9, 3.43e25),
    (1e12, 1.27e26),
]
ax2.plot([c for _, c in table3], [n for n, _ in table3], "k.", label="Hoffmann et al., Table 3")
ax2.set_xscale("log")
ax2.set_yscale("log")
ax2.set_xlabel("training compute C [FLOPs]")
ax2.set_ylabel("compute-optimal parameters N")
ax2.set_title("Kaplan grows the model far faster than Chinchilla")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
