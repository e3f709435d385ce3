r"""The ε-prediction objective and the DDPM and DDIM reverse steps.

A denoiser :math:`\varepsilon_\theta(x_t, t)` is trained to predict the noise
that :func:`~fmref.diffusion.schedules.q_sample` added (:func:`ddpm_loss`).
Sampling runs the chain backwards from pure noise. :func:`ddpm_step` is
ancestral sampling from :math:`p_\theta(x_{t'} \mid x_t)` (Ho et al.);
:func:`ddim_step` is the non-Markovian update of Song et al., deterministic when
``eta = 0``, which lets a sampler jump over many timesteps at once.

Both steps equal diffusers' ``DDPMScheduler.step`` (``variance_type=
"fixed_small"``) and ``DDIMScheduler.step`` given the same model output, noise
and timesteps, with ``clip_sample=False`` (diffusers clips the predicted
:math:`x_0` to ``[-1, 1]`` by default; fmref never clips).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from fmref._validate import check_int, check_tensor
from fmref.diffusion.guidance import classifier_free_guidance
from fmref.diffusion.schedules import _check_t, q_sample

__all__ = ["ddpm_loss", "predict_x0", "ddpm_step", "ddim_step", "inference_timesteps", "sample"]


def ddpm_loss(
    model: Callable[..., torch.Tensor],
    x0: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""The simplified DDPM loss :math:`\lVert\varepsilon - \varepsilon_\theta(x_t, t)\rVert^2`.

    Draws :math:`t \sim \mathcal U\{0, \dots, T-1\}` and
    :math:`\varepsilon \sim \mathcal N(0, I)` per sample (unless given), noises
    ``x0`` with :func:`~fmref.diffusion.schedules.q_sample` and returns the mean
    squared error of the predicted noise. It is the ELBO with its per-timestep
    weights dropped (Ho et al., eq. 14).

    Parameters
    ----------
    model : callable
        ``model(x_t, t)`` or, when ``y`` is given, ``model(x_t, t, y)``; returns
        the predicted noise, shaped like ``x_t``. ``t`` is a ``(B,)`` long tensor.
    x0 : torch.Tensor
        ``(B, ...)`` clean training data.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.
    t : torch.Tensor, optional
        ``(B,)`` timesteps; drawn uniformly if omitted.
    noise : torch.Tensor, optional
        Noise shaped like ``x0``; drawn if omitted.
    y : torch.Tensor, optional
        ``(B,)`` class labels for a conditional model.
    generator : torch.Generator, optional
        Source of the random ``t`` and ``noise``.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    References
    ----------
    .. [1] Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models", 2020, Algorithm 1.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.samplers import ddpm_loss
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> zero_model = lambda x, t: torch.zeros_like(x)  # predicts no noise at all
    >>> g = torch.Generator().manual_seed(0)
    >>> round(ddpm_loss(zero_model, torch.randn(4096, 2, generator=g), abar, generator=g).item(), 1)
    1.0
    """
    check_tensor("alphas_cumprod", alphas_cumprod, dtype="float", ndim=1, nonempty=True)
    B = x0.shape[0]
    if t is None:
        t = torch.randint(0, alphas_cumprod.shape[0], (B,), generator=generator)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    x_t = q_sample(x0, t, noise, alphas_cumprod)
    pred = model(x_t, t) if y is None else model(x_t, t, y)
    return F.mse_loss(pred, noise)


def predict_x0(
    model_output: torch.Tensor, t: int, x_t: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    r"""The clean sample implied by a noise prediction.

    Inverts the forward process:
    :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon) / \sqrt{\bar\alpha_t}`.

    Parameters
    ----------
    model_output : torch.Tensor
        Predicted noise :math:`\hat\varepsilon`, shaped like ``x_t``.
    t : int
        Timestep in ``[0, T)``.
    x_t : torch.Tensor
        Noisy sample.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.

    Returns
    -------
    torch.Tensor
        :math:`\hat x_0`, shaped like ``x_t``.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.samplers import predict_x0
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule, q_sample
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> x0, eps = torch.randn(3), torch.randn(3)
    >>> torch.allclose(predict_x0(eps, 500, q_sample(x0, 500, eps, abar), abar), x0, atol=1e-5)
    True
    """
    t = int(_check_t(t, alphas_cumprod.shape[0]))
    abar = alphas_cumprod[t]
    return (x_t - (1 - abar).sqrt() * model_output) / abar.sqrt()


def _prev_alpha(
    alphas_cumprod: torch.Tensor, t: int, t_prev: int | None
) -> tuple[int, torch.Tensor]:
    T = alphas_cumprod.shape[0]
    t = int(_check_t(t, T))
    if t_prev is None:
        t_prev = t - 1
    if not -1 <= t_prev < t:
        raise ValueError(f"t_prev must satisfy -1 <= t_prev < t = {t}, got {t_prev}")
    abar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)  # x_{-1} is x_0
    return t, abar_prev


def ddpm_step(
    model_output: torch.Tensor,
    t: int,
    x_t: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    noise: torch.Tensor | None = None,
    t_prev: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One ancestral DDPM step from :math:`x_t` to :math:`x_{t'}`, :math:`t' < t`.

    With :math:`\beta = 1 - \bar\alpha_t/\bar\alpha_{t'}` (the ordinary
    :math:`\beta_t` when :math:`t' = t-1`) the posterior mean is
    :math:`\tilde\mu = \frac{\sqrt{\bar\alpha_{t'}}\,\beta}{1-\bar\alpha_t}\hat x_0
    + \frac{\sqrt{1-\beta}\,(1-\bar\alpha_{t'})}{1-\bar\alpha_t} x_t` and the
    variance :math:`\tilde\beta = \frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}\beta`
    ("fixed_small"); no noise is added at :math:`t = 0`.

    Parameters
    ----------
    model_output : torch.Tensor
        Predicted noise :math:`\hat\varepsilon_\theta(x_t, t)`, shaped like ``x_t``.
    t : int
        Current timestep in ``[0, T)``.
    x_t : torch.Tensor
        Current sample.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.
    noise : torch.Tensor, optional
        Standard normal noise for the step; drawn from ``generator`` if omitted.
    t_prev : int, optional
        Timestep to step to, ``-1 <= t_prev < t``; default ``t - 1``. Fewer
        steps than ``T`` use the strided timesteps of :func:`inference_timesteps`.
    generator : torch.Generator, optional
        Source of the noise when ``noise`` is omitted.

    Returns
    -------
    torch.Tensor
        :math:`x_{t'}`, shaped like ``x_t``.

    Raises
    ------
    ValueError
        If ``t`` is outside ``[0, T)`` or ``t_prev`` is not in ``[-1, t)``.

    References
    ----------
    .. [1] Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models", 2020,
       eqs. 6-7 and Algorithm 2.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.samplers import ddpm_step
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> x = torch.randn(2, 2)
    >>> ddpm_step(torch.zeros(2, 2), 999, x, abar, noise=torch.zeros(2, 2)).shape
    torch.Size([2, 2])
    """
    t, abar_prev = _prev_alpha(alphas_cumprod, t, t_prev)
    abar_t = alphas_cumprod[t]
    alpha = abar_t / abar_prev  # 1 - beta over the (possibly strided) step
    beta = 1 - alpha
    x0_hat = (x_t - (1 - abar_t).sqrt() * model_output) / abar_t.sqrt()
    mean = (abar_prev.sqrt() * beta / (1 - abar_t)) * x0_hat + (
        alpha.sqrt() * (1 - abar_prev) / (1 - abar_t)
    ) * x_t
    if t == 0:
        return mean
    if noise is None:
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype)
    variance = ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=1e-20)
    return mean + variance.sqrt() * noise


def ddim_step(
    model_output: torch.Tensor,
    t: int,
    t_prev: int,
    x_t: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One DDIM step from :math:`x_t` to :math:`x_{t'}`.

    :math:`x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0
    + \sqrt{1-\bar\alpha_{t'}-\sigma^2}\,\hat\varepsilon + \sigma z` with
    :math:`\sigma = \eta\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}
    \big(1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}\big)}`. ``eta = 0`` is the
    deterministic DDIM sampler; ``eta = 1`` has DDPM's variance. At
    ``t_prev = -1`` :math:`\bar\alpha_{t'} = 1` (diffusers' ``set_alpha_to_one``).

    Parameters
    ----------
    model_output : torch.Tensor
        Predicted noise, shaped like ``x_t``.
    t : int
        Current timestep in ``[0, T)``.
    t_prev : int
        Timestep to step to, ``-1 <= t_prev < t``.
    x_t : torch.Tensor
        Current sample.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\bar\alpha_t`.
    eta : float, default 0.0
        Scale of the injected noise, ``>= 0``.
    noise : torch.Tensor, optional
        Noise for ``eta > 0``; drawn from ``generator`` if omitted.
    generator : torch.Generator, optional
        Source of the noise when ``noise`` is omitted.

    Returns
    -------
    torch.Tensor
        :math:`x_{t'}`, shaped like ``x_t``.

    Raises
    ------
    ValueError
        If ``t``/``t_prev`` are out of range or ``eta < 0``.

    References
    ----------
    .. [1] Song, Meng and Ermon, "Denoising Diffusion Implicit Models", 2021, eqs. 12 and 16.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.samplers import ddim_step
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule, q_sample
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> x0, eps = torch.randn(4), torch.randn(4)
    >>> x_t = q_sample(x0, 900, eps, abar)
    >>> # with the true noise, one deterministic jump lands exactly on x0
    >>> torch.allclose(ddim_step(eps, 900, -1, x_t, abar), x0, atol=1e-4)
    True
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    t, abar_prev = _prev_alpha(alphas_cumprod, t, t_prev)
    abar_t = alphas_cumprod[t]
    x0_hat = (x_t - (1 - abar_t).sqrt() * model_output) / abar_t.sqrt()
    sigma = eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).sqrt()
    x_prev = abar_prev.sqrt() * x0_hat + (1 - abar_prev - sigma**2).sqrt() * model_output
    if eta > 0:
        if noise is None:
            noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype)
        x_prev = x_prev + sigma * noise
    return x_prev


def inference_timesteps(T: int, steps: int) -> list[int]:
    """Timesteps a sampler visits, with diffusers' "leading" spacing.

    ``steps`` timesteps ``k * (T // steps)`` for ``k = steps-1, ..., 0``, as
    ``DDPMScheduler.set_timesteps`` and ``DDIMScheduler.set_timesteps`` choose by
    default.

    Parameters
    ----------
    T : int
        Number of training timesteps.
    steps : int
        Number of sampling steps, ``1 <= steps <= T``.

    Returns
    -------
    list of int
        Decreasing timesteps, ending at 0.

    Raises
    ------
    ValueError
        If ``steps`` is outside ``[1, T]``.

    Examples
    --------
    >>> from fmref.diffusion.samplers import inference_timesteps
    >>> inference_timesteps(1000, 5)
    [800, 600, 400, 200, 0]
    """
    check_int("steps", steps, 1, T)
    ratio = T // steps
    return [k * ratio for k in range(steps - 1, -1, -1)]


@torch.no_grad()
def sample(
    model: Callable[..., torch.Tensor],
    shape: tuple[int, ...],
    alphas_cumprod: torch.Tensor,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    labels: torch.Tensor | None = None,
    guidance_scale: float | None = None,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Generate samples by running the reverse process from pure noise.

    Parameters
    ----------
    model : callable
        ``model(x_t, t)`` (unconditional) or ``model(x_t, t, y)`` with ``y=None``
        meaning "no condition"; returns predicted noise. ``t`` is ``(B,)`` long.
    shape : tuple of int
        Shape of the batch to generate, e.g. ``(16, 1, 8, 8)``.
    alphas_cumprod : torch.Tensor
        ``(T,)`` values of :math:`\\bar\\alpha_t` the model was trained with.
    sampler : {"ddpm", "ddim"}
        Reverse step: :func:`ddpm_step` or :func:`ddim_step`.
    steps : int, optional
        Number of reverse steps (default ``T``), spaced by :func:`inference_timesteps`.
    eta : float, default 0.0
        DDIM noise scale (ignored by DDPM).
    labels : torch.Tensor, optional
        ``(B,)`` class labels for a conditional model.
    guidance_scale : float, optional
        Classifier-free guidance scale (``>= 0``; needs ``labels``); ``None``
        calls the model once per step without guidance.
    generator : torch.Generator, optional
        Source of the initial noise and of every step's noise.
    return_trajectory : bool, default False
        Also return the list of intermediate samples (first: the noise).

    Returns
    -------
    torch.Tensor or (torch.Tensor, list of torch.Tensor)
        The samples, and the trajectory if asked for.

    Raises
    ------
    ValueError
        If ``sampler`` is unknown, ``guidance_scale`` is given without
        ``labels`` or is negative, or ``steps`` is out of range.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.samplers import sample
    >>> from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
    >>> abar = alphas_cumprod(linear_beta_schedule(1000))
    >>> model = lambda x, t: torch.zeros_like(x)
    >>> g = torch.Generator().manual_seed(0)
    >>> x, traj = sample(model, (5, 2), abar, sampler="ddim", steps=10, generator=g,
    ...                  return_trajectory=True)
    >>> x.shape, len(traj)
    (torch.Size([5, 2]), 11)
    """
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    if guidance_scale is not None and labels is None:
        raise ValueError("guidance_scale needs labels: pass labels=(B,) class indices")
    T = alphas_cumprod.shape[0]
    timesteps = inference_timesteps(T, T if steps is None else steps)
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        t_batch = torch.full((shape[0],), t, dtype=torch.long)
        if guidance_scale is not None:
            eps = classifier_free_guidance(
                model(x, t_batch, None), model(x, t_batch, labels), guidance_scale
            )
        elif labels is not None:
            eps = model(x, t_batch, labels)
        else:
            eps = model(x, t_batch)
        if sampler == "ddpm":
            x = ddpm_step(eps, t, x, alphas_cumprod, t_prev=t_prev, generator=generator)
        else:
            x = ddim_step(eps, t, t_prev, x, alphas_cumprod, eta=eta, generator=generator)
        if return_trajectory:
            trajectory.append(x)
    return (x, trajectory) if return_trajectory else x
