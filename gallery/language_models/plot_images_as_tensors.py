"""
Images as tensors: channels, patches and a sliding filter
=========================================================

A picture is a grid of numbers. This example takes the small synthetic
picture of :func:`fmref.vision.sample_image` (no download), shows its three
colour channels as the ``(C, H, W)`` tensor a model receives, cuts it into the
16 patches of 16 x 16 pixels that a Vision Transformer would read as 16 tokens
(:func:`fmref.vision.patchify`), and slides a 3 x 3 edge detector over it
(:func:`fmref.vision.filter2d`), the operation a convolutional network is built
from.
"""

# %%
# Three channels
# --------------
import matplotlib.pyplot as plt
import torch

from fmref.vision import filter2d, normalize, patchify, sample_image, unpatchify

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

img = sample_image(64)  # (3, 64, 64), floats in [0, 1]
print("shape", tuple(img.shape), "dtype", img.dtype)
print("normalised channel means:", normalize(img).mean(dim=(1, 2)).tolist())

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
axes[0].imshow(img.permute(1, 2, 0))  # matplotlib wants (H, W, C)
axes[0].set_title("RGB picture")
for ax, c, name, cmap in zip(
    axes[1:], range(3), ["red", "green", "blue"], ["Reds", "Greens", "Blues"]
):
    ax.imshow(img[c], cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"channel {c}: {name}")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("A colour image is three (H, W) grids of intensities: a (3, H, W) tensor")
fig.tight_layout(rect=(0, 0, 1, 0.94))
plt.show()

# %%
# Sixteen patches, sixteen tokens
# -------------------------------
# ``patchify`` turns the batch ``(1, 3, 64, 64)`` into ``(1, 16, 768)``: 16
# vectors of 3 x 16 x 16 numbers, in row-major order. ``unpatchify`` puts them
# back exactly.
patches = patchify(img[None], 16)  # (1, 16, 768)
print("patches", tuple(patches.shape))
assert torch.equal(unpatchify(patches, 16, 64), img[None])
fig, axes = plt.subplots(4, 4, figsize=(4.6, 4.8))
for i, ax in enumerate(axes.flat):
    ax.imshow(patches[0, i].reshape(3, 16, 16).permute(1, 2, 0))
    ax.set_title(str(i), fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("patchify: 16 patches of 16 x 16 x 3 = 768 numbers each")
fig.tight_layout(rect=(0, 0, 1, 0.94))
plt.show()

# %%
# A filter slides over every position
# -----------------------------------
# The Sobel kernels respond to changes of brightness from left to right and
# from top to bottom; the same nine weights are applied at every position.
sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
grey = img.mean(dim=0)[None, None]  # (1, 1, 64, 64)
gx = filter2d(grey, sobel_x)[0, 0]  # (62, 62): no padding, no false edges at the border
gy = filter2d(grey, sobel_x.T)[0, 0]
edges = (gx**2 + gy**2).sqrt()
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, image, title in zip(
    axes, [gx, gy, edges], ["horizontal change", "vertical change", "edge strength"]
):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("One 3 x 3 kernel, slid over the image, finds its edges")
fig.tight_layout(rect=(0, 0, 1, 0.94))
plt.show()
