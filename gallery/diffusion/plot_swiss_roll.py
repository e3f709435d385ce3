"""
DDPM on a two-dimensional swiss roll
====================================

Points in the plane are the simplest data a diffusion model can learn, and
they make the reverse process visible: we train an
:class:`~fmref.diffusion.denoisers.MLPDenoiser` to predict the noise added to
points of a swiss roll, then run :func:`~fmref.diffusion.samplers.sample` from
pure Gaussian noise and draw the cloud at several reverse steps. The structure
appears late: for most of the chain the points only contract.
"""

# %%
# Data and training
# -----------------
import matplotlib.pyplot as plt
import torch

import fmref.zoo
from fmref.diffusion.samplers import sample

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

# Trained once and cached: fmref.diffusion.denoisers.swiss_roll_denoiser, 3,000 Adam steps.
model, abar, data, history = fmref.zoo.get("swiss-roll-denoiser").load()
print(f"final training loss (mean of last 100 steps): {sum(history['loss'][-100:]) / 100:.3f}")

# %%
# The reverse process, step by step
# ---------------------------------
x, trajectory = sample(
    model,
    (2000, 2),
    abar,
    sampler="ddpm",
    generator=torch.Generator().manual_seed(1),
    return_trajectory=True,
)
shown = [0, 500, 800, 900, 950, 1000]  # indices into the trajectory (0 = pure noise)
fig, axes = plt.subplots(
    1, len(shown) + 1, figsize=(2.2 * (len(shown) + 1), 2.6), sharex=True, sharey=True
)
for ax, k in zip(axes, shown):
    pts = trajectory[k]
    ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.5)
    ax.set_title(f"t = {1000 - k}" if k < 1000 else "t = 0 (samples)")
axes[-1].scatter(data[:2000, 0], data[:2000, 1], s=1, alpha=0.5, color="tab:orange")
axes[-1].set_title("training data")
for ax in axes:
    ax.set_xlim(-3, 3.5)
    ax.set_ylim(-3, 3.5)
    ax.set_aspect("equal")
fig.suptitle("DDPM sampling: the roll only takes shape in the last few hundred of 1,000 steps")
fig.tight_layout()
plt.show()
