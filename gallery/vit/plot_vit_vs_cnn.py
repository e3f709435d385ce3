"""
ViT versus CNN on small data
============================

The CNN of :ref:`chapter-03` builds in two assumptions about images: nearby
pixels matter together (small kernels) and a pattern means the same thing
wherever it appears (weight sharing, pooling). A ViT assumes neither; it must
learn from data that neighbouring patches are related. On a data set as small
as scikit-learn's digits (1,347 training images) that difference shows in the
learning curves: both are trained with the same optimiser, schedule and epochs
on the same stratified split, and we print their final test accuracies.
"""

# %%
# The two models
# --------------
import matplotlib.pyplot as plt
import torch

from fmref.zoo import digits_cnn, digits_vit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

vit, vit_history = digits_vit()  # trained once, then loaded from the cache
print(f"ViT parameters: {vit.num_parameters():,}")
cnn, cnn_history = digits_cnn()  # the SmallCNN of Chapter III, same optimiser and epochs
print(f"CNN parameters: {sum(p.numel() for p in cnn.parameters()):,}")

# %%
# Learning curves
# ---------------
epochs = range(1, len(vit_history["test_accuracy"]) + 1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
ax1.plot(epochs, vit_history["train_loss"], label="ViT")
ax1.plot(epochs, cnn_history["train_loss"], label="CNN")
ax1.set_yscale("log")
ax1.set_xlabel("epoch")
ax1.set_ylabel("training loss (cross-entropy)")
ax1.legend()
ax2.plot(epochs, vit_history["test_accuracy"], label="ViT")
ax2.plot(epochs, cnn_history["test_accuracy"], label="CNN")
ax2.set_ylim(0.5, 1.0)
ax2.set_xlabel("epoch")
ax2.set_ylabel("test accuracy (450 images)")
ax2.legend()
fig.suptitle("On 1,347 digits the CNN's built-in locality learns faster than the ViT")
fig.tight_layout()

vit_acc, cnn_acc = vit_history["test_accuracy"][-1], cnn_history["test_accuracy"][-1]
print(f"final test accuracy: ViT {vit_acc:.3f}, CNN {cnn_acc:.3f}")
plt.show()
