r"""Denoising diffusion: noise schedules, the forward process, samplers, guidance.

The modules follow the order of Chapter XVII:

* :mod:`fmref.diffusion.schedules` -- the variance schedules
  :math:`\beta_t` (linear, cosine), :math:`\bar\alpha_t` and the closed-form
  forward process :func:`~fmref.diffusion.schedules.q_sample`;
* :mod:`fmref.diffusion.samplers` -- the ε-prediction loss and the DDPM and DDIM
  reverse steps, each equal to diffusers' scheduler step, and a sampling loop;
* :mod:`fmref.diffusion.guidance` -- classifier-free guidance and condition
  dropout;
* :mod:`fmref.diffusion.denoisers` -- small time-conditioned denoisers (an MLP
  for 2-D points, a tiny U-Net for 8×8 digits) and the cached digit denoiser.

Import from this package or from its modules, e.g.
``from fmref.diffusion.schedules import cosine_beta_schedule``.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
