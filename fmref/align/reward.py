"""Reward models: the Bradley–Terry loss on pairs of ranked answers.

A reward model :math:`r_\\phi(x, y)` maps a prompt and an answer to one number.
It is trained on comparisons: a labeller saw two answers to the same prompt and
preferred :math:`y_w` to :math:`y_l`. Bradley and Terry's model of paired
comparisons says the preferred one wins with probability

.. math:: P(y_w \\succ y_l \\mid x) = \\sigma\\big(r(x, y_w) - r(x, y_l)\\big),

and the reward model maximises the likelihood of the observed preferences. Only
differences of rewards matter: adding a constant per prompt changes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bradley_terry_loss"]


def bradley_terry_loss(reward_chosen, reward_rejected):
    r"""Negative log-likelihood of the preferences under the Bradley–Terry model.

    .. math:: \mathcal{L} = -\frac{1}{B} \sum_b \log \sigma\big(r^{(b)}_w - r^{(b)}_l\big)

    Parameters
    ----------
    reward_chosen : torch.Tensor
        ``(B,)`` rewards of the preferred answers.
    reward_rejected : torch.Tensor
        ``(B,)`` rewards of the other answers, same shape.

    Returns
    -------
    torch.Tensor
        Scalar mean loss; ``log 2`` when the two rewards are equal.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor.
    ValueError
        If the shapes differ or are empty.

    References
    ----------
    .. [1] Bradley and Terry, "Rank Analysis of Incomplete Block Designs: I. The
       Method of Paired Comparisons", Biometrika 39, 1952.
    .. [2] Ouyang et al., "Training Language Models to Follow Instructions with
       Human Feedback", NeurIPS 2022, Equation 1.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.reward import bradley_terry_loss
    >>> round(bradley_terry_loss(torch.tensor([1.0]), torch.tensor([1.0])).item(), 4)
    0.6931
    >>> loss = bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0]))
    >>> round(loss.item(), 4), round((math.log1p(math.exp(-2)) + math.log1p(math.exp(2))) / 2, 4)
    (1.1269, 1.1269)
    """
    for name, t in (("reward_chosen", reward_chosen), ("reward_rejected", reward_rejected)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            kind = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{name} must be a floating-point tensor, got {kind}")
    if reward_rejected.shape != reward_chosen.shape or reward_chosen.numel() == 0:
        raise ValueError(
            f"reward_rejected must have the (non-empty) shape of reward_chosen "
            f"{tuple(reward_chosen.shape)}, got {tuple(reward_rejected.shape)}"
        )
    return -F.logsigmoid(reward_chosen - reward_rejected).mean()
