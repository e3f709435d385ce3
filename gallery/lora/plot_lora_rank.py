"""
LoRA's rank against full fine-tuning
====================================

The tiny GPT pretrained on the Python documentation (:func:`fmref.zoo.tiny_gpt`)
is adapted to a new distribution, the same documentation with the words of every
line in reverse order (:func:`fmref.peft.experiment.reverse_words`), with LoRA on
``W_q`` and ``W_v`` at ranks 1, 2, 4, 8 and 16 and with full fine-tuning, each for
the same 60 AdamW steps on the same batches
(:func:`fmref.peft.experiment.run_methods`). We plot the validation loss against
the number of trainable parameters, look at the singular values of the weight
updates, and check that a merged LoRA model computes exactly what the unmerged
one does.
"""

# %%
# Fine-tune with each rank
# ------------------------
# The runs are cached (:func:`fmref.zoo.cached`), so the chapter and the next
# example reuse them.
import matplotlib.pyplot as plt
import torch

from fmref.peft.experiment import run_methods
from fmref.zoo import tiny_gpt

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
ranks = [1, 2, 4, 8, 16]
results = run_methods(["none", "full"] + [f"lora-{r}" for r in ranks])
total = results["none"]["total"]
for name, res in results.items():
    print(
        f"{name:>8}: {res['trainable']:>7,} trainable ({100 * res['trainable'] / total:6.3f}%), "
        f"validation loss {res['val_loss']:.3f}"
    )

# %%
# Trainable parameters against validation loss
# --------------------------------------------
# Each doubling of the rank doubles LoRA's parameters; the loss falls with
# every step but stays above full fine-tuning, which trains 22 times more
# parameters than rank 16 (the embeddings included).
lora_n = [results[f"lora-{r}"]["trainable"] for r in ranks]
lora_loss = [results[f"lora-{r}"]["val_loss"] for r in ranks]
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.plot(lora_n, lora_loss, "o-", label="LoRA on $W_q, W_v$")
for r, n, loss in zip(ranks, lora_n, lora_loss):
    ax.annotate(f"r={r}", (n, loss), textcoords="offset points", xytext=(4, 6))
ax.plot(
    results["full"]["trainable"],
    results["full"]["val_loss"],
    "s",
    color="C3",
    label="full fine-tuning",
)
ax.axhline(results["none"]["val_loss"], color="gray", ls="--", label="base model")
ax.set_xscale("log")
ax.set_xlabel("trainable parameters")
ax.set_ylabel("validation loss (nats per token)")
ax.set_title("Higher rank helps, with diminishing returns per parameter")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The singular values of the weight updates
# -----------------------------------------
# Full fine-tuning changes every entry of ``W_q``. If the change were of high
# rank, its singular values would be flat; they fall off quickly instead, so
# a few directions carry most of it, which is the observation LoRA builds on.
# LoRA's own update ``(alpha / r) B A`` has exactly ``r`` non-zero singular values.
base, _, _ = tiny_gpt()
layer = 1
name = f"h.{layer}.attn.q_proj"
w0 = base.get_submodule(name).weight.detach()
delta_full = results["full"]["state"][f"{name}.weight"] - w0  # (96, 96)
lora_state = results["lora-16"]["state"]
delta_lora = 2.0 * lora_state[f"{name}.lora_B"] @ lora_state[f"{name}.lora_A"]  # alpha / r = 2
s_full = torch.linalg.svdvals(delta_full)
s_lora = torch.linalg.svdvals(delta_lora)
energy = (s_full**2).cumsum(0) / (s_full**2).sum()
for k in (1, 4, 16):
    print(f"top {k:>2} directions hold {100 * energy[k - 1]:.0f}% of the full update's energy")
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.semilogy(range(1, 97), s_full / s_full[0], "o", ms=3, label="full fine-tuning")
ax.semilogy(range(1, 97), (s_lora / s_lora[0]).clamp_min(1e-8), "o", ms=3, label="LoRA, r = 16")
ax.set_ylim(1e-8, 2)
ax.set_xlabel("index of singular value")
ax.set_ylabel("singular value / largest")
ax.set_title(f"Updates of W_q (block {layer}): a few directions dominate")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Merged and unmerged give the same outputs
# -----------------------------------------
# We rebuild the rank-8 model from its cached ``lora_A``/``lora_B``, compute the
# logits, then fold the update into the weights with
# :func:`~fmref.peft.lora.merge_lora` (the model is a plain GPT again, with no
# extra work per token) and compare.
from fmref.peft.lora import apply_lora, merge_lora

model, tokenizer, _ = tiny_gpt()
apply_lora(model, r=8, alpha=16)
model.load_state_dict(results["lora-8"]["state"], strict=False)
idx = torch.tensor([tokenizer.encode("statement if The")])
with torch.no_grad():
    unmerged = model(idx)
    merge_lora(model)
    merged = model(idx)
print(f"largest difference of the logits: {(merged - unmerged).abs().max().item():.1e}")
print(f"parameters after merging: {model.num_parameters():,} (the base model's: {total:,})")
