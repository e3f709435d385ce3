"""
Seven ways to fine-tune, compared on one task
=============================================

The same task as in the previous example (the Python documentation read
backwards, 60 AdamW steps on the same batches) with every method of
:mod:`fmref.peft`: full fine-tuning, LoRA (rank 8 on ``W_q`` and ``W_v``),
Houlsby adapters (bottleneck 8), prompt tuning and prefix tuning (16 virtual
tokens), BitFit (biases only) and (IA)\\ :sup:`3` (learned rescaling vectors).
We plot each method's validation loss against its trainable parameters and its
validation loss during training.
"""

# %%
# Run every method
# ----------------
import matplotlib.pyplot as plt
import torch

from fmref.peft.experiment import run_methods

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
methods = ["none", "full", "lora-8", "adapter-8", "prefix-16", "prompt-16", "bitfit", "ia3"]
results = run_methods(methods)
total = results["none"]["total"]
base_loss = results["none"]["val_loss"]
full_gain = base_loss - results["full"]["val_loss"]
for name, res in results.items():
    gain = base_loss - res["val_loss"]
    print(
        f"{name:>9}: {res['trainable']:>7,} trainable ({100 * res['trainable'] / total:6.3f}%), "
        f"loss {res['val_loss']:.3f}, {100 * gain / full_gain:5.1f}% of full fine-tuning's gain"
    )

# %%
# Loss against trainable parameters
# ---------------------------------
fig, ax = plt.subplots(figsize=(6.4, 4.4))
for i, name in enumerate(methods[1:]):
    res = results[name]
    ax.plot(res["trainable"], res["val_loss"], "o", color=f"C{i}")
    ax.annotate(
        name, (res["trainable"], res["val_loss"]), textcoords="offset points", xytext=(5, 4)
    )
ax.axhline(base_loss, color="gray", ls="--", label="base model")
ax.set_xscale("log")
ax.set_xlabel("trainable parameters")
ax.set_ylabel("validation loss (nats per token)")
ax.set_title("Methods that change the layers beat virtual tokens")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Validation loss during training
# -------------------------------
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for i, name in enumerate(methods[1:]):
    steps, losses = zip(*results[name]["val_curve"])
    ax.plot((0,) + steps, (base_loss,) + losses, "o-", ms=3, color=f"C{i}", label=name)
ax.set_xlabel("AdamW step")
ax.set_ylabel("validation loss (nats per token)")
ax.set_title("Every method improves from the same start; full fine-tuning fastest")
ax.legend(ncol=2, fontsize="small")
fig.tight_layout()
plt.show()
