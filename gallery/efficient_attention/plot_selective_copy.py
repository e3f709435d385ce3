"""
Selective copying: Mamba against attention of the same size
===========================================================

The selective-copying task of the Mamba paper: four symbols sit at random
places among noise tokens and must be recalled, in order, after a separator
(:func:`fmref.models.mamba.selective_copy_batch`). A time-invariant recurrence
or convolution cannot do it, because where the symbols are changes from one
sequence to the next. Mamba's step size :math:`\\Delta` depends on the token,
so each layer can let symbols into its state and keep noise out. We train a
:class:`~fmref.models.mamba.Mamba` and a RoPE attention model
(:class:`~fmref.models.llama.Llama`) of the same width, depth and parameter
count on the same batches (the ``"selective-copy"`` recipe of
:mod:`fmref.zoo`), then compare what each recalls.
"""

# %%
# Train both
# ----------
import matplotlib.pyplot as plt
import torch

import fmref.zoo
from fmref.models.mamba import selective_copy_batch
from fmref.train.loop import chunk_means

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

runs = fmref.zoo.get("selective-copy").load()
for name, (model, history) in runs.items():
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name:9s} {n_params:6,} parameters, recall accuracy {history['accuracy']:.3f}")

# %%
# Learning curves
# ---------------
# The loss on the recalled symbols, averaged over blocks of 10 steps; chance is
# :math:`\ln 8 \approx 2.08`.
fig, ax = plt.subplots(figsize=(6.4, 4.0))
for name, (_, history) in runs.items():
    means = chunk_means(history["loss"], 10)
    label = f"{name} (accuracy {history['accuracy']:.2f})"
    ax.plot([10 * (i + 1) for i in range(len(means))], means, label=label)
ax.axhline(torch.log(torch.tensor(8.0)).item(), color="grey", ls=":", lw=1, label="chance")
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy on the recalled symbols")
ax.set_title("Selective copying: the loss of each model of ~17k parameters")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Which symbols are recalled
# --------------------------
# The accuracy at each of the four recalled positions, on 1,024 fresh
# sequences (teacher-forced: each prediction sees the true earlier symbols).
task = {k: fmref.zoo.SELECTIVE_COPY_SETTINGS[k] for k in ("n_memorize", "n_noise", "n_symbols")}
seq = selective_copy_batch(1024, **task, generator=torch.Generator().manual_seed(1))
k = task["n_memorize"]
fig, ax = plt.subplots(figsize=(6.4, 3.4))
for i, (name, (model, _)) in enumerate(runs.items()):
    with torch.no_grad():
        right = model(seq[:, :-1])[:, -k:].argmax(-1) == seq[:, -k:]  # (B, k)
    per_position = right.float().mean(0)
    print(f"{name:9s} accuracy per recalled symbol {[round(a, 3) for a in per_position.tolist()]}")
    ax.bar([p + 0.4 * i for p in range(k)], per_position.numpy(), width=0.4, label=name)
ax.set_xticks([p + 0.2 for p in range(k)], [f"symbol {p + 1}" for p in range(k)])
ax.set_ylim(0, 1)
ax.set_ylabel("accuracy")
ax.set_title("Recall accuracy at each position of the copy")
ax.legend()
fig.tight_layout()
plt.show()
