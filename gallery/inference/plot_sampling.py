"""
Temperature, top-k and top-p on one next-token distribution
===========================================================

A language model's logits become a token through a chain of filters:
divide by the temperature, keep the top-k, keep the nucleus of probability
top-p, renormalise, sample (:func:`~fmref.infer.sampling.sampling_probs`).
We apply them to one distribution over 12 tokens with a long tail, and check
by sampling that :func:`~fmref.infer.sampling.sample_next` draws from it.
"""

# %%
# A distribution with a head and a long tail
# ------------------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.infer.sampling import sample_next, sampling_probs

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
words = [
    "mat",
    "floor",
    "sofa",
    "bed",
    "chair",
    "rug",
    "roof",
    "table",
    "box",
    "moon",
    "piano",
    "idea",
]
logits = torch.tensor([3.0, 2.4, 2.0, 1.7, 1.2, 1.0, 0.4, 0.2, 0.0, -1.0, -1.5, -2.5])
for t in (0.5, 1.0, 1.5):
    p = sampling_probs(logits, temperature=t)
    print(f"T={t}: p(mat)={p[0]:.3f}, tail beyond 5 tokens {p[5:].sum():.3f}")

# %%
# Filters side by side
# --------------------
settings = [
    ("temperature 0.5", dict(temperature=0.5)),
    ("temperature 1.0", dict(temperature=1.0)),
    ("temperature 1.5", dict(temperature=1.5)),
    ("top-k = 3", dict(top_k=3)),
    ("top-p = 0.8", dict(top_p=0.8)),
    ("greedy (T = 0)", dict(temperature=0)),
]
fig, axes = plt.subplots(2, 3, figsize=(10, 5.6), sharey=True)
for ax, (title, kwargs) in zip(axes.flat, settings):
    p = sampling_probs(logits, **kwargs)
    ax.bar(range(len(words)), p.numpy(), color=["C0" if v > 0 else "0.8" for v in p])
    ax.set_title(f"{title}: {int((p > 0).sum())} tokens possible")
    ax.set_xticks(range(len(words)), words, rotation=70, fontsize=8)
for ax in axes[:, 0]:
    ax.set_ylabel("probability")
fig.suptitle("Temperature reshapes the distribution; top-k and top-p cut its tail")
fig.tight_layout()
plt.show()

# %%
# Sampling agrees with the filtered distribution
# ----------------------------------------------
g = torch.Generator().manual_seed(0)
draws = sample_next(logits.expand(20000, -1), top_p=0.8, generator=g)
freq = torch.bincount(draws, minlength=len(words)) / 20000
print(
    "largest |frequency - probability|:",
    round((freq - sampling_probs(logits, top_p=0.8)).abs().max().item(), 4),
)
