"""
The latent space of a VAE
=========================

A :class:`~fmref.generative.vae.VAE` with a two-dimensional latent squeezes
every digit into a point of the plane. The KL term of the ELBO keeps the codes
close to a standard normal, so the plane is filled without holes and every
point decodes to something digit-like. We plot the encoded test digits coloured
by class, and decode a grid of latents.
"""

# %%
# Training
# --------
import math

import matplotlib.pyplot as plt
import torch

from fmref.generative.vae import VAE, vae_loss
from fmref.models.vit import digits_split
from fmref.train.loop import epoch_batches, fit
from fmref.zoo import cached

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

x_train, y_train, x_test, y_test = digits_split()
settings = {
    "epochs": 60,
    "batch": 128,
    "lr": 2e-3,
    "hidden": 256,
    "latent_dim": 2,
    "sigma": 0.3,
    "seed": 0,
}


def train():
    torch.set_num_threads(1)  # a tiny model trains faster on one thread; cached once anyway
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    vae = VAE(hidden=settings["hidden"], latent_dim=settings["latent_dim"])

    def loss_fn(vae, idx):
        xb = x_train[idx]
        recon, mu, logvar = vae(xb, generator=g)
        return vae_loss(xb, recon, mu, logvar, sigma=settings["sigma"])

    history = fit(
        vae,
        epoch_batches(len(x_train), settings["batch"], settings["epochs"], g),
        loss_fn,
        settings["epochs"] * math.ceil(len(x_train) / settings["batch"]),
        lr=settings["lr"],  # Adam: AdamW without decay
    )
    return {"state_dict": vae.state_dict(), "losses": history["loss"]}


result = cached("digits-vae", settings, train)
torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
vae = VAE(hidden=settings["hidden"], latent_dim=settings["latent_dim"])
vae.load_state_dict(result["state_dict"])
vae.eval()
with torch.no_grad():
    mu, logvar = vae.encode(x_test)
    recon, _, _ = vae(x_test, generator=torch.Generator().manual_seed(0))
    test_loss = vae_loss(x_test, recon, mu, logvar, sigma=settings["sigma"]).item()
print(f"negative ELBO on the test digits: {test_loss:.1f} nats per image (up to a constant)")

# %%
# Codes and decoded grid
# ----------------------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.6))
points = ax1.scatter(mu[:, 0], mu[:, 1], c=y_test, cmap="tab10", s=8)
ax1.legend(*points.legend_elements(), fontsize=7, ncol=2, title="digit")
ax1.set_xlabel("$z_1$")
ax1.set_ylabel("$z_2$")
ax1.set_title("encoded test digits (means)")
grid = torch.linspace(-2.5, 2.5, 12)
z = torch.stack(torch.meshgrid(grid, grid.flip(0), indexing="xy"), -1).reshape(-1, 2)  # (144, 2)
with torch.no_grad():
    decoded = vae.decode(z).clamp(-1, 1)  # (144, 1, 8, 8)
canvas = decoded.reshape(12, 12, 8, 8).permute(0, 2, 1, 3).reshape(96, 96)
ax2.imshow(canvas, cmap="gray_r", extent=(-2.5, 2.5, -2.5, 2.5))
ax2.set_xlabel("$z_1$")
ax2.set_ylabel("$z_2$")
ax2.set_title("decoded grid of latents")
fig.suptitle("A 2-D VAE arranges digits by class and decodes every point to a digit-like image")
fig.tight_layout()
plt.show()
