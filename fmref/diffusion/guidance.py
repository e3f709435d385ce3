r"""Classifier-free guidance and the condition dropout that trains for it.

One network learns both :math:`\varepsilon_\theta(x_t, t, y)` and the
unconditional :math:`\varepsilon_\theta(x_t, t, \varnothing)` by replacing the
label with a "null" label for a fraction of the training examples
(:func:`drop_condition`). At sampling time the two predictions are extrapolated
(:func:`classifier_free_guidance`).
"""

from __future__ import annotations

import torch

from fmref._validate import check_number

__all__ = ["classifier_free_guidance", "drop_condition"]


def classifier_free_guidance(
    eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float
) -> torch.Tensor:
    r"""Guided prediction :math:`\varepsilon_u + s\,(\varepsilon_c - \varepsilon_u)`.

    This is diffusers' convention (``guidance_scale``): ``scale = 1`` is the
    plain conditional model, ``scale = 0`` the unconditional one, ``scale > 1``
    pushes samples towards the condition. Ho and Salimans write
    :math:`(1 + w)\,\varepsilon_c - w\,\varepsilon_u`, so their :math:`w` is
    ``scale - 1``.

    Parameters
    ----------
    eps_uncond : torch.Tensor
        Prediction with the null condition.
    eps_cond : torch.Tensor
        Prediction with the condition, same shape.
    scale : float
        Guidance scale, ``>= 0``.

    Returns
    -------
    torch.Tensor
        The guided prediction.

    Raises
    ------
    ValueError
        If ``scale < 0`` or the shapes differ.

    References
    ----------
    .. [1] Ho and Salimans, "Classifier-Free Diffusion Guidance", 2022, eq. 6.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.guidance import classifier_free_guidance
    >>> u, c = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0])
    >>> classifier_free_guidance(u, c, 3.0)
    tensor([3., 1.])
    >>> torch.equal(classifier_free_guidance(u, c, 1.0), c)
    True
    """
    check_number("scale", scale)
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    if eps_uncond.shape != eps_cond.shape:
        raise ValueError(
            f"eps_cond must have the shape of eps_uncond {tuple(eps_uncond.shape)}, "
            f"got {tuple(eps_cond.shape)}"
        )
    return eps_uncond + scale * (eps_cond - eps_uncond)


def drop_condition(
    y: torch.Tensor, p_uncond: float, null_label: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each label by ``null_label`` with probability ``p_uncond``.

    Parameters
    ----------
    y : torch.Tensor
        ``(B,)`` integer labels.
    p_uncond : float
        Probability of dropping a label, in ``[0, 1]`` (Ho and Salimans use 0.1-0.2).
    null_label : int
        The index that means "no condition" (the denoisers here use ``num_classes``).
    generator : torch.Generator, optional
        Source of the random choice.

    Returns
    -------
    torch.Tensor
        ``(B,)`` labels, a new tensor.

    Raises
    ------
    ValueError
        If ``p_uncond`` is outside ``[0, 1]``.

    References
    ----------
    .. [1] Ho and Salimans, "Classifier-Free Diffusion Guidance", 2022, Algorithm 1.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.guidance import drop_condition
    >>> g = torch.Generator().manual_seed(0)
    >>> y = drop_condition(torch.zeros(10000, dtype=torch.long), 0.2, 10, generator=g)
    >>> round((y == 10).float().mean().item(), 2)
    0.2
    """
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p_uncond}")
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)
