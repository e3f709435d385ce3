"""
Mixture of experts: load with and without the balancing loss
============================================================

A router that sends a token to its two best experts learns from the task loss
alone which experts are good, and good experts get more tokens, which makes
them better still. The Switch Transformer's auxiliary loss
(:func:`fmref.nn.moe.load_balancing_loss`, :math:`E \\sum_i f_i P_i`, equal to 1
when the load is even) pushes back. We train :class:`fmref.nn.moe.MoE` (8
experts, top-2) to imitate a small random network on clustered inputs, once
without and once with the loss, and count the tokens each expert receives.
"""

# %%
# Train twice
# -----------
import matplotlib.pyplot as plt
import torch

from fmref.nn.moe import MoE
from fmref.train.loop import fit

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes

D, E, STEPS, TOKENS = 16, 8, 300, 256


def train(alpha, seed=0):
    torch.manual_seed(seed)
    moe = MoE(D, 32, n_experts=E, top_k=2)
    teacher = torch.nn.Sequential(torch.nn.Linear(D, 64), torch.nn.Tanh(), torch.nn.Linear(64, D))
    g = torch.Generator().manual_seed(seed)
    centers = 2 * torch.randn(8, D, generator=g)  # 8 clusters of inputs
    steps = []  # (router output, mse) of every step

    def batch(step):
        return centers[torch.randint(8, (TOKENS,), generator=g)] + 0.5 * torch.randn(
            TOKENS, D, generator=g
        )

    def loss_fn(moe, x):
        with torch.no_grad():
            y = teacher(x)
        out, info = moe(x)  # info: RouterOutput
        mse = (out - y).pow(2).mean()
        steps.append((info, mse))
        return mse + alpha * info.aux_loss

    fit(moe, batch, loss_fn, STEPS, lr=3e-3)  # Adam
    frac = [info.tokens_per_expert.float() / (2 * TOKENS) for info, _ in steps]  # fraction f_i
    info, mse = steps[-1]
    return torch.stack(frac), info, mse.item()


runs = {}
for alpha in (0.0, 0.01):
    frac, info, mse = train(alpha)
    runs[alpha] = (frac, info)
    print(
        f"alpha={alpha}: tokens per expert {info.tokens_per_expert.tolist()}, "
        f"balancing loss {info.aux_loss.item():.3f}, task MSE {mse:.4f}"
    )

# %%
# Load per expert
# ---------------
# Bars: the share of the last batch's 512 token-expert assignments that each
# expert received (an even split is 1/8). Lines: the smallest and largest
# share during training.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
width = 0.4
for i, (alpha, (frac, _info)) in enumerate(runs.items()):
    label = "no balancing loss" if alpha == 0 else f"balancing loss x {alpha}"
    axes[0].bar(torch.arange(E) + (i - 0.5) * width, frac[-1], width, label=label)
    axes[1].plot(frac.min(-1).values, color=f"C{i}", label=f"{label}: smallest share")
    axes[1].plot(
        frac.max(-1).values, color=f"C{i}", linestyle="--", label=f"{label}: largest share"
    )
for ax in axes:
    ax.axhline(1 / E, color="k", linewidth=0.8, linestyle=":")
axes[0].set_xlabel("expert")
axes[0].set_ylabel("share of assignments f_i")
axes[0].set_title("Last batch")
axes[0].legend(fontsize=8)
axes[1].set_xlabel("training step")
axes[1].set_ylabel("share of assignments")
axes[1].set_title("During training (dotted: even split 1/8)")
axes[1].legend(fontsize=7)
starved = {a: frac[-1].min().item() for a, (frac, _) in runs.items()}
fig.suptitle(
    f"The balancing loss keeps every expert busy: least-used share "
    f"{starved[0.0]:.1%} without it, {starved[0.01]:.1%} with it"
)
plt.show()
