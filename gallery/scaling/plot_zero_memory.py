"""
Memory per device under ZeRO stages 0 to 3
==========================================

Mixed-precision Adam keeps 16 bytes per parameter: 2 for the 16-bit weights,
2 for the 16-bit gradients and 12 for the float32 master weights, momentum and
variance. Plain data parallelism replicates all of it on every device; ZeRO
partitions the optimizer states (stage 1), then the gradients (stage 2), then
the weights (stage 3) over the ``N_d`` devices. The stacked bars show
:func:`fmref.train.efficient.zero_memory_per_gpu` split into its three parts
for the ZeRO paper's example, a 7.5B-parameter model on 64 GPUs.
"""

# %%
import matplotlib.pyplot as plt
import torch

from fmref.train.efficient import zero_memory_per_gpu

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

psi, n_gpus = 7.5e9, 64
parts = {  # bytes per device of each kind of state, per stage
    "weights (2 B/param)": [],
    "gradients (2 B/param)": [],
    "optimizer states (12 B/param)": [],
}
for stage in range(4):
    w = 2 * psi / (n_gpus if stage >= 3 else 1)
    g = 2 * psi / (n_gpus if stage >= 2 else 1)
    o = 12 * psi / (n_gpus if stage >= 1 else 1)
    assert abs(w + g + o - zero_memory_per_gpu(psi, n_gpus, stage)) < 1  # the formula
    for key, value in zip(parts, (w, g, o)):
        parts[key].append(value / 1e9)
    print(f"stage {stage}: {zero_memory_per_gpu(psi, n_gpus, stage) / 1e9:6.1f} GB per GPU")

# %%
fig, ax = plt.subplots(figsize=(7, 4))
labels = ["0 (DDP)", "1 (P_os)", "2 (P_os+g)", "3 (P_os+g+p)"]
bottom = [0.0] * 4
for key, values in parts.items():
    ax.bar(labels, values, bottom=bottom, label=key)
    bottom = [b + v for b, v in zip(bottom, values)]
for i, total in enumerate(bottom):
    ax.text(i, total + 1.5, f"{total:.1f} GB", ha="center")
ax.set_ylim(0, 1.12 * max(bottom))
ax.set_xlabel("ZeRO stage")
ax.set_ylabel("model states per GPU [GB]")
ax.set_title("7.5B parameters on 64 GPUs: ZeRO-3 needs 1/64 of DDP's memory")
ax.legend()
fig.tight_layout()
plt.show()
