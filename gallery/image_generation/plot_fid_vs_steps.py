"""
FID against the number of sampling steps
========================================

FID compares the distribution of features of generated images with that of real
images (:func:`~fmref.generative.fid.frechet_distance`). For 8x8 digits the
features are the class-token states of the digit ViT of :ref:`chapter-16`
(:func:`~fmref.generative.fid.digits_fid`). We sample 450 digits with DDIM at
several step counts from the cached diffusion model, and compare with two
baselines: uniform noise, and the 450 real test digits against 450 real
training digits, the floor that finite samples leave even for a perfect model.
"""

# %%
# FID of DDIM samples
# -------------------
import matplotlib.pyplot as plt
import torch

from fmref.diffusion.denoisers import digits_denoiser
from fmref.diffusion.samplers import sample
from fmref.generative.fid import digits_fid
from fmref.models.vit import digits_split

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, abar, _ = digits_denoiser()
x_train, y_train, x_test, y_test = digits_split()
real_floor = digits_fid(x_train[:450], x_test)
noise_fid = digits_fid(
    torch.rand(450, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1, x_test
)
labels = y_test  # the same class mix as the reference set
step_counts = [2, 5, 10, 20, 50, 100]
fids = []
for steps in step_counts:
    x = sample(
        model,
        (450, 1, 8, 8),
        abar,
        sampler="ddim",
        steps=steps,
        labels=labels,
        generator=torch.Generator().manual_seed(0),
    )
    fids.append(digits_fid(x.clamp(-1, 1), x_test))
    print(f"DDIM {steps:3d} steps: FID {fids[-1]:.2f}")
print(f"real vs real (floor): {real_floor:.2f}; uniform noise: {noise_fid:.2f}")

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(step_counts, fids, "o-", label="DDIM samples")
ax.axhline(real_floor, color="tab:green", ls="--", label="real train vs real test")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("sampling steps (network calls)")
ax.set_ylabel("FID in digit-ViT feature space")
ax.set_title(f"FID falls with more steps, then levels off\n(uniform noise scores {noise_fid:.0f})")
ax.legend()
fig.tight_layout()
plt.show()
