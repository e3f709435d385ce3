"""
Where the parameters of GPT-2, LLaMA and Mistral sit
====================================================

A published language model is a configuration: a handful of integers (width,
depth, heads, feed-forward width, vocabulary) fixes the shape of every weight
matrix. :func:`fmref.scaling.parameter_breakdown` adds those shapes up part by
part without allocating a single weight, so we can take apart a 70-billion
parameter model on a laptop. The first figure shows what fraction of each
model goes to embeddings, attention, feed-forward layers and the output head;
the second shows how much memory the weights alone need at 32, 16 and 8 bits.
"""

# %%
# Published configurations
# ------------------------
# GPT-2 comes in four sizes (:meth:`fmref.models.gpt.GPTConfig.gpt2`); LLaMA,
# Llama 2 and Mistral are preset constructors in :mod:`fmref.models.llama`.
# Each returns a dataclass of integers: nothing is allocated.
import matplotlib.pyplot as plt
import numpy as np
import torch

from fmref.models.gpt import GPTConfig
from fmref.models.llama import llama2_70b, llama_7b, llama_13b, mistral_7b
from fmref.scaling import count_parameters, parameter_breakdown

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

models = {
    "GPT-2 small": GPTConfig.gpt2("gpt2"),
    "GPT-2 medium": GPTConfig.gpt2("gpt2-medium"),
    "GPT-2 large": GPTConfig.gpt2("gpt2-large"),
    "GPT-2 XL": GPTConfig.gpt2("gpt2-xl"),
    "LLaMA-7B": llama_7b(),
    "Mistral-7B": mistral_7b(),
    "LLaMA-13B": llama_13b(),
    "LLaMA-2-70B": llama2_70b(),
}
for name, config in models.items():
    print(f"{name:13s} {count_parameters(config):>15,} parameters")

# %%
# The breakdown as shares of the total
# ------------------------------------
# Embeddings dominate small models (GPT-2 small spends almost a third of its
# parameters on the token table it shares with the output head); in large
# models the feed-forward layers take about two thirds. Grouped-query attention
# shows too: Mistral-7B and LLaMA-2-70B spend a smaller share on attention
# than LLaMA-7B and LLaMA-13B, because their keys and values have 8 heads only.
parts = ["embeddings", "attention", "feed_forward", "norms", "head"]
labels = ["embeddings", "attention", "feed-forward", "norms", "output head"]
colors = ["#4c72b0", "#dd8452", "#55a868", "#8172b3", "#c44e52"]
names = list(models)
shares = np.array(
    [
        [parameter_breakdown(models[n])[p] / count_parameters(models[n]) for p in parts]
        for n in names
    ]
)  # (models, parts)

fig, ax = plt.subplots(figsize=(7.5, 4.6))
left = np.zeros(len(names))
for j, (label, color) in enumerate(zip(labels, colors)):
    ax.barh(names, shares[:, j], left=left, color=color, label=label)
    left += shares[:, j]
for i, n in enumerate(names):
    ax.text(1.01, i, f"{count_parameters(models[n]) / 1e9:.2f}B", va="center", fontsize=9)
ax.invert_yaxis()
ax.set_xlim(0, 1.13)
ax.set_xticks(np.linspace(0, 1, 6), [f"{x:.0%}" for x in np.linspace(0, 1, 6)])
ax.set_xlabel("share of all parameters (total on the right)")
ff_small, ff_big = shares[0, 2], shares[-1, 2]
ax.set_title(
    f"Feed-forward share: {ff_small:.0%} of GPT-2 small, {ff_big:.0%} of LLaMA-2-70B", fontsize=11
)
ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.32), ncol=5, fontsize=8, frameon=False)
fig.tight_layout()
plt.show()

# %%
# Memory of the weights alone
# ---------------------------
# At inference the weights must sit in accelerator memory. Each parameter takes
# 4 bytes in float32, 2 in bfloat16 and 1 in int8 (plus a few scales, ignored
# here). The dashed lines mark a 24 GB consumer GPU and an 80 GB data-centre
# GPU. The KV cache, activations and, for training, gradients and optimiser
# states come on top (Chapters XII and XIII).
bytes_per_param = {"float32": 4, "bfloat16": 2, "int8": 1}
big = ["GPT-2 XL", "LLaMA-7B", "Mistral-7B", "LLaMA-13B", "LLaMA-2-70B"]
x = np.arange(len(big))
fig, ax = plt.subplots(figsize=(7.5, 4.4))
for k, (dtype, nbytes) in enumerate(bytes_per_param.items()):
    gb = [count_parameters(models[n]) * nbytes / 1e9 for n in big]
    ax.bar(x + (k - 1) * 0.27, gb, width=0.27, label=dtype, color=colors[k])
for limit in (24, 80):
    ax.axhline(limit, color="gray", linestyle="--", linewidth=1)
    ax.text(-0.45, limit * 1.08, f"{limit} GB GPU", ha="left", fontsize=8, color="gray")
ax.set_yscale("log")
ax.set_xticks(x, big)
ax.set_ylabel("memory of the weights (GB, log scale)")
gb70 = count_parameters(models["LLaMA-2-70B"]) * 2 / 1e9
ax.set_title(f"LLaMA-2-70B needs {gb70:.0f} GB in bfloat16: more than one 80 GB GPU", fontsize=11)
ax.legend(title="weights stored as", fontsize=8, loc="upper center")
fig.tight_layout()
plt.show()

# %%
# Parameters per layer
# --------------------
# Per block, GPT-2 has ``12 C²`` weights; LLaMA-7B has
# ``4 C² + 3 C F`` with ``F = 11008 ≈ 2.69 C``, that is about ``12.06 C²``: the
# SwiGLU width was chosen so that three matrices cost what two did.
c, f = 4096, 11008
print(f"LLaMA-7B block / C^2 = {(4 * c * c + 3 * c * f) / c**2:.2f}")
