"""
A vector-quantised autoencoder and its codebook
================================================

A :class:`~fmref.generative.vq.VectorQuantizer` turns each 2x2 patch of a digit
into one of 32 codebook entries, so an 8x8 digit becomes 16 integer tokens that
an autoregressive model (:class:`~fmref.generative.autoregressive.MADE`, or a
Transformer) can learn. We train a tiny VQ autoencoder, plot how often each code
is used (a codebook that collapses onto a few entries wastes capacity), show
reconstructions from tokens alone, and then fit a MADE on the token grids and
sample new digits token by token.
"""

# %%
# A patch-wise VQ autoencoder
# ---------------------------
import matplotlib.pyplot as plt
import torch
from torch import nn

from fmref.generative.autoregressive import MADE
from fmref.generative.vq import VectorQuantizer, codebook_usage
from fmref.models.vit import digits_split
from fmref.train.loop import fit
from fmref.vision import patchify
from fmref.zoo import cached

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

x_train, _, x_test, _ = digits_split()
settings = {
    "codes": 32,
    "dim": 8,
    "steps": 1500,
    "batch": 128,
    "lr": 3e-3,
    "seed": 0,
    "made_steps": 800,
}


class PatchVQAE(nn.Module):
    """Encode each 2x2 patch with an MLP, quantise, decode the patch back."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(4, 64), nn.SiLU(), nn.Linear(64, settings["dim"]))
        self.vq = VectorQuantizer(settings["codes"], settings["dim"], beta=0.25)
        self.dec = nn.Sequential(nn.Linear(settings["dim"], 64), nn.SiLU(), nn.Linear(64, 4))

    def tokens(self, x):
        return self.vq.quantize(self.enc(patchify(x, 2)))  # (B, 16)

    def decode_tokens(self, codes):
        p = self.dec(self.vq.codebook(codes))  # (B, 16, 4)
        return p.reshape(-1, 4, 4, 2, 2).permute(0, 1, 3, 2, 4).reshape(-1, 1, 8, 8)

    def forward(self, x):
        z_q, codes, vq_loss = self.vq(self.enc(patchify(x, 2)))
        return self.dec(z_q), codes, vq_loss


def train():
    torch.set_num_threads(1)  # a tiny model trains faster on one thread; cached once anyway
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = PatchVQAE()

    def images(step):
        return x_train[torch.randint(0, len(x_train), (settings["batch"],), generator=g)]

    def vq_loss_fn(model, xb):  # reconstruction + codebook and commitment terms
        recon, _, vq_loss = model(xb)
        return (recon - patchify(xb, 2)).pow(2).mean() + vq_loss

    fit(model, images, vq_loss_fn, settings["steps"], lr=settings["lr"])  # Adam
    tokens = model.tokens(x_train).detach()  # (1347, 16)
    made = MADE(seq_len=16, vocab_size=settings["codes"], hidden=256)

    def codes(step):
        return tokens[torch.randint(0, len(tokens), (settings["batch"],), generator=g)]

    fit(made, codes, lambda made, t: made.nll(t).mean(), settings["made_steps"], lr=settings["lr"])
    return {"vqae": model.state_dict(), "made": made.state_dict()}


result = cached("digits-patch-vqae", settings, train)
torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
model = PatchVQAE()
model.load_state_dict(result["vqae"])
made = MADE(seq_len=16, vocab_size=settings["codes"], hidden=256)
made.load_state_dict(result["made"])

# %%
# Codebook usage and reconstructions
# ----------------------------------
with torch.no_grad():
    codes = model.tokens(x_test)  # (450, 16)
    recon = model.decode_tokens(codes).clamp(-1, 1)
    error = (recon - x_test).pow(2).mean().item()
used, perplexity = codebook_usage(codes, settings["codes"])
print(f"codes used: {used:.0%}, perplexity {perplexity:.1f} of {settings['codes']}")
print(f"reconstruction MSE from tokens: {error:.4f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.3, 1]})
counts = torch.bincount(codes.flatten(), minlength=settings["codes"]).sort(descending=True).values
ax1.bar(range(settings["codes"]), counts)
ax1.set_xlabel("code (sorted by use)")
ax1.set_ylabel("patches of the test set")
ax1.set_title(f"codebook usage: perplexity {perplexity:.1f} of {settings['codes']}")
pair = torch.cat([x_test[:10], recon[:10]]).reshape(2, 10, 8, 8).permute(0, 2, 1, 3).reshape(16, 80)
ax2.imshow(pair, cmap="gray_r")
ax2.set_title("test digits (top) and their 16-token reconstructions")
ax2.set_xticks([])
ax2.set_yticks([])
fig.suptitle("How a 32-code book is used when each digit becomes 16 tokens")
fig.tight_layout()

# %%
# Sampling tokens autoregressively
# --------------------------------
# The MADE gives p(token_i | tokens before i) in raster order; sampling takes
# 16 passes, one per token, and the VQ decoder turns tokens into pixels.
tokens = made.sample(40, generator=torch.Generator().manual_seed(0))  # (40, 16)
with torch.no_grad():
    images = model.decode_tokens(tokens).clamp(-1, 1)
fig, ax = plt.subplots(figsize=(8, 3.4))
ax.imshow(images.reshape(4, 10, 8, 8).permute(0, 2, 1, 3).reshape(32, 80), cmap="gray_r")
ax.set_xticks([])
ax.set_yticks([])
ax.set_title("Digits sampled token by token from a MADE over VQ codes")
fig.tight_layout()
plt.show()
