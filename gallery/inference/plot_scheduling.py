"""
Static, continuous, chunked-prefill and disaggregated scheduling on one trace
=============================================================================

:func:`~fmref.infer.batching.simulate_batching` replays the same 300 requests,
with prompts of up to 2,048 tokens, under four schedulers. A step costs the
larger of a memory part (reading the weights, 20 ms) and a compute part (0.2 ms
per token in the step): the roofline of :mod:`fmref.infer.roofline`, so decodes
ride for free on a step that is compute-bound anyway. Static and continuous
batching prefill each prompt whole; chunked prefill caps every step at 256
tokens, decodes first; disaggregated serving prefills on one instance and
decodes on another, paying 20 µs per prompt token to move the KV cache. The
bars show the median and 99th percentile of the time to first token (TTFT)
and of the time per output token (TPOT).
"""

# %%
# One trace, four schedulers
# --------------------------
import matplotlib.pyplot as plt
import torch

from fmref.infer.batching import POLICIES, StepCost, poisson_trace, simulate_batching

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
trace = poisson_trace(
    300,
    rate=2.0,
    prompt_len=(32, 2048),
    output_len=(16, 256),
    generator=torch.Generator().manual_seed(0),
)
cost = StepCost(base=0.02, per_token=0.0002, roofline=True)
reports = [
    simulate_batching(trace, policy, max_batch=16, cost=cost, token_budget=256)
    for policy in POLICIES
]
print(
    f"{'policy':>13} {'TTFT p50':>9} {'TTFT p99':>9} {'TPOT p50':>9} {'TPOT p99':>9} {'tok/s':>6}"
)
for r in reports:
    print(
        f"{r.policy:>13} {r.ttft_p50:8.2f}s {r.ttft_p99:8.2f}s {1e3 * r.tpot_p50:7.1f}ms "
        f"{1e3 * r.tpot_p99:7.1f}ms {r.throughput:6.0f}"
    )

# %%
# Latency percentiles
# -------------------
fig, (ax_ttft, ax_tpot) = plt.subplots(1, 2, figsize=(9, 3.8))
x = torch.arange(len(reports)).tolist()
width = 0.38
for ax, (p50, p99), unit, scale in (
    (ax_ttft, ("ttft_p50", "ttft_p99"), "s", 1.0),
    (ax_tpot, ("tpot_p50", "tpot_p99"), "ms", 1e3),
):
    ax.bar([i - width / 2 for i in x], [scale * getattr(r, p50) for r in reports], width,
           label="median")  # fmt: skip
    ax.bar([i + width / 2 for i in x], [scale * getattr(r, p99) for r in reports], width,
           label="99th percentile")  # fmt: skip
    ax.set_xticks(x, [r.policy for r in reports], rotation=20)
    ax.set_ylabel(f"{p50[:4].upper()} ({unit})")
ax_ttft.set_title("time to first token")
ax_tpot.set_title("time per output token")
ax_tpot.legend()
fig.suptitle("Chunked prefill and disaggregation cut the TPOT tail that long prefills cause")
fig.tight_layout()
plt.show()
