"""
An image as a sequence of patches
=================================

A Vision Transformer never sees pixels one by one: it cuts the image into
non-overlapping ``P x P`` patches, flattens each, and projects it to a vector.
Here an 8x8 digit becomes sixteen 2x2 patches in raster order, plus the class
token that the model prepends. We also check that the strided convolution a ViT
uses for the projection is exactly a linear map applied to
:func:`~fmref.vision.patchify`'s output.
"""

# %%
# One digit, sixteen patches
# --------------------------
import matplotlib.pyplot as plt
import torch

from fmref.models.vit import ViT, ViTConfig, digits_split
from fmref.vision import patchify

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

x_train, y_train, _, _ = digits_split()
image = x_train[:1]  # (1, 1, 8, 8), pixels in [-1, 1]
patches = patchify(image, patch_size=2)  # (1, 16, 4)
print("image", tuple(image.shape), "-> patches", tuple(patches.shape))

fig = plt.figure(figsize=(9, 3.4))
ax = fig.add_subplot(1, 3, 1)
ax.imshow(image[0, 0], cmap="gray_r")
for k in range(1, 4):
    ax.axhline(2 * k - 0.5, color="tab:red", lw=1)
    ax.axvline(2 * k - 0.5, color="tab:red", lw=1)
ax.set_title(f"digit {y_train[0].item()} cut into 2x2 patches")
ax.set_xticks([])
ax.set_yticks([])
for i in range(16):
    sub = fig.add_subplot(4, 12, 12 * (i // 4) + 5 + i % 4)  # a 4x4 grid in the middle third
    sub.imshow(patches[0, i].reshape(2, 2), cmap="gray_r", vmin=-1, vmax=1)
    sub.set_xticks([])
    sub.set_yticks([])
    sub.set_title(str(i + 1), fontsize=7)
ax3 = fig.add_subplot(1, 3, 3)
ax3.imshow(torch.cat([torch.zeros(1, 4), patches[0]]).T, cmap="gray_r", aspect="auto")
ax3.set_xlabel("token (0 = class token, then patches 1-16)")
ax3.set_ylabel("pixel in patch")
ax3.set_title("the sequence a ViT reads")
fig.suptitle("A ViT reads an 8x8 digit as 16 tokens of 4 pixels each")
fig.tight_layout()

# %%
# The patch embedding is a linear map of each patch
# --------------------------------------------------
# A convolution with kernel = stride = ``P`` applies the same weights to each
# patch: flattening its weight gives the projection matrix.
model = ViT(
    ViTConfig(
        image_size=8,
        patch_size=2,
        num_channels=1,
        hidden_size=64,
        num_layers=1,
        num_heads=4,
        mlp_dim=128,
        num_classes=10,
    )
)
conv = model.patch_embed(image).flatten(2).transpose(1, 2)  # (1, 16, 64)
linear = patches @ model.patch_embed.weight.flatten(1).T + model.patch_embed.bias  # (1, 16, 64)
print("conv == linear on patches:", torch.allclose(conv, linear, atol=1e-6))

# %%
# Learned positions, seen by their similarity
# -------------------------------------------
# The sixteen patch tokens carry no information about where they came from until
# a position embedding is added. Untrained, the embeddings are random; after
# training on digits (the cached model of the next example) neighbouring patches
# have similar embeddings: the model has learned the 2-D grid from 1-D indices.
from fmref.zoo import digits_vit

trained, _ = digits_vit()
pos = trained.pos_embed[0, 1:].detach()  # (16, 64), class token dropped
sim = (
    torch.nn.functional.normalize(pos, dim=-1) @ torch.nn.functional.normalize(pos, dim=-1).T
)  # (16, 16)
fig, axes = plt.subplots(4, 4, figsize=(5.5, 5.5))
for i, ax in enumerate(axes.flat):
    ax.imshow(sim[i].reshape(4, 4), cmap="viridis", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"patch {i + 1}", fontsize=8)
fig.suptitle("Cosine similarity of each learned position\nto all the others, drawn on the 4x4 grid")
fig.tight_layout()
plt.show()
