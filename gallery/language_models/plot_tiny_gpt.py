"""
Training a tiny GPT on the Python documentation
===============================================

A three-layer GPT of about 0.4 million parameters learns to continue the
Python Language Reference. :func:`fmref.zoo.tiny_gpt` trains it once with
:func:`fmref.train.loop.train` (a byte-level BPE of 768 tokens, 400 AdamW
steps of 16 windows of 64 tokens, warm-up and cosine decay, on one CPU
thread) and caches it; this page loads it. We plot the
training and validation losses and the learning-rate schedule, measure the
validation perplexity with a sliding window, and sample a few continuations
at three temperatures.
"""

# %%
# The trained model and its history
# ---------------------------------
# The first call trains and caches; every later call (the chapters' doctests,
# this page, the tests) loads the same weights.
import math

import matplotlib.pyplot as plt
import torch

from fmref.eval.perplexity import perplexity
from fmref.infer.generate import generate
from fmref.text.corpus import python_docs
from fmref.zoo import tiny_gpt

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

model, tokenizer, history = tiny_gpt()
n_params = sum(p.numel() for p in model.parameters())
print(
    f"{n_params:,} parameters, vocabulary of {tokenizer.vocab_size} tokens, "
    f"context of {model.config.block_size} tokens"
)
print(f"trained for {history['step'][-1]} steps in {history['seconds']:.0f} s")

# %%
# Loss curves
# -----------
# The training loss is one noisy batch per step; the validation loss is the
# mean over fixed windows of held-out text. They start near
# :math:`\ln 768 \approx 6.6` nats, the loss of a uniform guess.
steps, val_steps = history["step"], history["val_step"]
losses = history["train_loss"]
window = [losses[max(0, i - 9) : i + 1] for i in range(len(losses))]  # the last 10 steps
smooth = [sum(w) / len(w) for w in window]
fig, (ax, ax_lr) = plt.subplots(
    2, 1, figsize=(7, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
)
ax.plot(steps, history["train_loss"], color="#4c72b0", alpha=0.25, lw=0.8)
ax.plot(steps, smooth, color="#4c72b0", label="training (10-step mean)")
ax.plot(val_steps, history["val_loss"], "o-", color="#c44e52", label="validation")
ax.axhline(math.log(tokenizer.vocab_size), color="grey", ls=":", label="uniform guess")
ax.set_ylabel("cross-entropy (nats per token)")
ax.set_title("The tiny GPT's loss falls from a uniform guess in a few hundred steps")
ax.legend()
ax.grid(alpha=0.3)
ax_lr.plot(steps, history["lr"], color="#55a868")
ax_lr.set_xlabel("optimiser step")
ax_lr.set_ylabel("learning rate")
ax_lr.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Validation perplexity
# ---------------------
# The exponential of the mean loss over every token of the validation split,
# each scored with at least 32 tokens of context (windows of 64, stride 32).
val_ids = torch.tensor(tokenizer.encode(python_docs("validation")))
ppl = perplexity(model, val_ids, context_len=64, stride=32)
print(f"validation perplexity: {ppl:.1f} over {len(val_ids):,} tokens")

# %%
# Samples at three temperatures
# -----------------------------
# Low temperature repeats the most likely phrases; high temperature invents
# words from pieces. The model has learned the vocabulary and some syntax of
# the reference, not its meaning.
prompt = torch.tensor([tokenizer.encode("The for statement")])
for temperature in (0.5, 0.8, 1.1):
    g = torch.Generator().manual_seed(0)
    out = generate(model, prompt, max_new_tokens=40, temperature=temperature, generator=g)
    print(f"--- temperature {temperature}")
    print(tokenizer.decode(out[0]))
