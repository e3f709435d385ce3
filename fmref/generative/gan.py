r"""The GAN objective: minimax and non-saturating generator losses.

A discriminator :math:`D` outputs a logit, :math:`D(x) = \sigma(\text{logit})`
being the probability that :math:`x` is real. Goodfellow et al.'s game is
:math:`\min_G\max_D\ \mathbb E\log D(x) + \mathbb E\log(1 - D(G(z)))`. Early in
training :math:`D` rejects fakes easily and :math:`\log(1 - D(G(z)))` saturates
(its gradient vanishes), so in practice :math:`G` maximises
:math:`\log D(G(z))` instead: the *non-saturating* loss.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from fmref._validate import check_tensor

__all__ = ["discriminator_loss", "generator_loss"]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Binary cross-entropy of the discriminator: :math:`-\log D(x) - \log(1 - D(G(z)))`.

    Parameters
    ----------
    real_logits, fake_logits : torch.Tensor
        Discriminator logits on real and on generated samples.

    Returns
    -------
    torch.Tensor
        Scalar loss; :math:`2\log 2 \approx 1.386` when :math:`D` outputs 1/2 everywhere.

    References
    ----------
    .. [1] Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.gan import discriminator_loss
    >>> round(discriminator_loss(torch.zeros(4), torch.zeros(4)).item(), 4)  # 2 log 2
    1.3863
    """
    check_tensor("real_logits", real_logits, dtype="float")
    check_tensor("fake_logits", fake_logits, dtype="float")
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    r"""Generator loss, minimax :math:`\log(1 - D(G(z)))` or non-saturating :math:`-\log D(G(z))`.

    Parameters
    ----------
    fake_logits : torch.Tensor
        Discriminator logits on generated samples.
    kind : {"non_saturating", "minimax"}
        Which loss.

    Returns
    -------
    torch.Tensor
        Scalar loss to minimise.

    Raises
    ------
    ValueError
        If ``kind`` is unknown.

    References
    ----------
    .. [1] Goodfellow et al., 2014, section 3 (the non-saturating variant).

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.gan import generator_loss
    >>> logit = torch.tensor([-6.0], requires_grad=True)  # D is sure the fake is fake
    >>> generator_loss(logit, "minimax").backward()
    >>> round(logit.grad.item(), 4)  # saturated: almost no gradient
    -0.0025
    >>> logit.grad = None
    >>> generator_loss(logit, "non_saturating").backward()
    >>> round(logit.grad.item(), 4)  # strong gradient
    -0.9975
    """
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "minimax":  # log(1 - sigmoid(l)) = -softplus(l)
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"kind must be 'non_saturating' or 'minimax', got {kind!r}")
