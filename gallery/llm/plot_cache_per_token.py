"""
What a model keeps per sequence: KV caches of MHA, GQA, MQA, MLA and a Mamba state
==================================================================================

While it generates, an attention model keeps the keys and values of every past
token, so its cache grows linearly with the context; how fast depends on what
it stores per token and layer. Multi-head attention (LLaMA-7B) keeps a key and
a value per head, grouped-query attention (Llama 3 8B) one per group of heads,
multi-query attention one for all heads, and multi-head latent attention
(DeepSeek-V3) one compressed latent and one shared RoPE key. A state-space
model (Mamba-2.8B) keeps a state of fixed size instead. Every figure is
computed from the published configurations by
:func:`fmref.infer.kv.model_kv_cache_bytes`, in 16-bit numbers, for one sequence.
"""

# %%
# Bytes per token
# ---------------
# The MQA model is LLaMA-7B's shape with one key/value head (the configuration
# of no published model: it isolates the effect of sharing).
import dataclasses

import matplotlib.pyplot as plt
import torch

from fmref.infer.kv import model_kv_cache_bytes
from fmref.models.deepseek import deepseek_v3
from fmref.models.llama import llama3_8b, llama_7b
from fmref.models.mamba import mamba_2_8b

torch.set_num_threads(1)  # nothing is trained here; kept for the gallery's convention

models = {
    "MHA: LLaMA-7B (32 x 32 heads of 128)": llama_7b(),
    "GQA: Llama 3 8B (8 key/value heads)": llama3_8b(),
    "MQA: LLaMA-7B shape, 1 key/value head": dataclasses.replace(llama_7b(), n_kv_heads=1),
    "MLA: DeepSeek-V3 (61 layers x 576)": deepseek_v3(),
}
for name, config in models.items():
    print(f"{name:40s} {model_kv_cache_bytes(config) / 2**10:8.1f} KiB per token")
state = model_kv_cache_bytes(mamba_2_8b())
print(f"{'Mamba-2.8B: fixed state':40s} {state / 2**20:8.2f} MiB at any length")

# %%
# The cache against the context
# -----------------------------
# Straight lines of slope 1 on log-log axes for the attention models, a flat
# line for Mamba: past the crossing point the state is the smaller one, and at
# 128K tokens it is smaller than every cache by orders of magnitude.
lengths = [2**k for k in range(6, 18)]  # 64 to 131,072 tokens
fig, ax = plt.subplots(figsize=(6.8, 4.4))
for name, config in models.items():
    ax.plot(lengths, [model_kv_cache_bytes(config, n) / 2**20 for n in lengths], label=name)
ax.plot(lengths, [model_kv_cache_bytes(mamba_2_8b(), n) / 2**20 for n in lengths], "k--",
        label="Mamba-2.8B state (fixed)")  # fmt: skip
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("tokens in the context")
ax.set_ylabel("cache per sequence (MiB, fp16)")
ax.set_title("A KV cache grows with the context; a state-space model's state does not")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
