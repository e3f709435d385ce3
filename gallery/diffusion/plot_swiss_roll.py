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
from sklearn.datasets import make_swiss_roll

from fmref.diffusion.denoisers import MLPDenoiser
from fmref.diffusion.samplers import ddpm_loss, sample
from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
from fmref.train.loop import fit
from fmref.zoo import cached

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

points, _ = make_swiss_roll(4000, noise=0.3, random_state=0)
data = torch.tensor(points[:, [0, 2]], dtype=torch.float32) / 5.0  # (4000, 2), roughly unit scale
abar = alphas_cumprod(linear_beta_schedule(1000))
settings = {"steps": 3000, "batch": 256, "lr": 2e-3, "seed": 0, "hidden": 128}


def train():
    torch.set_num_threads(1)  # a tiny model trains faster on one thread; cached once anyway
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = MLPDenoiser(hidden=settings["hidden"])

    def batch(step):
        return data[torch.randint(0, len(data), (settings["batch"],), generator=g)]

    def loss_fn(model, x0):
        return ddpm_loss(model, x0, abar, generator=g)

    history = fit(model, batch, loss_fn, settings["steps"], lr=settings["lr"])  # Adam
    return {"state_dict": model.state_dict(), "losses": history["loss"]}


result = cached("swiss-roll-denoiser", settings, train)
torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
model = MLPDenoiser(hidden=settings["hidden"])
model.load_state_dict(result["state_dict"])
model.eval()
print(f"final training loss (mean of last 100 steps): {sum(result['losses'][-100:]) / 100:.3f}")

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
