r"""Direct preference optimisation (DPO): RLHF's objective without a reward model.

The KL-regularised RLHF objective
:math:`\max_\pi \mathbb{E}[r(x, y)] - \beta\, \mathrm{KL}(\pi \,\|\, \pi_{\text{ref}})`
has the closed-form optimum
:math:`\pi^*(y \mid x) \propto \pi_{\text{ref}}(y \mid x)\, e^{r(x, y)/\beta}`.
Solving it for the reward, :math:`r(x, y) = \beta \log \frac{\pi^*(y \mid x)}
{\pi_{\text{ref}}(y \mid x)} + \beta \log Z(x)`, and putting that into the
Bradley–Terry likelihood cancels the intractable :math:`Z(x)`: the policy
itself is trained as the reward model, on preference pairs, with a logistic
loss (Chapter XI derives it step by step).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fmref._validate import check_nonempty, check_positive

__all__ = ["dpo_loss"]

_NAMES = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")


def dpo_loss(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1
):
    r"""The DPO loss and the implicit rewards of a batch of preference pairs.

    .. math:: \mathcal{L} = -\frac{1}{B} \sum_b \log \sigma\Big(
       \beta \log \frac{\pi_\theta(y_w \mid x)}{\pi_{\text{ref}}(y_w \mid x)}
       - \beta \log \frac{\pi_\theta(y_l \mid x)}{\pi_{\text{ref}}(y_l \mid x)}\Big)

    The implicit reward of an answer is :math:`\beta` times its log-ratio
    between policy and reference; the loss is the Bradley–Terry loss
    (:func:`fmref.align.reward.bradley_terry_loss`) of these rewards. The
    gradient of each pair is weighted by :math:`\sigma(\hat r_l - \hat r_w)`:
    pairs the policy already ranks right count little.

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : torch.Tensor
        ``(B,)`` summed log-probabilities of the preferred and the rejected
        answers under the policy (:func:`fmref.align.sft.sequence_logprobs`).
    ref_chosen_logps, ref_rejected_logps : torch.Tensor
        ``(B,)`` the same under the frozen reference model (detached here).
    beta : float, default 0.1
        :math:`\beta > 0`, the strength of the KL constraint: small lets the
        policy move far from the reference.

    Returns
    -------
    loss : torch.Tensor
        Scalar, the mean over the batch.
    chosen_rewards : torch.Tensor
        ``(B,)`` :math:`\beta (\log \pi_\theta(y_w) - \log \pi_{\text{ref}}(y_w))`, detached.
    rejected_rewards : torch.Tensor
        ``(B,)`` the same for :math:`y_l`, detached.

    Raises
    ------
    TypeError
        If an input is not a floating-point tensor.
    ValueError
        If an input is not 1-D or empty, the batch sizes differ (the message names the
        argument) or ``beta <= 0``.

    References
    ----------
    .. [1] Rafailov et al., "Direct Preference Optimization: Your Language Model
       is Secretly a Reward Model", NeurIPS 2023, Equation 7.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.dpo import dpo_loss
    >>> zero = torch.zeros(1)
    >>> loss, rc, rr = dpo_loss(zero, zero, zero, zero)  # policy == reference
    >>> round(loss.item(), 4), round(math.log(2), 4)
    (0.6931, 0.6931)
    >>> loss, rc, rr = dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]),
    ...                         torch.tensor([-2.0]), torch.tensor([-2.0]), beta=0.5)
    >>> rc.item(), rr.item()  # 0.5 * (-1 + 2), 0.5 * (-3 + 2)
    (0.5, -0.5)
    >>> round(loss.item(), 4), round(-math.log(1 / (1 + math.exp(-1.0))), 4)
    (0.3133, 0.3133)
    """
    tensors = (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)
    for name, t in zip(_NAMES, tensors):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            kind = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{name} must be a floating-point tensor, got {kind}")
        if t.dim() != 1:
            raise ValueError(f"{name} must have shape (B,), got {tuple(t.shape)}")
        check_nonempty(name, t)
    B = policy_chosen_logps.shape[0]
    for name, t in zip(_NAMES[1:], tensors[1:]):
        if t.shape[0] != B:
            raise ValueError(
                f"{name} must have the batch size of policy_chosen_logps ({B}), got {t.shape[0]}"
            )
    check_positive("beta", beta)
    chosen = beta * (policy_chosen_logps - ref_chosen_logps.detach())  # (B,) implicit rewards
    rejected = beta * (policy_rejected_logps - ref_rejected_logps.detach())  # (B,)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return loss, chosen.detach(), rejected.detach()
