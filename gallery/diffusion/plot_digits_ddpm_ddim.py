"""
Digits from a tiny U-Net: DDPM versus DDIM
==========================================

The cached digit denoiser (:func:`~fmref.diffusion.denoisers.digits_denoiser`,
a :class:`~fmref.diffusion.denoisers.TinyUNet` trained on scikit-learn's
digits) generates digits from noise. DDPM's ancestral sampler takes all 1,000
steps it was trained with; DDIM reuses the same network but jumps over
timesteps deterministically. We sample the same classes with DDPM at 1,000
steps and DDIM at 50 and 10 steps, time each, and score the samples with the
digit ViT of :ref:`chapter-16` (the share it classifies as the class asked for).
"""

# %%
# Load the denoiser and the digit classifier
# ------------------------------------------
import time

import matplotlib.pyplot as plt
import torch

from fmref.diffusion.denoisers import digits_denoiser
from fmref.diffusion.samplers import sample
from fmref.zoo import digits_vit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, abar, history = digits_denoiser()
classifier, _ = digits_vit()
labels = torch.arange(10).repeat(5)  # five of each digit

# %%
# Sample with three samplers
# --------------------------
runs = {
    "DDPM, 1000 steps": ("ddpm", None),
    "DDIM, 50 steps": ("ddim", 50),
    "DDIM, 10 steps": ("ddim", 10),
}
results = {}
for name, (sampler, steps) in runs.items():
    start = time.perf_counter()
    x = sample(
        model,
        (50, 1, 8, 8),
        abar,
        sampler=sampler,
        steps=steps,
        labels=labels,
        generator=torch.Generator().manual_seed(0),
    )
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = (classifier(x.clamp(-1, 1)).argmax(-1) == labels).float().mean().item()
    results[name] = (x, seconds, accuracy)
    print(f"{name:17s}: {seconds:5.2f} s for 50 digits, classified as asked: {accuracy:.2f}")

fig, axes = plt.subplots(1, 3, figsize=(10, 3.8))
for ax, (name, (x, seconds, accuracy)) in zip(axes, results.items()):
    grid = x[:30].clamp(-1, 1).reshape(3, 10, 8, 8).permute(0, 2, 1, 3).reshape(24, 80)
    ax.imshow(grid, cmap="gray_r")
    ax.set_title(f"{name}\n{seconds:.1f} s, {accuracy:.0%} recognised")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("One network, three samplers: DDPM with 1,000 calls, DDIM with 50 and 10")
fig.tight_layout()

# %%
# The training loss
# -----------------
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(100, 100 * len(history["loss"]) + 1, 100), history["loss"])
ax.set_xlabel("optimiser step")
ax.set_ylabel("noise-prediction MSE (mean of 100 steps)")
ax.set_title("The ε-prediction loss of the digit U-Net")
fig.tight_layout()
plt.show()
