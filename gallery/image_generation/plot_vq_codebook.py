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

import fmref.zoo
from fmref.generative.vq import DIGITS_PATCH_VQAE_SETTINGS, codebook_usage
from fmref.models.vit import digits_split

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

x_test = digits_split()[2]  # the 450 held-out digits
settings = DIGITS_PATCH_VQAE_SETTINGS  # 32 codes of 8 dimensions, 1,500 Adam steps
# Trained once and cached: fmref.generative.vq.digits_patch_vqae (PatchVQAE, then the MADE).
model, made = fmref.zoo.get("digits-patch-vqae").load()

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
