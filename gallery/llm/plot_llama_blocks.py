"""
RMSNorm, SwiGLU and grouped-query attention
===========================================

LLaMA changes three parts of the GPT-2 block. RMSNorm rescales each token
without re-centring it; SwiGLU replaces the GELU MLP with a gated one; and
grouped-query attention (GQA) lets several query heads share one key/value head.
We look at each with :mod:`fmref`: what RMSNorm keeps that LayerNorm removes,
what the SwiGLU gate computes, and how much KV-cache memory GQA saves in
Mistral-7B and LLaMA-2-70B.
"""

# %%
# RMSNorm does not re-centre
# --------------------------
# LayerNorm subtracts each token's mean and divides by its standard deviation;
# RMSNorm only divides by the root mean square. For a token whose features share
# a common offset, LayerNorm removes the offset and RMSNorm keeps it (scaled).
# Both fix the *size* of the vector: RMSNorm's output always has RMS 1 before
# the learned gain.
import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

from fmref.nn.norm import LayerNorm, RMSNorm

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

d = 64
offsets = torch.linspace(-3, 3, 200)
x = torch.randn(200, d) + offsets[:, None]  # (tokens, d): token i shifted by offsets[i]
with torch.no_grad():
    ln, rms = LayerNorm(d)(x), RMSNorm(d)(x)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
axes[0].scatter(x.mean(1), ln.mean(1), s=8, label="LayerNorm")
axes[0].scatter(x.mean(1), rms.mean(1), s=8, label="RMSNorm")
axes[0].set_xlabel("mean feature of the input token")
axes[0].set_ylabel("mean feature of the output")
axes[0].set_title("LayerNorm removes the mean, RMSNorm keeps it", fontsize=10)
axes[0].legend(fontsize=8)
axes[1].scatter(x.norm(dim=1) / d**0.5, rms.norm(dim=1) / d**0.5, s=8, color="C1")
axes[1].set_xlabel("RMS of the input token")
axes[1].set_ylabel("RMS of the RMSNorm output")
axes[1].set_ylim(0, 2)
axes[1].set_title("Every output has RMS 1", fontsize=10)
fig.tight_layout()
plt.show()

# %%
# The SwiGLU gate
# ---------------
# A GPT-2 MLP computes ``W2 gelu(W1 x)``: one projection decides both *whether*
# a hidden unit fires and *how much*. SwiGLU computes
# ``W2 (silu(W1 x) * W3 x)``: the gate ``silu(W1 x)`` and the value ``W3 x`` come
# from different projections, so a unit can pass a negative value, or block a
# large one. The left panel shows the activations, the right the gated product
# of a single hidden unit as a function of its gate and value inputs.
z = torch.linspace(-4, 4, 401)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
axes[0].plot(z, F.relu(z), label="ReLU (original Transformer)")
axes[0].plot(z, F.gelu(z), label="GELU (GPT-2, BERT)")
axes[0].plot(z, F.silu(z), "--", label="SiLU = Swish (SwiGLU's gate)")
axes[0].set_xlabel("pre-activation")
axes[0].set_ylabel("activation")
axes[0].set_title("GELU and SiLU are smooth ReLUs", fontsize=10)
axes[0].legend(fontsize=7)
gate, value = torch.meshgrid(z, z, indexing="ij")
im = axes[1].imshow(
    F.silu(gate) * value, origin="lower", extent=(-4, 4, -4, 4), cmap="RdBu_r", vmin=-12, vmax=12
)
axes[1].set_xlabel("value input  (W3 x)")
axes[1].set_ylabel("gate input  (W1 x)")
axes[1].set_title("silu(gate) * value: a negative gate closes the unit", fontsize=10)
fig.colorbar(im, ax=axes[1])
fig.tight_layout()
plt.show()

# %%
# Grouped-query attention and the KV cache
# ----------------------------------------
# A cache stores a key and a value vector per layer, per key/value head and per
# token: ``2 * n_layers * n_kv_heads * head_dim`` numbers per token. We check the
# formula on a small :class:`~fmref.models.llama.Llama` by filling its cache,
# then apply it to the published configurations, with multi-head attention
# (one key/value head per query head) for comparison.
from fmref.models.llama import Llama, LlamaConfig, llama2_70b, llama_7b, mistral_7b


def kv_bytes_per_token(cfg, n_kv_heads=None, bytes_per_number=2):
    n_kv = cfg.n_kv_heads if n_kv_heads is None else n_kv_heads
    return 2 * cfg.n_layers * n_kv * cfg.head_dim * bytes_per_number


small = LlamaConfig(
    vocab_size=100, dim=64, n_layers=3, n_heads=8, n_kv_heads=2, hidden_dim=172, max_seq_len=64
)
model = Llama(small).eval()
cache = model.make_kv_cache()
with torch.no_grad():
    model(torch.randint(0, 100, (1, 40)), kv_cache=cache)
measured = sum(k.numel() + v.numel() for k, v in zip(cache.keys, cache.values))
print(f"cached numbers: {measured}, formula: {40 * kv_bytes_per_token(small, bytes_per_number=1)}")

configs = {"LLaMA-7B": llama_7b(), "Mistral-7B": mistral_7b(), "LLaMA-2-70B": llama2_70b()}
context = 4096
fig, ax = plt.subplots(figsize=(7, 3.8))
names = list(configs)
mha = [context * kv_bytes_per_token(c, n_kv_heads=c.n_heads) / 2**30 for c in configs.values()]
gqa = [context * kv_bytes_per_token(c) / 2**30 for c in configs.values()]
xs = torch.arange(len(names)).float()
ax.bar(xs - 0.2, mha, width=0.4, label="one KV head per query head (MHA)")
ax.bar(xs + 0.2, gqa, width=0.4, label="as published (LLaMA-7B: 32 KV heads, the others: 8)")
for i, (a, b) in enumerate(zip(mha, gqa)):
    ax.text(i + 0.2, b, f"{b:.2f}", ha="center", va="bottom", fontsize=8)
    ax.text(i - 0.2, a, f"{a:.2f}", ha="center", va="bottom", fontsize=8)
ax.set_xticks(xs, names)
ax.set_ylabel(f"KV cache for {context} tokens (GiB, bf16)")
ratio = mha[-1] / gqa[-1]
ax.set_title(f"GQA shrinks LLaMA-2-70B's cache {ratio:.0f}x", fontsize=11)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
