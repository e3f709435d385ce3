"""
Where the class token looks
===========================

The class token has no pixels of its own: everything it knows at the end it
gathered by attending to the patch tokens. Row 0 of each attention map says how
much it took from each patch. We draw those weights over test digits for the
cached ViT of :ref:`chapter-16`, per layer and averaged over heads, and combine
the layers with *attention rollout* (Abnar and Zuidema, 2020), which multiplies
the maps of successive layers (plus the residual identity) to estimate how much
each input patch reaches the class token in the end.
"""

# %%
# Attention maps of the trained ViT
# ---------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.models.vit import digits_split
from fmref.zoo import digits_vit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

model, history = digits_vit()
_, _, x_test, y_test = digits_split()
images = x_test[:6]  # (6, 1, 8, 8)
maps = model.attention_maps(images)  # (layers, B, heads, 17, 17)
print("attention maps:", tuple(maps.shape))
mean_maps = maps.mean(2)  # (layers, B, 17, 17), averaged over heads

# %%
# Attention rollout: ``R = prod_l (0.5 * A_l + 0.5 * I)``, rows renormalised.
eye = torch.eye(mean_maps.shape[-1])
rollout = eye.expand(images.shape[0], -1, -1)
for layer in range(mean_maps.shape[0]):
    a = 0.5 * mean_maps[layer] + 0.5 * eye
    rollout = (a / a.sum(-1, keepdim=True)) @ rollout

n_layers = mean_maps.shape[0]
fig, axes = plt.subplots(
    images.shape[0], n_layers + 2, figsize=(1.7 * (n_layers + 2), 1.7 * images.shape[0])
)
for b in range(images.shape[0]):
    axes[b, 0].imshow(images[b, 0], cmap="gray_r")
    axes[b, 0].set_ylabel(f"digit {y_test[b].item()}")
    for layer in range(n_layers):
        axes[b, layer + 1].imshow(mean_maps[layer, b, 0, 1:].reshape(4, 4), cmap="magma")
    axes[b, -1].imshow(rollout[b, 0, 1:].reshape(4, 4), cmap="magma")
for layer in range(n_layers):
    axes[0, layer + 1].set_title(f"layer {layer + 1}")
axes[0, 0].set_title("input")
axes[0, -1].set_title("rollout")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Where the class token reads from, per layer and rolled out over the layers")
fig.tight_layout()
plt.show()
