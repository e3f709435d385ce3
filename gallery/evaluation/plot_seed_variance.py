"""
Seed-to-seed variance of a tiny GPT
===================================

The same tiny GPT (two layers, 32-dimensional, bytes as tokens) is trained
five times on the Python documentation corpus; the runs differ only in their
random seed, which sets the initial weights and the order of the batches.
The left panel shows the validation loss of each run during training; the
right panel shows where the five final losses land. Any claimed improvement
smaller than this spread is indistinguishable from re-running with another
seed. The runs come from :func:`fmref.eval.seeds.seed_runs`, which trains each
one once and caches it with :func:`fmref.zoo.cached`.
"""

# %%
# Five seeds, trained once and cached.
import matplotlib.pyplot as plt
import torch

from fmref.eval.seeds import seed_runs, spread

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
runs = seed_runs(seeds=(0, 1, 2, 3, 4))
final = [h["val_loss"][-1] for h in runs.values()]
s = spread(final)
print(
    f"final validation loss: mean {s['mean']:.3f}, std {s['std']:.3f}, "
    f"range {s['range']:.3f} nats per byte"
)

# %%
# Curves and final values.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [2, 1]})
for seed, h in runs.items():
    ax0.plot(h["val_step"], h["val_loss"], "o-", ms=3, label=f"seed {seed}")
ax0.set(
    xlabel="training step",
    ylabel="validation loss (nats per byte)",
    title="Same model, same data, five seeds",
)
ax0.legend()
ax1.plot([0] * len(final), final, "o", ms=8, alpha=0.7)
ax1.errorbar([0.3], [s["mean"]], yerr=[s["std"]], fmt="ks", capsize=6, label="mean ± std")
ax1.set(
    xlim=(-0.5, 0.8), xticks=[], ylabel="final validation loss", title=f"Spread: std {s['std']:.3f}"
)
ax1.legend(loc="upper right")
fig.tight_layout()
plt.show()
