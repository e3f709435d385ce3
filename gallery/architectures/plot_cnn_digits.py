"""
A small CNN on scikit-learn's digits
====================================

A convolution slides one small kernel over every position of an image, so a
layer with 16 kernels of 3x3 pixels has only 160 parameters however large the
image is. We train :class:`fmref.nn.conv.SmallCNN`, whose convolutions are
:func:`fmref.nn.conv.conv2d` (unfold + one matrix product) and whose pooling is
:func:`fmref.nn.conv.max_pool2d`, on the 1,797 8x8 handwritten digits that ship
with scikit-learn, then show the test confusion matrix and the first layer's
kernels.
"""

# %%
# Data: 8x8 grey-scale digits
# ---------------------------
# The images ship with scikit-learn (no download). Pixel values run from 0 to
# 16; we scale them to [0, 1] and hold out a quarter for testing.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

from fmref.nn.conv import SmallCNN
from fmref.train.loop import fit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
torch.manual_seed(0)

digits = load_digits()
x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
y = torch.tensor(digits.target)
idx_train, idx_test = train_test_split(
    np.arange(len(y)), test_size=0.25, random_state=0, stratify=digits.target
)
x_train, y_train, x_test, y_test = x[idx_train], y[idx_train], x[idx_test], y[idx_test]
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")

# %%
# Train
# -----
# Two blocks of (3x3 convolution, ReLU, 2x2 max pooling) and a linear layer:
# 6,090 parameters. The training set is small enough to use whole: 60 steps of
# Adam on all 1,347 images at once (few large steps keep the run short).
model = SmallCNN()
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")


def loss_fn(model, batch):
    images, labels = batch
    return torch.nn.functional.cross_entropy(model(images), labels)


losses = fit(model, [(x_train, y_train)] * 60, loss_fn, 60, lr=1e-2)["loss"]  # Adam

model.eval()
with torch.no_grad():
    pred = model(x_test).argmax(-1)
accuracy = (pred == y_test).float().mean().item()
print(f"test accuracy: {accuracy:.1%}")

# %%
# Where it errs
# -------------
# The confusion matrix counts test images by true (rows) and predicted
# (columns) class; everything off the diagonal is a mistake.
cm = confusion_matrix(y_test.numpy(), pred.numpy())
fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
ax.imshow(cm, cmap="Blues")
for i in range(10):
    for j in range(10):
        if cm[i, j]:
            ax.text(
                j,
                i,
                cm[i, j],
                ha="center",
                va="center",
                fontsize=8,
                color="white" if cm[i, j] > cm.max() / 2 else "black",
            )
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_title(f"A 6,090-parameter CNN reaches {accuracy:.1%} on held-out digits")

# %%
# What the first layer learned
# ----------------------------
# Each 3x3 kernel of the first layer is shared by all 64 positions of the
# image. Many look like small edge and stroke detectors.
w = model.conv1.weight.detach()[:, 0]  # (16, 3, 3)
fig, axes = plt.subplots(2, 8, figsize=(8, 2.4), layout="constrained")
for ax, kernel in zip(axes.flat, w):
    ax.imshow(kernel, cmap="RdBu_r", vmin=-w.abs().max(), vmax=w.abs().max())
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(
    "The 16 first-layer kernels (red positive, blue negative): one 3x3 detector per channel"
)
plt.show()
