"""Families of image generators and how to evaluate them (Chapter XVIII).

* :mod:`fmref.generative.vae` -- variational autoencoder: reparameterisation, ELBO;
* :mod:`fmref.generative.vq` -- vector quantisation: codebook, straight-through
  estimator, commitment loss, codebook usage;
* :mod:`fmref.generative.gan` -- GAN losses, minimax and non-saturating;
* :mod:`fmref.generative.autoregressive` -- pixel-by-pixel likelihood models
  with masked layers;
* :mod:`fmref.generative.fid` -- the Fréchet distance and a feature-space FID for digits.

Diffusion models have their own package, :mod:`fmref.diffusion`.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
