"""
DeepSeek-V3's expert balancing: a bias instead of a loss
========================================================

DeepSeek-V3 keeps its experts evenly loaded without an auxiliary loss: each
routed expert has a bias that is added to its affinity only to *choose* the
experts, and after every step the bias of an overloaded expert is lowered by
:math:`\\gamma` and that of an underloaded one raised
(:func:`fmref.nn.moe.update_routing_bias`). We train
:class:`fmref.nn.moe.DeepSeekMoE` (16 routed experts, top-2, one shared
expert, sigmoid routing) to imitate a small random network on clustered inputs
three times: with no balancing, with the complementary balance loss, and with
the bias, and compare the load of the experts and the fit.
"""

# %%
# Train three times
# -----------------
import matplotlib.pyplot as plt
import torch

from fmref.nn.moe import DeepSeekMoE
from fmref.train.loop import fit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

D, E, K, STEPS, TOKENS = 16, 16, 2, 200, 256
GAMMA = 0.01  # bias step (DeepSeek-V3 uses 0.001 over a far longer run)


def train(method, seed=0):
    torch.manual_seed(seed)
    moe = DeepSeekMoE(D, 16, n_routed_experts=E, top_k=K, n_shared_experts=1)
    teacher = torch.nn.Sequential(torch.nn.Linear(D, 64), torch.nn.Tanh(), torch.nn.Linear(64, D))
    g = torch.Generator().manual_seed(seed)
    centers = 2 * torch.randn(8, D, generator=g)  # 8 clusters of inputs
    shares, errors = [], []

    def batch(step):
        pick = torch.randint(8, (TOKENS,), generator=g)
        return centers[pick] + 0.5 * torch.randn(TOKENS, D, generator=g)

    def loss_fn(moe, x):
        with torch.no_grad():
            y = teacher(x)
        out, info = moe(x)  # info: RouterOutput
        mse = (out - y).pow(2).mean()
        shares.append(info.tokens_per_expert.float() / (K * TOKENS))
        errors.append(mse.item())
        return mse + (1e-2 * info.aux_loss if method == "balance loss" else 0.0)

    def after_step(moe):
        if method == "bias":
            moe.update_bias(GAMMA)

    fit(moe, batch, loss_fn, STEPS, lr=3e-3, after_step=after_step)
    return torch.stack(shares), errors


runs = {method: train(method) for method in ("none", "balance loss", "bias")}
for method, (shares, errors) in runs.items():
    last = shares[-20:].mean(0)  # the last 20 steps
    print(
        f"{method:13s} largest share {last.max():.3f} (even: {1 / E:.3f}), "
        f"experts under 1/4 of even: {int((last < 0.25 / E).sum())}, "
        f"final MSE {sum(errors[-20:]) / 20:.4f}"
    )

# %%
# Load of the experts
# -------------------
# Left: the share of the assignments of the last 20 steps that each expert
# received, sorted. Right: the largest share per step.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for i, (method, (shares, _)) in enumerate(runs.items()):
    last = shares[-20:].mean(0).sort(descending=True).values
    axes[0].plot(range(1, E + 1), last, marker="o", color=f"C{i}", label=method)
    axes[1].plot(shares.max(-1).values, color=f"C{i}", label=method)
for ax in axes:
    ax.axhline(1 / E, color="k", linewidth=0.8, linestyle=":")
axes[0].set(xlabel="expert (sorted by load)", ylabel="share of assignments",
            title="Load per expert, last 20 steps")  # fmt: skip
axes[1].set(xlabel="training step", ylabel="largest share",
            title="The bias evens the load without a loss term")  # fmt: skip
axes[0].legend()
axes[1].legend()
plt.show()
