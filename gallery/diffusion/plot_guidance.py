"""
Classifier-free guidance on digits
==================================

The digit denoiser was trained with its label replaced by a "null" label 15% of
the time, so one network predicts both the conditional noise
``eps(x_t, t, y)`` and the unconditional ``eps(x_t, t)``.
:func:`~fmref.diffusion.guidance.classifier_free_guidance` extrapolates from
the second towards the first with a scale ``s``: ``s = 0`` ignores the label,
``s = 1`` is the plain conditional model, ``s > 1`` trades diversity for
fidelity. We sample the same noise at several scales and measure how often the
digit ViT recognises the requested class, and how varied the samples are.
"""

# %%
# Sampling at several guidance scales
# -----------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.diffusion.denoisers import digits_denoiser
from fmref.diffusion.samplers import sample
from fmref.zoo import digits_vit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, abar, _ = digits_denoiser()
classifier, _ = digits_vit()
labels = torch.arange(10).repeat(20)  # twenty of each digit
scales = [0.0, 1.0, 2.0, 4.0]
samples, accuracy, spread = {}, {}, {}
for s in scales:
    x = sample(
        model,
        (200, 1, 8, 8),
        abar,
        sampler="ddim",
        steps=50,
        labels=labels,
        guidance_scale=s,
        generator=torch.Generator().manual_seed(0),
    )
    x = x.clamp(-1, 1)
    with torch.no_grad():
        accuracy[s] = (classifier(x).argmax(-1) == labels).float().mean().item()
    # diversity: mean per-pixel standard deviation among samples of the same class
    spread[s] = x.reshape(20, 10, 64).std(0).mean().item()
    samples[s] = x
    print(f"scale {s:3.1f}: recognised {accuracy[s]:.2f}, within-class std {spread[s]:.3f}")

fig, axes = plt.subplots(1, len(scales), figsize=(3 * len(scales), 3.4))
for ax, s in zip(axes, scales):
    grid = samples[s][:40].reshape(4, 10, 8, 8).permute(0, 2, 1, 3).reshape(32, 80)
    ax.imshow(grid, cmap="gray_r")
    ax.set_title(f"scale {s:g}: {accuracy[s]:.0%} recognised")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Guidance scale 0 ignores the label; larger scales follow it more closely")
fig.tight_layout()

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(scales, [accuracy[s] for s in scales], "o-", label="recognised as asked")
ax2 = ax.twinx()
ax2.plot(scales, [spread[s] for s in scales], "s--", color="tab:orange", label="within-class std")
ax.set_xlabel("guidance scale s (Ho & Salimans' w = s - 1)")
ax.set_ylabel("share recognised")
ax2.set_ylabel("within-class pixel std")
ax.set_title("Guidance trades diversity for fidelity")
fig.legend(loc="lower right")
fig.tight_layout()
plt.show()
