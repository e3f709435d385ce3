r"""GRPO: advantages normalised within a group of answers to the same prompt.

PPO needs a value model as large as the policy to tell a good answer from a
lucky one. Group Relative Policy Optimisation samples :math:`G` answers per
prompt and uses the group as the baseline: an answer's advantage is how many
standard deviations its reward lies above the group's mean. Every token of
the answer gets that advantage; the clipped surrogate of PPO
(:func:`fmref.align.ppo.ppo_clip_loss`) and a ``k3`` KL penalty
(:func:`fmref.align.ppo.kl_penalty`) complete the objective.
"""

from __future__ import annotations

import torch

from fmref._validate import check_int

__all__ = ["grpo_advantages", "GRPO_EPS"]

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
