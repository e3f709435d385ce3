"""Contrastive image-text losses: CLIP's softmax (InfoNCE) and SigLIP's sigmoid.

Both losses score every image of a batch against every text with a cosine
similarity times a learned inverse temperature. CLIP (Radford et al. 2021)
turns each row and each column of that ``(N, N)`` matrix into an ``N``-way
classification whose answer is the diagonal; SigLIP (Zhai et al. 2023) turns
each of the ``N^2`` entries into an independent binary classification (matching
pair or not), which needs no normalisation over the batch.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from fmref._validate import check_tensor

__all__ = ["CLIP_LOGIT_SCALE_INIT", "SIGLIP_LOGIT_SCALE_INIT", "clip_loss", "siglip_loss"]

#: CLIP's initial log inverse temperature, ``ln(1 / 0.07)`` (Radford et al. 2021, sec. 2.5).
CLIP_LOGIT_SCALE_INIT = math.log(1 / 0.07)
#: SigLIP's initial log inverse temperature, ``ln 10`` (Zhai et al. 2023, sec. 3.3).
SIGLIP_LOGIT_SCALE_INIT = math.log(10.0)


def _check_pair(image_embeds, text_embeds):
    for name, t in (("image_embeds", image_embeds), ("text_embeds", text_embeds)):
        check_tensor(name, t, dtype="float", ndim=2, nonempty=True, finite=True)
    if image_embeds.shape != text_embeds.shape:
        raise ValueError(
            "text_embeds must have the shape of image_embeds (one text per image, same D): "
            f"image_embeds {tuple(image_embeds.shape)}, text_embeds {tuple(text_embeds.shape)}"
        )


def _as_tensor(value, like):
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def clip_loss(image_embeds, text_embeds, logit_scale=CLIP_LOGIT_SCALE_INIT):
    """CLIP's symmetric contrastive (InfoNCE) loss over a batch of matching pairs.

    With L2-normalised embeddings :math:`x_i` (images) and :math:`y_j` (texts) and
    logits :math:`s_{ij} = e^{t}\\, x_i^\\top y_j`, the loss is the mean of the
    cross-entropies of the rows (image to text) and of the columns (text to image),
    both with target :math:`j = i`.

    Parameters
    ----------
    image_embeds : torch.Tensor
        ``(N, D)`` image embeddings; pair ``i`` is ``(image_embeds[i], text_embeds[i])``.
        Normalised inside.
    text_embeds : torch.Tensor
        ``(N, D)`` text embeddings.
    logit_scale : float or torch.Tensor, default ln(1/0.07) ≈ 2.659
        The learnable *log* inverse temperature :math:`t`; logits are multiplied by
        :math:`e^t` (CLIP clips :math:`e^t` at 100).

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    TypeError
        If an embedding is not a floating-point tensor.
    ValueError
        If the embeddings are not 2-D, empty, not finite, or their shapes differ.

    References
    ----------
    .. [1] Radford et al., "Learning Transferable Visual Models From Natural Language
       Supervision", ICML 2021, figure 3.
    .. [2] van den Oord, Li and Vinyals, "Representation Learning with Contrastive
       Predictive Coding", 2018.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.multimodal.contrastive import clip_loss
    >>> x = torch.eye(4)  # four orthogonal images, each matched by its own text
    >>> round(clip_loss(x, x).item(), 4)  # e^2.659 = 14.3 makes the diagonal win
    0.0
    >>> round(clip_loss(x, x, logit_scale=0.0).item(), 4)  # temperature 1: far from 0
    0.7437
    >>> round(clip_loss(x, torch.ones(4, 4)).item(), 4) == round(math.log(4), 4)  # no signal
    True
    """
    _check_pair(image_embeds, text_embeds)
    x = F.normalize(image_embeds, dim=-1)  # (N, D)
    y = F.normalize(text_embeds, dim=-1)  # (N, D)
    logits = _as_tensor(logit_scale, x).exp() * x @ y.T  # (N, N): images x texts
    target = torch.arange(len(x), device=x.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def siglip_loss(image_embeds, text_embeds, logit_scale=SIGLIP_LOGIT_SCALE_INIT, logit_bias=-10.0):
    """SigLIP's pairwise sigmoid loss.

    Every image-text pair is a binary classification with label
    :math:`z_{ij} = 1` on the diagonal and :math:`-1` elsewhere:

    .. math::

       L = -\\frac{1}{N} \\sum_{i=1}^{N} \\sum_{j=1}^{N}
           \\log \\sigma\\left(z_{ij} \\left(e^{t}\\, x_i^\\top y_j + b\\right)\\right).

    The paper initialises :math:`t = \\ln 10` and :math:`b = -10`, so that at the
    start every pair looks like a negative, which is what nearly all of the
    :math:`N^2` pairs are.

    Parameters
    ----------
    image_embeds : torch.Tensor
        ``(N, D)`` image embeddings (normalised inside).
    text_embeds : torch.Tensor
        ``(N, D)`` text embeddings.
    logit_scale : float or torch.Tensor, default ln(10)
        Log inverse temperature :math:`t`.
    logit_bias : float or torch.Tensor, default -10
        Bias :math:`b` added to every logit.

    Returns
    -------
    torch.Tensor
        Scalar loss (summed over texts, averaged over images).

    Raises
    ------
    TypeError
        If an embedding is not a floating-point tensor.
    ValueError
        If the embeddings are not 2-D, empty, not finite, or their shapes differ.

    References
    ----------
    .. [1] Zhai et al., "Sigmoid Loss for Language Image Pre-Training", ICCV 2023,
       algorithm 1 and sec. 3.3.

    Examples
    --------
    >>> import torch
    >>> from fmref.multimodal.contrastive import siglip_loss
    >>> x = torch.eye(4)
    >>> round(siglip_loss(x, x).item(), 3)  # a positive's logit is 10 - 10 = 0: log 2
    0.693
    >>> round(siglip_loss(x, x, logit_bias=0.0).item(), 3)  # b = 0: each negative costs log 2
    2.079
    """
    _check_pair(image_embeds, text_embeds)
    x = F.normalize(image_embeds, dim=-1)  # (N, D)
    y = F.normalize(text_embeds, dim=-1)  # (N, D)
    logits = _as_tensor(logit_scale, x).exp() * x @ y.T + _as_tensor(logit_bias, x)  # (N, N)
    z = 2 * torch.eye(len(x), device=x.device, dtype=x.dtype) - 1  # +1 diagonal, -1 elsewhere
    return -F.logsigmoid(z * logits).sum(-1).mean()
