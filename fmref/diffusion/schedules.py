r"""Noise schedules and the forward (noising) process of diffusion models.

A diffusion model corrupts data in :math:`T` small Gaussian steps,
:math:`q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)`.
With :math:`\alpha_t = 1 - \beta_t` and :math:`\bar\alpha_t = \prod_{s \le t}\alpha_s`
the steps compose into one closed form,
:math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`,
which :func:`q_sample` draws in a single step. Timesteps are 0-based, as in
diffusers: ``t = 0`` is the first noising step and ``t = T - 1`` the last.
"""

from __future__ import annotations

import math

import torch

from fmref._validate import check_tensor

__all__ = [
    "linear_beta_schedule",
    "cosine_beta_schedule",
    "beta_schedule",
    "alphas_cumprod",
    "signal_to_noise",
    "q_sample",
]


def _check_T(T: int) -> None:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")


def linear_beta_schedule(
    T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> torch.Tensor:
    r"""Linear variance schedule of DDPM.

    :math:`\beta_t` rises linearly from ``beta_start`` to ``beta_end`` over ``T``
    steps (Ho et al. use :math:`10^{-4}` to :math:`0.02` with :math:`T = 1000`).
    Equal to diffusers' ``DDPMScheduler(beta_schedule="linear").betas``.

    Parameters
    ----------
    T : int, default 1000
        Number of diffusion steps.
    beta_start, beta_end : float
        First and last :math:`\beta_t`; ``0 < beta_start <= beta_end < 1``.

    Returns
    -------
    torch.Tensor
        ``(T,)`` float32 betas.

    Raises
    ------
    ValueError
        If ``T`` is not a positive int or the betas are outside ``(0, 1)``.

    References
    ----------
    .. [1] Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models", 2020.

    Examples
    --------
    >>> from fmref.diffusion.schedules import linear_beta_schedule
    >>> betas = linear_beta_schedule(1000)
    >>> betas.shape, round(betas[0].item(), 6), round(betas[-1].item(), 6)
    (torch.Size([1000]), 0.0001, 0.02)
    """
    _check_T(T)
    if not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError(
            "beta_start and beta_end must satisfy 0 < beta_start <= beta_end < 1, "
            f"got {beta_start}, {beta_end}"
        )
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float32)


def cosine_beta_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    r"""Cosine variance schedule of Nichol and Dhariwal (improved DDPM).

    The schedule is defined through :math:`\bar\alpha` rather than :math:`\beta`:
    :math:`f(t) = \cos^2\!\big(\tfrac{t/T + s}{1 + s}\cdot\tfrac{\pi}{2}\big)` and
    :math:`\beta_t = \min\big(1 - f(t+1)/f(t),\ \text{max\_beta}\big)`, so
    :math:`\bar\alpha_t` falls like a cosine instead of collapsing early. The
    small offset ``s`` keeps :math:`\beta_0` from being too small; the cap
    ``max_beta`` avoids a singularity at the end. Equal to diffusers'
    ``DDPMScheduler(beta_schedule="squaredcos_cap_v2").betas``.

    Parameters
    ----------
    T : int, default 1000
        Number of diffusion steps.
    s : float, default 0.008
        Offset of the cosine (Nichol and Dhariwal's value).
    max_beta : float, default 0.999
        Upper bound on each :math:`\beta_t`; must lie in ``(0, 1)``.

    Returns
    -------
    torch.Tensor
        ``(T,)`` float32 betas.

    Raises
    ------
    ValueError
        If ``T`` is not a positive int, ``s < 0`` or ``max_beta`` is outside ``(0, 1)``.

    References
    ----------
    .. [1] Nichol and Dhariwal, "Improved Denoising Diffusion Probabilistic Models", 2021, eq. 17.

    Examples
    --------
    >>> from fmref.diffusion.schedules import cosine_beta_schedule
    >>> betas = cosine_beta_schedule(1000)
    >>> betas.shape, round(betas.max().item(), 3)
    (torch.Size([1000]), 0.999)
    """
    _check_T(T)
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s}")
    if not 0.0 < max_beta < 1.0:
        raise ValueError(f"max_beta must lie in (0, 1), got {max_beta}")

    def f(t: float) -> float:
        return math.cos((t + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f((i + 1) / T) / f(i / T), max_beta) for i in range(T)]
    return torch.tensor(betas, dtype=torch.float32)


def beta_schedule(name: str, T: int = 1000) -> torch.Tensor:
    """Betas of a schedule by name.

    Parameters
    ----------
    name : {"linear", "cosine"}
        ``"linear"`` (DDPM) or ``"cosine"`` (improved DDPM); diffusers' names
        ``"squaredcos_cap_v2"`` is accepted for ``"cosine"``.
    T : int, default 1000
        Number of diffusion steps.

    Returns
    -------
    torch.Tensor
        ``(T,)`` float32 betas with the default parameters of the schedule.

    Raises
    ------
    ValueError
        If ``name`` is not a known schedule.

    Examples
    --------
    >>> from fmref.diffusion.schedules import beta_schedule
    >>> beta_schedule("cosine", 10).shape
    torch.Size([10])
    """
    if name == "linear":
        return linear_beta_schedule(T)
    if name in ("cosine", "squaredcos_cap_v2"):
        return cosine_beta_schedule(T)
    raise ValueError(f"name must be 'linear' or 'cosine', got {name!r}")


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    r"""The cumulative products :math:`\bar\alpha_t = \prod_{s=0}^{t} (1 - \beta_s)`.

    Parameters
    ----------
    betas : torch.Tensor
        ``(T,)`` betas in ``(0, 1)``.

    Returns
    -------
    torch.Tensor
        ``(T,)`` decreasing values in ``(0, 1)``; ``alphas_cumprod[t]`` is the
        share of signal *variance* left in :math:`x_t`.

    Raises
    ------
    ValueError
        If ``betas`` is not 1-D or has values outside ``(0, 1]``.

    Examples
    --------
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> round(abar[0].item(), 4), round(abar[499].item(), 4), f"{abar[-1].item():.1e}"
    (0.9999, 0.0786, '4.0e-05')
    """
    if betas.dim() != 1 or not bool(((betas > 0) & (betas <= 1)).all()):
        raise ValueError(
            f"betas must be a 1-D tensor with values in (0, 1], got shape {tuple(betas.shape)}"
        )
    return torch.cumprod(1.0 - betas, dim=0)


def signal_to_noise(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    r"""Signal-to-noise ratio :math:`\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)`.

    Parameters
    ----------
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.

    Returns
    -------
    torch.Tensor
        ``(T,)`` SNR, decreasing in ``t``.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.schedules import signal_to_noise
    >>> signal_to_noise(torch.tensor([0.5, 0.2]))
    tensor([1.0000, 0.2500])
    """
    check_tensor("alphas_cumprod", alphas_cumprod, dtype="float", nonempty=True, finite=True)
    return alphas_cumprod / (1.0 - alphas_cumprod)


def _check_t(t: int | torch.Tensor, T: int) -> torch.Tensor:
    t = torch.as_tensor(t)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"t must hold integers, got dtype {t.dtype}")
    if bool((t < 0).any()) or bool((t >= T).any()):
        raise ValueError(f"t must lie in [0, T) = [0, {T}), got {t.tolist()}")
    return t.long()


def _per_sample(values: torch.Tensor, t: torch.Tensor, ndim: int) -> torch.Tensor:
    """``values[t]`` shaped to broadcast against a batch of ``ndim`` dimensions."""
    out = values[t]  # () or (B,)
    return out.reshape(out.shape + (1,) * (ndim - out.dim()))


def q_sample(
    x0: torch.Tensor, t: int | torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""Draw :math:`x_t \sim q(x_t \mid x_0)` in one step.

    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`.
    Equal to diffusers' ``scheduler.add_noise(x0, noise, t)``.

    Parameters
    ----------
    x0 : torch.Tensor
        ``(B, ...)`` clean data.
    t : int or torch.Tensor
        One timestep for the whole batch, or ``(B,)`` timesteps, in ``[0, T)``.
    noise : torch.Tensor
        Standard normal noise :math:`\varepsilon`, same shape as ``x0``.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.

    Returns
    -------
    torch.Tensor
        :math:`x_t`, same shape as ``x0``.

    Raises
    ------
    ValueError
        If ``t`` is outside ``[0, T)`` or ``noise`` and ``x0`` differ in shape.
    TypeError
        If ``t`` is not an integer.

    References
    ----------
    .. [1] Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models", 2020, eq. 4.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule, q_sample
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    >>> xt = q_sample(x0, torch.tensor([0, 999]), noise, abar)  # signal shrinks to ~0
    >>> [round(v, 3) for v in xt[:, 0].tolist()]
    [1.0, 0.006]
    """
    if noise.shape != x0.shape:
        raise ValueError(
            f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}"
        )
    t = _check_t(t, alphas_cumprod.shape[0])
    abar = _per_sample(alphas_cumprod.to(x0.dtype), t, x0.dim())
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise
