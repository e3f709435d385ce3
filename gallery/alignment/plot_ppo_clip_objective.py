"""
The PPO-clip objective surface
==============================

PPO maximises :math:`\\min(\\rho A, \\operatorname{clip}(\\rho, 1-\\epsilon, 1+\\epsilon) A)`
for each sampled token, where :math:`\\rho` is the ratio of the token's
probability under the new and the old policy and :math:`A` its advantage. We
evaluate the objective with :func:`~fmref.align.ppo.ppo_clip_loss` (which
returns its negative) on a grid of ratios, for a positive and a negative
advantage, and compare it with the unclipped surrogate :math:`\\rho A`. The
flat parts are where the gradient is zero: there the policy gains nothing by
moving further from the one that sampled the data.
"""

# %%
# The objective on a grid of ratios
# ---------------------------------
import matplotlib.pyplot as plt
import torch

from fmref.align.ppo import ppo_clip_loss

torch.set_num_threads(1)
EPS = 0.2
ratio = torch.linspace(0.0, 2.0, 401)
logp_old = torch.zeros(1)
objective = {}
slope = {}
for adv in (1.0, -1.0):
    values, grads = [], []
    for r in ratio.tolist():
        logp_new = torch.tensor([r]).clamp_min(1e-9).log().requires_grad_(True)
        loss = ppo_clip_loss(logp_new, logp_old, torch.tensor([adv]), clip_eps=EPS)
        loss.backward()
        values.append(-loss.item())  # the objective is the negated loss
        grads.append(-logp_new.grad.item())
    objective[adv], slope[adv] = torch.tensor(values), torch.tensor(grads)
    flat = (slope[adv] == 0).float().mean().item()
    print(f"A = {adv:+.0f}: gradient zero on {flat:.0%} of the ratios in [0, 2]")

# %%
# The figure
# ----------
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
for ax, adv in zip(axes, (1.0, -1.0)):
    ax.plot(ratio, ratio * adv, "--", color="grey", label=r"unclipped $\rho A$")
    ax.plot(
        ratio,
        objective[adv],
        color="C0" if adv > 0 else "C3",
        lw=2,
        label=r"$\min(\rho A, \mathrm{clip}(\rho, 1 \pm \epsilon) A)$",
    )
    for edge in (1 - EPS, 1 + EPS):
        ax.axvline(edge, color="k", lw=0.6, ls=":")
    ax.set_xlabel(r"probability ratio $\rho = \pi_\theta / \pi_{old}$")
    ax.set_ylabel("surrogate objective")
    side = "above" if adv > 0 else "below"
    ax.set_title(f"advantage A = {adv:+.0f}: flat {side} $\\rho$ = {1 + EPS * adv:.1f}")
    ax.legend(loc="upper left" if adv > 0 else "lower left", fontsize=8)
fig.suptitle(
    r"PPO-clip stops rewarding a ratio that has moved past $1 \pm \epsilon$ "
    r"in the favoured direction ($\epsilon$ = 0.2)"
)
fig.tight_layout()
plt.show()
