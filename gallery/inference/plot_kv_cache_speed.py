"""
KV cache vs recomputation: the cost of one decoding step
========================================================

Without a cache, producing token :math:`t+1` runs the model over all
:math:`t` positions again; with :class:`~fmref.nn.attention.KVCache` it runs
over one new position and reads the cached keys and values. We time both for a
small GPT at growing sequence lengths (CPU time of this process, so that other
programs sharing the cores do not blur the picture) and check that
:func:`~fmref.infer.generate.generate` gives the same tokens either way.
"""

# %%
# A small GPT and a timer
# -----------------------
import time

import matplotlib.pyplot as plt
import torch

from fmref.infer.generate import generate
from fmref.models.gpt import GPT, GPTConfig

torch.set_num_threads(1)  # one thread: CPU time then measures the work, not the waiting
torch.manual_seed(0)
config = GPTConfig(vocab_size=256, block_size=520, n_layer=2, n_head=4, n_embd=128)
model = GPT(config).eval()


def best_ms(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return 1e3 * min(times)


# %%
# Time one step at each length
# ----------------------------
# The uncached step is a forward pass over the whole sequence; the cached step
# feeds one token to a cache that already holds ``length`` tokens.
lengths = [16, 128, 256, 384, 512]
full_ms, cached_ms = [], []
with torch.no_grad():
    for length in lengths:
        idx = torch.randint(0, config.vocab_size, (1, length))
        full_ms.append(best_ms(lambda idx=idx: model(idx)))
        cache = model.make_kv_cache()
        model(idx[:, :-1], kv_cache=cache)  # prefill length - 1 tokens

        def step(cache=cache, last=idx[:, -1:]):
            model(last, kv_cache=cache)
            cache.crop(cache.length - 1)  # undo, so every repeat sees the same cache

        cached_ms.append(best_ms(step))
for n, f, c in zip(lengths, full_ms, cached_ms):
    print(f"{n:4d} tokens: recompute {f:7.2f} ms, cached {c:5.2f} ms, ratio {f / c:5.1f}x")

# %%
# Same tokens either way
# ----------------------
prompt = torch.randint(0, config.vocab_size, (1, 8))
same = torch.equal(
    generate(model, prompt, 32, temperature=0),
    generate(model, prompt, 32, temperature=0, use_cache=False),
)
print("greedy tokens identical with and without the cache:", same)

# %%
# The figure
# ----------
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.plot(lengths, full_ms, "o-", label="recompute the whole sequence")
ax.plot(lengths, cached_ms, "s-", label="KV cache: one new token")
ax.set_xlabel("tokens already in the sequence")
ax.set_ylabel("CPU time of one decoding step (ms)")
ax.set_title("Without a cache a step grows with the sequence; with it, barely")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
