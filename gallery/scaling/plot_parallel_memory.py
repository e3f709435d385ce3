"""
Model states per rank: DDP, ZeRO-1, ZeRO-2 and FSDP, on two and four processes
==============================================================================

Two processes train the same tiny byte-level Llama with four flavours of data
parallelism (``python -m fmref.train.parallel`` under torchrun, gloo on the
CPU), and each counts the bytes of weights, gradients and AdamW states it
holds after the last step. In float32 a parameter costs 4 bytes of weight, 4
of gradient and 8 of Adam moments: DDP keeps all 16 on every rank; ZeRO-1
(torch's ``ZeroRedundancyOptimizer``) shards the moments; ZeRO-2 (fmref's
:class:`~fmref.train.parallel.data_parallel.ShardedGradAdamW`) also the
gradients, keeping a float32 master shard; FSDP (torch's ``fully_shard``,
ZeRO-3) shards everything. The hatched bars are
:func:`fmref.train.efficient.zero_memory_per_gpu`. Every run ends with the
weights of single-process training (largest difference printed below).

The runs come from the zoo recipe ``parallel-runs`` (one launch of every
strategy, cached); the first build launches it, in about ten seconds. The
four-process runs come from the saved benchmark (``benchmarks/parallelism.py``),
which a build does not rerun.
"""

# %%
import matplotlib.pyplot as plt
import torch

from fmref.zoo import get

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

runs = get("parallel-runs").load()
names = {"ddp": "DDP", "zero1": "ZeRO-1", "zero2": "ZeRO-2", "fsdp": "FSDP"}
for key, label in names.items():
    run = runs[key]
    kib = [b / 1024 for b in run["state_bytes"]]
    print(f"{label:14s} rank 0: {kib[0]:6.1f} KiB, rank 1: {kib[1]:6.1f} KiB, "
          f"formula {run['predicted_state_bytes'] / 1024:6.1f} KiB, "
          f"max |weights - one process| {run['max_abs_diff']:.1e}")

# %%
# Each bar splits the rank's bytes into weights, gradients and optimizer
# states; ZeRO-1 shards whole tensors, so its two ranks hold unequal halves.
fig, ax = plt.subplots(figsize=(8, 4.2))
kinds = [("params", "weights"), ("grads", "gradients"), ("optimizer", "optimizer states")]
colors = ["tab:blue", "tab:orange", "tab:green"]
xs, labels = [], []
for i, key in enumerate(names):
    run = runs[key]
    for rank in range(2):
        x = 3 * i + rank
        by_kind = run["state_bytes_by_kind"][rank]
        bottom = 0.0
        for (kind, kind_label), color in zip(kinds, colors):
            value = by_kind[kind] / 1024
            ax.bar(x, value, bottom=bottom, color=color, label=kind_label if x == 0 else None)
            bottom += value
        xs.append(x)
        labels.append(f"{names[key]}\nrank {rank}")
    ax.bar(3 * i + 0.5, run["predicted_state_bytes"] / 1024, width=1.9, fill=False,
           hatch="//", edgecolor="black", label="formula" if i == 0 else None)
ax.set_xticks(xs, labels, fontsize=7)
ax.set_ylabel("weights + gradients + Adam states [KiB]")
ax.set_title("Two ranks: ZeRO-1/2 shard the optimizer and gradients, FSDP halves everything")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# On more ranks the shards shrink as the formula says. The four-process runs
# of the benchmark train a larger model (4 layers, 4 key/value heads), so the
# comparison is as a fraction of what DDP keeps on each rank: ZeRO-1 keeps
# 8/16 + 8/(16 N) of it, ZeRO-2 (with its master shard) 4/16 + (4 + 12)/(16 N),
# FSDP 1/N.
from fmref.results import load
from fmref.train.efficient import zero_memory_per_gpu

four = load("parallelism")["four_processes"]
stages = {"ddp": 0, "zero1": 1, "zero2": 2, "fsdp": 3}
fig, ax = plt.subplots(figsize=(8, 3.6))
for j, (n_ranks, states) in enumerate(
    [(2, {k: runs[k]["state_bytes"][0] for k in names}),
     (4, {k: four[k]["state_bytes_rank0"] for k in names})]
):  # fmt: skip
    for i, key in enumerate(names):
        share = states[key] / states["ddp"]
        k = 12 if key == "zero2" else 8  # fmref's ZeRO-2: Adam's moments + a master shard
        formula = zero_memory_per_gpu(1.0, n_ranks, stages[key], k=k, bytes_param=4,
                                      bytes_grad=4) / 16  # fmt: skip
        print(f"{n_ranks} processes, {names[key]:6s}: rank 0 keeps {share:.3f} of DDP's "
              f"bytes (formula {formula:.3f})")
        x = 3 * i + j
        ax.bar(x, share, color="tab:blue" if n_ranks == 2 else "tab:purple",
               label=f"measured, {n_ranks} processes" if i == 0 else None)
        ax.plot([x - 0.4, x + 0.4], [formula] * 2, "k-", label="formula" if x == 0 else None)
ax.set_xticks([3 * i + 0.5 for i in range(4)], list(names.values()))
ax.set_ylabel("rank 0's bytes / DDP's")
ax.set_title("Sharding divides by the number of ranks: two against four processes")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
