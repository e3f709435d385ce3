"""
Over-fitting and regularisation on a small regression problem
=============================================================

Fifteen noisy samples of a sine are fitted by polynomials of growing degree.
The training error keeps falling as the model gains capacity, but the error on
fresh samples from the same curve falls, then rises again: the model has
begun to fit the noise. The second panel keeps the most flexible model and
adds weight decay (an L2 penalty :math:`\\lambda \\lVert w \\rVert^2`): a little
decay restores generalisation, too much makes the model too stiff to fit
anything.
"""

# %%
# Data: 15 training points and 200 validation points from the same noisy sine.
import matplotlib.pyplot as plt
import torch

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
g = torch.Generator().manual_seed(0)


def sample(n):
    x = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.sin(3 * x) + 0.2 * torch.randn(n, generator=g, dtype=torch.float64)


x_train, y_train = sample(15)
x_val, y_val = sample(200)


def features(x, degree):
    return torch.stack([x**k for k in range(degree + 1)], dim=1)  # (N, degree + 1)


def fit(degree, weight_decay=0.0):
    """Ridge regression in closed form: (X^T X + n lambda I) w = X^T y."""
    X = features(x_train, degree)
    A = X.T @ X + len(x_train) * weight_decay * torch.eye(degree + 1, dtype=X.dtype)
    return torch.linalg.solve(A, X.T @ y_train)


def mse(w, x, y):
    return float(((features(x, len(w) - 1) @ w - y) ** 2).mean())


# %%
# Error against capacity, then against weight decay at degree 12.
degrees = list(range(0, 13))
train_err = [mse(fit(d), x_train, y_train) for d in degrees]
val_err = [mse(fit(d), x_val, y_val) for d in degrees]
decays = torch.logspace(-9, 1, 30, dtype=torch.float64).tolist()
train_wd = [mse(fit(12, wd), x_train, y_train) for wd in decays]
val_wd = [mse(fit(12, wd), x_val, y_val) for wd in decays]
best = min(range(len(decays)), key=val_wd.__getitem__)
print(
    f"best degree {degrees[val_err.index(min(val_err))]}; "
    f"degree 12: validation MSE {val_err[-1]:.3f} without decay, "
    f"{val_wd[best]:.3f} with lambda = {decays[best]:.1e}"
)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.semilogy(degrees, train_err, "o-", label="training")
ax0.semilogy(degrees, val_err, "s-", label="validation")
ax0.set(
    xlabel="polynomial degree (capacity)",
    ylabel="mean squared error",
    title="More capacity: training error falls, validation rises",
)
ax0.legend()
ax1.loglog(decays, train_wd, "o-", ms=3, label="training")
ax1.loglog(decays, val_wd, "s-", ms=3, label="validation")
ax1.set(
    xlabel="weight decay $\\lambda$ (degree 12)",
    ylabel="mean squared error",
    title="A little weight decay restores generalisation",
)
ax1.legend()
fig.tight_layout()
plt.show()
