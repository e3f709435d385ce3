"""
The forward process and two noise schedules
===========================================

A diffusion model destroys data step by step, then learns to undo it. The
forward process needs no learning: :func:`~fmref.diffusion.schedules.q_sample`
jumps straight to any step ``t`` with
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``. We noise one digit with the
linear schedule of DDPM and the cosine schedule of improved DDPM, then compare
how fast each schedule removes the signal: the share of signal variance
``abar_t`` and the signal-to-noise ratio over ``t``.
"""

# %%
# A digit at increasing noise levels
# ----------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.diffusion.schedules import (
    alphas_cumprod,
    cosine_beta_schedule,
    linear_beta_schedule,
    q_sample,
    signal_to_noise,
)
from fmref.models.vit import digits_split

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

x0 = digits_split()[0][:1]  # (1, 1, 8, 8) in [-1, 1]
schedules = {
    "linear": alphas_cumprod(linear_beta_schedule(1000)),
    "cosine": alphas_cumprod(cosine_beta_schedule(1000)),
}
steps = [0, 50, 100, 200, 300, 500, 700, 999]
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))  # one eps for every t

fig, axes = plt.subplots(2, len(steps), figsize=(1.4 * len(steps), 3.3))
for row, (name, abar) in enumerate(schedules.items()):
    for col, t in enumerate(steps):
        x_t = q_sample(x0, t, noise, abar)
        axes[row, col].imshow(x_t[0, 0], cmap="gray_r", vmin=-2.5, vmax=2.5)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
        if row == 0:
            axes[row, col].set_title(f"t = {t}")
    axes[row, 0].set_ylabel(name)
fig.suptitle("The same noise, two schedules: the cosine schedule keeps the digit longer")
fig.tight_layout()

# %%
# Signal left, and the signal-to-noise ratio
# ------------------------------------------
t = torch.arange(1000)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
for name, abar in schedules.items():
    ax1.plot(t, abar, label=name)
    ax2.plot(t, signal_to_noise(abar).log10(), label=name)
ax1.set_xlabel("timestep t")
ax1.set_ylabel(r"$\bar\alpha_t$ (share of signal variance)")
ax1.legend()
ax2.set_xlabel("timestep t")
ax2.set_ylabel(r"$\log_{10}$ SNR$(t)$")
ax2.legend()
fig.suptitle("Linear betas leave under 3% of the signal after t = 600; cosine spreads the decay")
fig.tight_layout()
for name, abar in schedules.items():
    print(
        f"{name}: abar at t=250, 500, 750 = "
        + ", ".join(f"{abar[k].item():.3f}" for k in (250, 500, 750))
    )
plt.show()
