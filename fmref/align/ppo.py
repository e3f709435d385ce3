r"""PPO for language models: advantages, the clipped surrogate and the KL penalty.

RLHF with PPO treats generation as an episode: the state is the prompt and the
tokens so far, an action is the next token, and the reward model scores the
finished answer. Each token's reward is a KL penalty that keeps the policy near
the reference (SFT) model, plus, on the last token, the reward model's score:

.. math:: r_t = -\beta\, \widehat{\mathrm{KL}}_t + [t = T]\, r_\phi(x, y).

A value model estimates how much reward is still to come; :func:`gae` turns
rewards and values into advantages, and :func:`ppo_clip_loss` takes a policy
step that cannot profit from moving the probability ratio far from 1.

References
----------
.. [1] Schulman et al., "High-Dimensional Continuous Control Using Generalized
   Advantage Estimation", ICLR 2016.
.. [2] Schulman et al., "Proximal Policy Optimization Algorithms", 2017.
.. [3] Ouyang et al., "Training Language Models to Follow Instructions with
   Human Feedback", NeurIPS 2022.
"""

from __future__ import annotations

import torch

from fmref._validate import check_positive, check_probability

__all__ = ["gae", "ppo_clip_loss", "kl_penalty", "KL_ESTIMATORS"]

#: Per-token KL estimators of :func:`kl_penalty` (Schulman's names).
KL_ESTIMATORS = ("k1", "k2", "k3")


def _float(name, t):
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        kind = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
        raise TypeError(f"{name} must be a floating-point tensor, got {kind}")


def gae(rewards, values, gamma=1.0, lam=0.95):
    r"""Generalised advantage estimation over the last axis.

    With the temporal-difference residuals
    :math:`\delta_t = r_t + \gamma V_{t+1} - V_t`, the advantage is their
    exponentially weighted sum and the return is the value target:

    .. math:: \hat A_t = \sum_{l=0}^{T-1-t} (\gamma\lambda)^l \delta_{t+l}, \qquad
       \hat R_t = \hat A_t + V_t.

    ``lam = 0`` gives the one-step TD advantage :math:`\delta_t` (low variance,
    biased by the value model); ``lam = 1`` gives the Monte-Carlo return minus
    :math:`V_t` (unbiased, high variance). The sum is computed for all
    :math:`t` at once as ``delta @ M`` with the upper-triangular matrix
    :math:`M_{kt} = (\gamma\lambda)^{k-t}` for :math:`k \ge t` (``T²`` memory;
    the usual backward loop is in the tests and gives the same numbers). The
    inputs are detached: advantages and returns are targets, not paths for
    gradients.

    Parameters
    ----------
    rewards : torch.Tensor
        ``(..., T)`` rewards of one episode per leading index.
    values : torch.Tensor
        ``(..., T + 1)`` value estimates of the states before each action; the
        last is the bootstrap value of the state after the episode (0 if it is
        terminal, as at the end of an answer).
    gamma : float, default 1.0
        Discount in ``[0, 1]`` (1 for language: an answer is short).
    lam : float, default 0.95
        GAE's :math:`\lambda` in ``[0, 1]``.

    Returns
    -------
    advantages : torch.Tensor
        ``(..., T)``.
    returns : torch.Tensor
        ``(..., T)``, ``advantages + values[..., :-1]``: the value model's targets.

    Raises
    ------
    TypeError
        If an input is not a floating-point tensor.
    ValueError
        If ``values`` is not ``rewards.shape[:-1] + (T + 1,)``, ``T < 1``, or
        ``gamma`` or ``lam`` is outside ``[0, 1]``.

    References
    ----------
    .. [1] Schulman et al., "High-Dimensional Continuous Control Using
       Generalized Advantage Estimation", ICLR 2016, Equation 16.

    Examples
    --------
    >>> import torch
    >>> from fmref.align.ppo import gae
    >>> rewards = torch.tensor([0.0, 0.0, 1.0])  # the score comes at the end
    >>> values = torch.tensor([0.5, 0.5, 0.5, 0.0])  # terminal: bootstrap 0
    >>> adv, ret = gae(rewards, values, gamma=1.0, lam=1.0)
    >>> adv.tolist(), ret.tolist()  # lam = 1: return 1 minus the value 0.5
    ([0.5, 0.5, 0.5], [1.0, 1.0, 1.0])
    >>> adv, ret = gae(rewards, values, gamma=1.0, lam=0.0)
    >>> adv.tolist()  # lam = 0: one-step TD errors
    [0.0, 0.0, 0.5]
    """
    _float("rewards", rewards)
    _float("values", values)
    if rewards.dim() < 1 or rewards.shape[-1] < 1:
        raise ValueError(
            f"rewards must have shape (..., T) with T >= 1, got {tuple(rewards.shape)}"
        )
    T = rewards.shape[-1]
    if values.shape != rewards.shape[:-1] + (T + 1,):
        raise ValueError(
            f"values must have shape {tuple(rewards.shape[:-1]) + (T + 1,)} (rewards' shape with "
            f"one more step for the bootstrap value), got {tuple(values.shape)}"
        )
    check_probability("gamma", gamma)
    check_probability("lam", lam)
    rewards, values = rewards.detach(), values.detach()
    delta = rewards + gamma * values[..., 1:] - values[..., :-1]  # (..., T) TD residuals
    k = torch.arange(T, device=rewards.device)
    lag = k[:, None] - k[None, :]  # (T, T): lag[k, t] = k - t
    decay = torch.tensor(gamma * lam, dtype=rewards.dtype, device=rewards.device)
    M = torch.where(lag >= 0, decay ** lag.clamp(min=0), torch.zeros((), dtype=rewards.dtype))
    advantages = delta @ M  # (..., T): A_t = sum_k delta_k (gamma lam)^(k - t)
    return advantages, advantages + values[..., :-1]


def ppo_clip_loss(logp_new, logp_old, advantages, clip_eps=0.2):
    r"""PPO's clipped surrogate objective, negated and averaged: a loss to minimise.

    With the probability ratio :math:`\rho = \pi_\theta(a)/\pi_{\text{old}}(a)`,

    .. math:: \mathcal{L} = -\operatorname{mean}\Big[\min\big(\rho \hat A,\,
       \operatorname{clip}(\rho, 1 - \epsilon, 1 + \epsilon)\, \hat A\big)\Big].

    The minimum makes the objective a pessimistic bound: once the ratio has
    moved more than :math:`\epsilon` in the direction the advantage favours,
    the gradient is zero, so several epochs on the same samples cannot push
    the policy far from the one that generated them. Moves in the unfavoured
    direction are never clipped.

    Parameters
    ----------
    logp_new : torch.Tensor
        Log-probabilities of the taken actions (tokens) under the current policy; any shape.
    logp_old : torch.Tensor
        The same under the policy that sampled them; same shape; detached here.
    advantages : torch.Tensor
        Advantage estimates, same shape (e.g. from :func:`gae`); detached here.
    clip_eps : float, default 0.2
        :math:`\epsilon > 0`.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    TypeError
        If an input is not a floating-point tensor.
    ValueError
        If the shapes differ or ``clip_eps <= 0``.

    References
    ----------
    .. [1] Schulman et al., "Proximal Policy Optimization Algorithms", 2017, Equation 7.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.ppo import ppo_clip_loss
    >>> old = torch.zeros(2)
    >>> new = torch.tensor([math.log(1.5), math.log(1.5)])  # ratio 1.5 on both
    >>> adv = torch.tensor([1.0, -1.0])
    >>> round(ppo_clip_loss(new, old, adv).item(), 4)  # -(min(1.5, 1.2) + min(-1.5, -1.2)) / 2
    0.15
    """
    _float("logp_new", logp_new)
    _float("logp_old", logp_old)
    _float("advantages", advantages)
    for name, t in (("logp_old", logp_old), ("advantages", advantages)):
        if t.shape != logp_new.shape:
            raise ValueError(
                f"{name} must have the shape of logp_new {tuple(logp_new.shape)}, "
                f"got {tuple(t.shape)}"
            )
    check_positive("clip_eps", clip_eps)
    advantages = advantages.detach()
    ratio = torch.exp(logp_new - logp_old.detach())
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * advantages
    return -torch.minimum(unclipped, clipped).mean()


def kl_penalty(logp, logp_ref, estimator="k1"):
    r"""Per-token estimate of :math:`\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})` from sampled tokens.

    The tokens were sampled from :math:`\pi`; with
    :math:`r = \pi_{\text{ref}}(a) / \pi(a)` John Schulman's three estimators are

    ================ ==================================== ============ ============
    name             value                                unbiased     always ≥ 0
    ================ ==================================== ============ ============
    ``"k1"``         :math:`-\log r`                      yes          no
    ``"k2"``         :math:`\tfrac12 (\log r)^2`          no           yes
    ``"k3"``         :math:`(r - 1) - \log r`             yes          yes
    ================ ==================================== ============ ============

    ``k1`` is the log-ratio InstructGPT subtracts from the reward: unbiased,
    but negative for many samples, so its variance is high. ``k3`` adds
    :math:`r - 1`, whose expectation under :math:`\pi` is zero, which keeps it
    unbiased and makes it non-negative (:math:`\log r \le r - 1`); GRPO uses it.
    ``k2`` is low-variance and biased (its bias is third order in the log-ratio).

    Parameters
    ----------
    logp : torch.Tensor
        Log-probabilities of the sampled tokens under the policy; any shape.
    logp_ref : torch.Tensor
        The same under the reference model; same shape.
    estimator : {"k1", "k2", "k3"}, default "k1"

    Returns
    -------
    torch.Tensor
        Per-token estimates, the shape of ``logp``; average or sum them as the
        algorithm requires.

    Raises
    ------
    TypeError
        If an input is not a floating-point tensor.
    ValueError
        If the shapes differ or ``estimator`` is unknown.

    References
    ----------
    .. [1] Schulman, "Approximating KL Divergence", blog post, 2020,
       http://joschu.net/blog/kl-approx.html.
    .. [2] Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical
       Reasoning in Open Language Models", 2024, Equation 4.

    Examples
    --------
    >>> import torch
    >>> from fmref.align.ppo import kl_penalty
    >>> logp, logp_ref = torch.tensor([-1.0, -2.0]), torch.tensor([-2.0, -1.0])
    >>> kl_penalty(logp, logp_ref, "k1").tolist()
    [1.0, -1.0]
    >>> [round(v, 4) for v in kl_penalty(logp, logp_ref, "k3").tolist()]  # e^-1 - 1 + 1, e - 1 - 1
    [0.3679, 0.7183]
    """
    _float("logp", logp)
    _float("logp_ref", logp_ref)
    if logp_ref.shape != logp.shape:
        raise ValueError(
            f"logp_ref must have the shape of logp {tuple(logp.shape)}, got {tuple(logp_ref.shape)}"
        )
    log_r = logp_ref - logp  # log(pi_ref / pi)
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        return 0.5 * log_r**2
    if estimator == "k3":
        return torch.expm1(log_r) - log_r
    raise ValueError(f"estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")
