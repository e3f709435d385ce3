r"""GRPO: advantages normalised within a group of answers to the same prompt.

PPO needs a value model as large as the policy to tell a good answer from a
lucky one. Group Relative Policy Optimisation samples :math:`G` answers per
prompt and uses the group as the baseline: an answer's advantage is how many
standard deviations its reward lies above the group's mean. Every token of
the answer gets that advantage; the clipped surrogate of PPO
(:func:`fmref.align.ppo.ppo_clip_loss`) and a ``k3`` KL penalty
(:func:`fmref.align.ppo.kl_penalty`) complete the objective
(:func:`grpo_loss`).
"""

from __future__ import annotations

import torch

from fmref._validate import check_int, check_number, check_tensor
from fmref.align.ppo import kl_penalty, ppo_clip_loss

__all__ = ["grpo_advantages", "grpo_loss", "GRPO_EPS"]

#: Added to the group's standard deviation, as in TRL's ``GRPOTrainer``, so that
#: a group whose rewards are all equal gets advantages 0 instead of 0/0.
GRPO_EPS = 1e-4


def grpo_advantages(rewards, group_size):
    r"""Group-normalised advantages of DeepSeekMath's outcome supervision.

    .. math:: \hat A_i = \frac{r_i - \operatorname{mean}(r_{1..G})}
       {\operatorname{std}(r_{1..G}) + \epsilon}

    The rewards of one prompt's :math:`G` answers are consecutive. The paper
    writes :math:`\operatorname{std}` without saying which; we use the
    *sample* standard deviation (Bessel's :math:`G - 1`), as TRL's
    ``GRPOTrainer`` does (``torch.std``), so advantages computed here match
    that widely used implementation. The population version is smaller by
    :math:`\sqrt{(G-1)/G}`, a constant rescaling of every advantage (the
    learning rate absorbs it). :math:`\epsilon` is :data:`GRPO_EPS`.

    Parameters
    ----------
    rewards : torch.Tensor
        ``(N,)`` one reward per answer, ``N = prompts * group_size``, grouped
        consecutively.
    group_size : int
        Answers per prompt :math:`G \ge 2`.

    Returns
    -------
    torch.Tensor
        ``(N,)`` advantages; each group has mean 0.

    Raises
    ------
    TypeError
        If ``rewards`` is not a floating-point tensor.
    ValueError
        If ``rewards`` is not 1-D, ``group_size < 2`` or does not divide ``N``.

    References
    ----------
    .. [1] Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical
       Reasoning in Open Language Models", 2024, Section 4.1.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.align.grpo import grpo_advantages
    >>> rewards = torch.tensor([1.0, 0.0, 0.0, 0.0,   1.0, 1.0, 1.0, 1.0])  # 2 prompts, G = 4
    >>> [round(a, 3) for a in grpo_advantages(rewards, 4).tolist()]  # std of 1,0,0,0 is 0.5
    [1.5, -0.5, -0.5, -0.5, 0.0, 0.0, 0.0, 0.0]
    """
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        kind = rewards.dtype if isinstance(rewards, torch.Tensor) else type(rewards).__name__
        raise TypeError(f"rewards must be a floating-point tensor, got {kind}")
    if rewards.dim() != 1:
        raise ValueError(f"rewards must have shape (N,), got {tuple(rewards.shape)}")
    check_int("group_size", group_size, low=2)
    if rewards.shape[0] % group_size:
        raise ValueError(
            f"group_size must divide the number of rewards {rewards.shape[0]}, got {group_size}"
        )
    groups = rewards.view(-1, group_size)  # (prompts, G)
    mean = groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True)  # sample std (G - 1), as TRL
    return ((groups - mean) / (std + GRPO_EPS)).reshape(-1)


def grpo_loss(logp, logp_old, advantages, mask, logp_ref=None, clip_eps=0.2, kl_coef=0.04):
    r"""GRPO's objective over a batch of answers, negated: a loss to minimise.

    DeepSeekMath's Equation 3, with the per-answer mean of the paper:

    .. math:: \mathcal{L} = -\frac{1}{N} \sum_{i=1}^{N} \frac{1}{|o_i|}
       \sum_{t=1}^{|o_i|} \Big[\min\big(\rho_{i,t} \hat A_i,\,
       \operatorname{clip}(\rho_{i,t}, 1 - \epsilon, 1 + \epsilon)\, \hat A_i\big)
       - \beta\, \widehat{\mathrm{KL}}_{i,t}\Big]

    with :math:`\rho_{i,t} = \pi_\theta(o_{i,t}) / \pi_{\text{old}}(o_{i,t})`,
    the answer's advantage :math:`\hat A_i` on each of its tokens
    (:func:`grpo_advantages`) and the ``k3`` estimate of the KL to the reference
    model (:func:`fmref.align.ppo.kl_penalty`). The clipped term is
    :func:`fmref.align.ppo.ppo_clip_loss` with each token's advantage weighted by
    :math:`1 / |o_i|` (the minimum is positively homogeneous in :math:`\hat A`,
    so a positive weight passes through it). With one update per batch of
    samples, :math:`\pi_{\text{old}} = \pi_\theta` and :math:`\rho = 1`: the
    gradient is then the policy gradient :math:`-\frac1N \sum_i \frac{\hat
    A_i}{|o_i|} \sum_t \nabla \log \pi_\theta(o_{i,t})` plus the KL term's.

    The :math:`1/|o_i|` weight makes a long answer's tokens count less each: a
    wrong answer (:math:`\hat A_i < 0`) is penalised less per token the longer
    it is. Liu et al. (2025) name this a length bias of GRPO and drop the
    weight ("Dr. GRPO"); it is kept here as the paper has it.

    Parameters
    ----------
    logp : torch.Tensor
        ``(N, T)`` log-probabilities of the sampled tokens under the policy being trained.
    logp_old : torch.Tensor
        ``(N, T)`` the same under the policy that sampled them (detached here).
    advantages : torch.Tensor
        ``(N,)`` one advantage per answer.
    mask : torch.Tensor
        ``(N, T)`` bool, True on the answer's tokens (at least one per row).
    logp_ref : torch.Tensor, optional
        ``(N, T)`` under the frozen reference model; needed when ``kl_coef > 0``.
    clip_eps : float, default 0.2
        PPO's :math:`\epsilon`.
    kl_coef : float, default 0.04
        :math:`\beta \ge 0`, DeepSeekMath's value.

    Returns
    -------
    torch.Tensor
        Scalar loss, differentiable with respect to ``logp``.

    Raises
    ------
    TypeError
        If ``logp``, ``logp_old``, ``logp_ref`` or ``advantages`` is not a floating-point
        tensor, or ``mask`` not a boolean one.
    ValueError
        If the shapes disagree, a row of ``mask`` is empty, ``kl_coef < 0``, or
        ``logp_ref`` is missing while ``kl_coef > 0``.

    References
    ----------
    .. [1] Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical
       Reasoning in Open Language Models", 2024, Equation 3.
    .. [2] Liu et al., "Understanding R1-Zero-Like Training: A Critical
       Perspective", 2025.

    Examples
    --------
    Two answers of one and three tokens, on-policy (ratio 1), no KL term: the
    loss is minus the mean advantage, and each answer token's gradient is
    :math:`-\hat A_i / (N |o_i|)`:

    >>> import torch
    >>> from fmref.align.grpo import grpo_loss
    >>> logp = torch.tensor([[-1.0, 0.0, 0.0], [-2.0, -1.0, -0.5]], requires_grad=True)
    >>> mask = torch.tensor([[True, False, False], [True, True, True]])
    >>> loss = grpo_loss(logp, logp.detach(), torch.tensor([1.0, -0.5]), mask, kl_coef=0.0)
    >>> loss.backward()
    >>> round(loss.item(), 4), [round(g, 4) for g in logp.grad[mask].tolist()]
    (-0.25, [-0.5, 0.0833, 0.0833, 0.0833])
    """
    check_tensor("logp", logp, dtype="float", ndim=2, shape="(N, T)")
    for name, t in (("logp_old", logp_old), ("logp_ref", logp_ref)):
        if t is not None:
            check_tensor(name, t, dtype="float")
            if t.shape != logp.shape:
                raise ValueError(f"{name} must have the shape of logp {tuple(logp.shape)}, "
                                 f"got {tuple(t.shape)}")
    check_tensor("advantages", advantages, dtype="float", ndim=1, shape="(N,)")
    check_tensor("mask", mask, dtype="bool")
    if advantages.shape[0] != logp.shape[0] or mask.shape != logp.shape:
        raise ValueError(f"advantages must be ({logp.shape[0]},) and mask {tuple(logp.shape)}, "
                         f"got {tuple(advantages.shape)} and {tuple(mask.shape)}")
    lengths = mask.sum(dim=1)  # (N,) |o_i|
    if bool((lengths == 0).any()):
        raise ValueError("mask must hold at least one answer token in every row")
    kl_coef = check_number("kl_coef", kl_coef, low=0)
    if kl_coef > 0 and logp_ref is None:
        raise ValueError("logp_ref must be given when kl_coef > 0")
    weight = mask / (lengths[:, None] * logp.shape[0])  # (N, T): 1 / (N |o_i|) on answer tokens
    # ppo_clip_loss averages over all N*T entries; the weight * N*T turns that mean into the sum
    surrogate = ppo_clip_loss(logp, logp_old, advantages[:, None] * weight * logp.numel(), clip_eps)
    if kl_coef == 0:
        return surrogate
    kl = kl_penalty(logp, logp_ref.detach(), "k3")  # (N, T)
    return surrogate + kl_coef * (kl * weight).sum()
