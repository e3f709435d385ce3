"""
Static vs continuous batching on one request trace
==================================================

:func:`~fmref.infer.batching.simulate_batching` replays the same twelve
requests through a server that batches *statically* (a batch runs until its
longest request ends) and one that batches *continuously* (the batch is
re-formed at every step, with a paged KV cache). Each bar is a request: grey
while it waits, light while its prompt is prefilled, dark while it decodes.
"""

# %%
# One trace, two policies
# -----------------------
import matplotlib.pyplot as plt
import torch

from fmref.infer.batching import poisson_trace, simulate_batching

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
trace = poisson_trace(
    12,
    rate=8.0,
    prompt_len=(16, 128),
    output_len=(8, 96),
    generator=torch.Generator().manual_seed(3),
)
reports = [simulate_batching(trace, policy, max_batch=4) for policy in ("static", "continuous")]
for r in reports:
    print(
        f"{r.policy:>10}: TTFT {r.ttft:.2f} s, TPOT {1e3 * r.tpot:.1f} ms, "
        f"throughput {r.throughput:.0f} tok/s, KV memory used {r.memory_utilization:.0%}"
    )

# %%
# Timelines
# ---------
fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
for ax, r in zip(axes, reports):
    for i, arrival, start, first, finish in r.timeline:
        ax.barh(i, start - arrival, left=arrival, color="0.85")
        ax.barh(i, first - start, left=start, color="C1")
        ax.barh(i, finish - first, left=first, color="C0")
    ax.set_ylabel("request")
    ax.set_title(
        f"{r.policy}: mean time to first token {r.ttft:.2f} s, {r.throughput:.0f} tokens/s"
    )
    ax.invert_yaxis()
axes[-1].set_xlabel("time (s)")
fig.suptitle("Continuous batching starts requests sooner and finishes the trace earlier")
fig.tight_layout()
plt.show()
