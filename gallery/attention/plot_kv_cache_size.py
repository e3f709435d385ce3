"""
KV-cache memory: multi-head, grouped-query and multi-query attention
====================================================================

A decoder that generates token by token keeps the keys and values of every
past token, for every layer, in a KV cache. Its size is
``2 · n_layers · n_kv_heads · d_head · bytes`` per token, so the number of
key/value heads sets it directly. We compute it for a Llama-2-70B-shaped model
(80 layers, 64 query heads of size 128) with 64 (multi-head), 8 (grouped-query,
the published choice) and 1 (multi-query) key/value heads, and check the
formula against a real :class:`~fmref.nn.attention.KVCache` filled by a small
:class:`~fmref.nn.attention.MultiHeadAttention`.
"""

# %%
# The formula, checked on a real cache
# ------------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.nn.attention import KVCache, MultiHeadAttention

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)


def kv_cache_bytes(n_layers, n_kv_heads, d_head, tokens, bytes_per_value=2, batch=1):
    return 2 * n_layers * n_kv_heads * d_head * bytes_per_value * tokens * batch


for n_kv in (4, 2, 1):
    layers = [MultiHeadAttention(32, 4, n_kv_heads=n_kv) for _ in range(2)]
    cache = KVCache(len(layers))
    x = torch.randn(3, 10, 32)  # (B, T, C)
    with torch.no_grad():
        for i, layer in enumerate(layers):
            x = layer(x, is_causal=True, kv_cache=cache, layer_idx=i)
    measured = sum(t.numel() * t.element_size() for t in cache.keys + cache.values)
    expected = kv_cache_bytes(2, n_kv, 8, tokens=10, bytes_per_value=4, batch=3)
    print(f"n_kv_heads={n_kv}: cache holds {measured} bytes, formula {expected}")

# %%
# A 70B-parameter model at growing context lengths
# ------------------------------------------------
context = torch.arange(0, 32769, 1024)
fig, ax = plt.subplots(figsize=(7, 4.2))
for n_kv, name in (
    (64, "MHA, 64 kv heads"),
    (8, "GQA, 8 kv heads (Llama 2 70B)"),
    (1, "MQA, 1 kv head"),
):
    gib = [kv_cache_bytes(80, n_kv, 128, int(t)) / 2**30 for t in context]
    ax.plot(context, gib, label=f"{name}: {gib[4]:.2f} GiB at 4096 tokens")
ax.axhline(80, color="grey", linestyle=":", label="80 GiB: one accelerator's memory")
ax.set_xlabel("tokens in the cache (one sequence)")
ax.set_ylabel("KV cache (GiB, 16-bit values)")
ax.set_title("Sharing key/value heads shrinks the cache by n_heads / n_kv_heads", fontsize=11)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
