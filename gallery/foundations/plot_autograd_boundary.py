"""
A scalar autograd engine learns a decision boundary
===================================================

:class:`fmref.autograd.engine.MLP` is a two-hidden-layer perceptron whose every
number is a :class:`~fmref.autograd.engine.Value` that remembers how it was
computed. Calling ``backward()`` on the loss fills in every weight's gradient
by reverse-mode differentiation, and plain gradient descent does the rest. The
figure shows the two interleaved half-moons, the boundary a 2-16-1 network has
learned, and the loss falling step by step.
"""

# %%
# Two interleaved half-moons, labelled -1 and +1, with a little noise.
import math
import random

import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
rng = random.Random(0)
X, y = [], []
for i in range(40):
    t = math.pi * i / 39
    label = 1.0 if i % 2 else -1.0
    if label > 0:
        x0, x1 = math.cos(t), math.sin(t) - 0.25
    else:
        x0, x1 = 1 - math.cos(t), 0.25 - math.sin(t)
    X.append([x0 + rng.gauss(0, 0.1) - 0.5, x1 + rng.gauss(0, 0.1)])
    y.append(label)

# %%
# A 2-16-1 network (16 tanh units, a linear output) trained with a squared
# hinge loss and full-batch gradient descent. Every parameter is a ``Value``.
from fmref.autograd.engine import MLP

net = MLP(2, [16, 1], seed=0)
losses, accuracies = [], []
for _ in range(60):
    scores = [net(x)[0] for x in X]
    loss = sum(((1 - t * s).relu()) ** 2 for t, s in zip(y, scores)) / len(X)
    net.zero_grad()
    loss.backward()
    for p in net.parameters():
        p.data -= 0.5 * p.grad  # learning rate 0.5
    losses.append(loss.data)
    accuracies.append(sum((s.data > 0) == (t > 0) for s, t in zip(scores, y)) / len(y))
print(
    f"{len(net.parameters())} parameters; final loss {losses[-1]:.3f}, "
    f"accuracy {accuracies[-1]:.0%}"
)

# %%
# The learned boundary: the sign of the network's output over a grid.
xs = np.linspace(-1.8, 1.8, 36)
ys = np.linspace(-1.3, 1.3, 28)
Z = np.array([[net([float(a), float(b)])[0].data for a in xs] for b in ys])

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.contourf(xs, ys, Z, levels=[-100, 0, 100], colors=["#f4c7c3", "#c6dbef"], alpha=0.8)
ax0.contour(xs, ys, Z, levels=[0], colors="k", linewidths=1)
Xa = np.array(X)
ya = np.array(y)
ax0.scatter(Xa[ya > 0, 0], Xa[ya > 0, 1], c="tab:blue", s=18, label="+1")
ax0.scatter(Xa[ya < 0, 0], Xa[ya < 0, 1], c="tab:red", s=18, label="-1")
ax0.set(xlabel="$x_0$", ylabel="$x_1$", title="Boundary learned by the scalar engine")
ax0.legend(loc="lower right")
ax1.plot(losses, label="loss")
ax1.plot(accuracies, label="training accuracy")
ax1.set(
    xlabel="gradient-descent step",
    ylabel="value",
    title="Loss falls as backward() drives each step",
)
ax1.legend()
fig.tight_layout()
plt.show()
