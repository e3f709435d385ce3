"""
Prefix-cache hit rate against the number of system prompts
==========================================================

Requests that start with the same system prompt share its keys and values. A
:class:`~fmref.infer.prefix.RadixCache` of 4,096 tokens keeps the prompts of
earlier requests and evicts the least recently used; each request prefills only
what it does not find there. The traces below have 256-token system prompts
followed by a user turn of 16 to 128 tokens; as the number of distinct system
prompts grows past what the cache holds, the hit rate falls and the time to
first token rises back towards that of a server without the cache.
"""

# %%
# Hit rate and TTFT per number of system prompts
# ----------------------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.infer.batching import shared_prompt_trace, simulate_batching

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
counts = [1, 2, 4, 8, 16, 32, 64]
hit, ttft_warm, ttft_cold = [], [], []
for n in counts:
    trace = shared_prompt_trace(
        200, rate=4.0, n_system_prompts=n, generator=torch.Generator().manual_seed(0)
    )
    cold = simulate_batching(trace, "chunked", max_batch=16)
    warm = simulate_batching(trace, "chunked", max_batch=16, prefix_cache_tokens=4096)
    hit.append(warm.prefix_hit_rate)
    ttft_warm.append(warm.ttft)
    ttft_cold.append(cold.ttft)
    print(
        f"{n:3d} system prompts: hit rate {warm.prefix_hit_rate:.0%}, "
        f"mean TTFT {1e3 * warm.ttft:.0f} ms with the cache, {1e3 * cold.ttft:.0f} ms without"
    )

# %%
# The figure
# ----------
fig, (ax_hit, ax_ttft) = plt.subplots(1, 2, figsize=(9, 3.6))
ax_hit.plot(counts, hit, "o-")
ax_hit.set_xscale("log", base=2)
ax_hit.set_xlabel("distinct system prompts")
ax_hit.set_ylabel("prompt tokens found in the cache")
ax_hit.set_title("prefix-cache hit rate")
ax_ttft.plot(counts, [1e3 * t for t in ttft_warm], "o-", label="with the prefix cache")
ax_ttft.plot(counts, [1e3 * t for t in ttft_cold], "s--", label="without")
ax_ttft.set_xscale("log", base=2)
ax_ttft.set_xlabel("distinct system prompts")
ax_ttft.set_ylabel("mean TTFT (ms)")
ax_ttft.set_title("time to first token")
ax_ttft.legend()
fig.suptitle("Once the system prompts outgrow the cache, hits and the TTFT saving vanish")
fig.tight_layout()
plt.show()
