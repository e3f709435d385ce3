"""
Perplexity past the training length: no scaling, PI, NTK and YaRN
=================================================================

A small Llama with rotary position embeddings is trained on 64-byte windows of
the Python documentation (the ``"long-context-llama"`` recipe of
:mod:`fmref.zoo`), then read, without any further training, on windows 2, 4 and
8 times longer. Left alone, its RoPE meets rotation angles it never saw and its
perplexity grows with the window; position interpolation (PI), dynamic NTK
scaling and YaRN change only the RoPE frequencies
(:func:`fmref.nn.position.rope_inv_freq`), with no fine-tuning. Every method
scores the same 2,048 validation bytes at every length.
"""

# %%
# The model and the table
# -----------------------
# :func:`fmref.eval.long_context.context_extension_perplexity` rebuilds the
# model with each ``rope_scaling`` and context length (the weights do not
# change) and scores it with :func:`fmref.eval.perplexity.perplexity`; the
# recipe ran it once after training and keeps the table with the model.
import matplotlib.pyplot as plt
import torch

import fmref.zoo

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

model, history = fmref.zoo.get("long-context-llama").load()
print(f"trained at {model.config.max_seq_len} bytes, validation loss {history['val_loss'][-1]:.3f}")
table = history["extension"]  # context_extension_perplexity(model, n_tokens=2048)
names = {"none": "no scaling", "pi": "position interpolation", "ntk": "dynamic NTK",
         "yarn": "YaRN"}  # fmt: skip
print("length " + "".join(f"{names[m]:>24s}" for m in names))
for i, length in enumerate(table["lengths"]):
    print(f"{length:6d} " + "".join(f"{table[m][i]:24.3f}" for m in names))

# %%
# Perplexity against the window
# -----------------------------
# At the training length (64) the four are the same model. Past it, the
# unscaled RoPE degrades: the slow rotary pairs, whose wavelength is longer
# than 64 positions, turn to angles the attention heads were never trained on.
# Position interpolation, without the fine-tuning it is always paired with,
# degrades most: it also squeezes the fast pairs that carry the order of
# neighbouring bytes. Dynamic NTK and YaRN keep the fast pairs and stretch
# only the slow ones, and degrade least.
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for method, label in names.items():
    ax.plot(table["lengths"], table[method], marker="o", label=label)
ax.axvline(model.config.max_seq_len, color="grey", ls=":", lw=1)
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xticks(table["lengths"], [str(n) for n in table["lengths"]])
ax.set_xlabel("evaluation window (bytes); the model was trained on 64")
ax.set_ylabel("perplexity per byte (log scale)")
ax.set_title("Past the training length, NTK and YaRN degrade least;\nPI without fine-tuning most")
ax.legend()
fig.tight_layout()
plt.show()
