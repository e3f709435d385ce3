"""
Optimiser trajectories on a valley-shaped loss
==============================================

The loss :math:`f(x, y) = 0.01\\,x^2 + y^2` is a long, narrow valley: a hundred
times steeper across (:math:`y`) than along (:math:`x`). Gradient descent,
momentum and Adam from :mod:`fmref.optim` start at the same point. The first
figure shows their paths: plain gradient descent zig-zags across the valley
and crawls along it, momentum builds up speed along the floor, and Adam
rescales each coordinate so that both move at a similar pace. The second
figure shows the loss of plain gradient descent for four learning rates: too
small, well chosen, at the edge of stability, and past it.
"""

# %%
# The loss and its gradient, computed by :mod:`torch.autograd`.
import matplotlib.pyplot as plt
import numpy as np
import torch

from fmref.optim import adam_step, sgd_step

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes


def loss_fn(w):
    return 0.01 * w[0] ** 2 + w[1] ** 2


def run(step_fn, steps=60, start=(-9.0, 1.5), **hp):
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    state, path, losses = {}, [w.detach().clone()], []
    for _ in range(steps):
        loss = loss_fn(w)
        (grad,) = torch.autograd.grad(loss, w)
        losses.append(loss.item())
        step_fn(w.data, grad, state, **hp)
        path.append(w.detach().clone())
    return torch.stack(path).numpy(), np.array(losses)


# %%
# Three optimisers, each with a learning rate that suits it.
runs = {
    "gradient descent, lr 0.9": run(sgd_step, lr=0.9),
    "momentum 0.9, lr 0.2": run(sgd_step, lr=0.2, momentum=0.9),
    "Adam, lr 0.5": run(adam_step, lr=0.5),
}
for name, (_, losses) in runs.items():
    print(f"{name:26s} loss after 60 steps: {losses[-1]:.2e}")

xs, ys = np.meshgrid(np.linspace(-10, 2, 200), np.linspace(-2, 2, 120))
fig, ax = plt.subplots(figsize=(9, 4))
ax.contour(xs, ys, 0.01 * xs**2 + ys**2, levels=np.geomspace(0.01, 8, 12), colors="0.75")
for name, (path, _) in runs.items():
    ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
ax.plot(0, 0, "k*", ms=10)
ax.set(
    xlabel="$x$ (shallow direction)",
    ylabel="$y$ (steep direction)",
    title="Momentum and Adam cross the valley floor; gradient descent zig-zags",
)
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# Learning rate: the steep direction has curvature 2, so gradient descent is
# stable only for :math:`\eta < 2/2 = 1`.
fig, ax = plt.subplots(figsize=(7, 4))
for lr in (0.05, 0.5, 0.98, 1.02):
    _, losses = run(sgd_step, lr=lr, steps=80)
    ax.semilogy(losses, label=f"lr = {lr}")
ax.set(
    xlabel="step",
    ylabel="loss (log scale)",
    ylim=(1e-4, 1e3),
    title="Too small crawls, too large diverges: stability needs lr < 1",
)
ax.legend()
fig.tight_layout()
plt.show()
