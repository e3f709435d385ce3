"""
A pipeline's schedule, recorded: GPipe and 1F1B on two processes
================================================================

Two processes each hold one stage (half the layers) of a tiny Llama, and
``torch.distributed.pipelining`` runs each global batch as 4 micro-batches
under two schedules: GPipe (all forward passes, then all backward passes)
and 1F1B (one forward, one backward, once the pipeline is full). fmref wraps
each stage's forward and backward calls with a clock
(:func:`fmref.train.parallel.pipeline.record_schedule`); the bars below are
what each stage computed, and when, in the last training step. The white
gaps are the bubble: ``(p - 1)/(m + p - 1) = 1/5`` of the step if every pass
took the same time and messages were free
(:func:`fmref.train.parallel.formulas.pipeline_bubble`). On a CPU the
backward pass takes about twice the forward and each message costs a
socket round trip, so the measured idle fraction differs: it is printed.

The runs come from the zoo recipe ``parallel-runs`` (cached).
"""

# %%
import matplotlib.pyplot as plt
import torch

from fmref.zoo import get

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

runs = get("parallel-runs").load()
for schedule in ("gpipe", "1f1b"):
    run = runs[f"pp-{schedule}"]
    idle = ", ".join(f"{x:.2f}" for x in run["idle_fraction"])
    order = [" ".join(f"{k}{mb}" for k, mb, _, _ in events) for events in run["timeline"]]
    formula = run["predicted_idle_fraction"]
    print(f"{schedule:5s} idle fraction per stage {idle} (formula {formula:.2f}); order: {order}")

# %%
fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
for ax, schedule in zip(axes, ("gpipe", "1f1b")):
    run = runs[f"pp-{schedule}"]
    for stage, events in enumerate(run["timeline"]):
        for kind, mb, t0, t1 in events:
            color = "tab:blue" if kind == "F" else "tab:red"
            ax.barh(stage, (t1 - t0) * 1e3, left=t0 * 1e3, color=color, edgecolor="white")
            ax.text((t0 + t1) / 2 * 1e3, stage, f"{kind}{mb}", ha="center", va="center",
                    color="white", fontsize=7)
    ax.set_yticks([0, 1], ["stage 0", "stage 1"])
    ax.invert_yaxis()
    idle = sum(run["idle_fraction"]) / 2
    ax.set_title(f"{schedule.upper()}: measured idle {idle:.2f} of the step, formula "
                 f"{run['predicted_idle_fraction']:.2f}", fontsize=9)
axes[-1].set_xlabel("time since the step started [ms] (blue: forward, red: backward)")
fig.suptitle("Which stage computes which micro-batch when (4 micro-batches, 2 stages)")
fig.tight_layout()
plt.show()
