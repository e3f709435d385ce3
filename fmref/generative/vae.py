r"""Variational autoencoder (VAE): an encoder, a decoder and the ELBO.

The encoder maps an image to a Gaussian :math:`q_\phi(z \mid x) =
\mathcal N(\mu, \operatorname{diag}\sigma^2)`; a latent is drawn with the
reparameterisation :math:`z = \mu + \sigma \odot \varepsilon` so gradients reach
:math:`\mu, \sigma`; the decoder gives :math:`p_\theta(x \mid z)`. Training
maximises the evidence lower bound

.. math::

   \log p(x) \ge \mathbb E_{q}[\log p_\theta(x \mid z)]
   - \mathrm{KL}\big(q_\phi(z \mid x)\,\Vert\,\mathcal N(0, I)\big).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_overrides, check_positive_int, check_tensor

__all__ = ["reparameterize", "gaussian_kl", "VAE", "vae_loss", "DIGITS_VAE_SETTINGS", "digits_vae"]


def _check_same_shape(mu, logvar):
    check_tensor("mu", mu, dtype="float")
    check_tensor("logvar", logvar, dtype="float")
    if mu.shape != logvar.shape:
        raise ValueError(
            f"logvar must have the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}"
        )


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Draw :math:`z = \mu + e^{\text{logvar}/2}\,\varepsilon`, differentiable in ``mu``.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        Mean and log-variance of the Gaussian, same shape.
    generator : torch.Generator, optional
        Source of :math:`\varepsilon`.

    Returns
    -------
    torch.Tensor
        A sample shaped like ``mu``.

    References
    ----------
    .. [1] Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, section 2.4.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vae import reparameterize
    >>> mu = torch.zeros(3, requires_grad=True)
    >>> z = reparameterize(mu, torch.zeros(3), generator=torch.Generator().manual_seed(0))
    >>> z.sum().backward(); mu.grad  # dz/dmu = 1: the gradient flows through the sample
    tensor([1., 1., 1.])
    """
    _check_same_shape(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL divergence :math:`\mathrm{KL}(\mathcal N(\mu, \sigma^2) \Vert \mathcal N(0, 1))`.

    Summed over the last dimension:

    :math:`\tfrac12\sum(\mu^2 + \sigma^2 - 1 - \log\sigma^2)`.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        ``(..., d)`` mean and log-variance.

    Returns
    -------
    torch.Tensor
        ``(...)`` non-negative KL in nats.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vae import gaussian_kl
    >>> gaussian_kl(torch.zeros(2), torch.zeros(2)).item()  # the prior itself
    0.0
    >>> round(gaussian_kl(torch.tensor([1.0]), torch.zeros(1)).item(), 4)  # mean shifted by 1
    0.5
    """
    check_tensor("mu", mu, dtype="float", finite=True)
    check_tensor("logvar", logvar, dtype="float", finite=True)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


class VAE(nn.Module):
    """An MLP VAE for small images with a Gaussian encoder and a Gaussian decoder.

    Parameters
    ----------
    image_shape : tuple of int, default (1, 8, 8)
        Shape of one image (8x8 grey-scale digits).
    hidden : int, default 256
        Width of the hidden layers.
    latent_dim : int, default 2
        Dimension of :math:`z` (2 so the latent space can be drawn).

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vae import VAE
    >>> vae = VAE()
    >>> recon, mu, logvar = vae(torch.randn(5, 1, 8, 8))
    >>> recon.shape, mu.shape
    (torch.Size([5, 1, 8, 8]), torch.Size([5, 2]))
    >>> vae.decode(torch.zeros(3, 2)).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(
        self, image_shape: tuple[int, ...] = (1, 8, 8), hidden: int = 256, latent_dim: int = 2
    ):
        super().__init__()
        check_positive_int("hidden", hidden)
        check_positive_int("latent_dim", latent_dim)
        self.image_shape, self.latent_dim = tuple(image_shape), latent_dim
        in_dim = math.prod(self.image_shape)
        self.encoder = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, in_dim),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance ``(B, latent_dim)`` of :math:`q(z \\mid x)` for a batch."""
        h = self.encoder(x.flatten(1))  # (B, hidden)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of :math:`p(x \\mid z)`: images ``(B, *image_shape)`` for ``(B, latent_dim)``."""
        return self.decoder(z).reshape(z.shape[0], *self.image_shape)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Reconstruction, ``mu`` and ``logvar`` of a batch (one reparameterised sample)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar


def vae_loss(
    x: torch.Tensor,
    recon: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
    sigma: float = 0.1,
) -> torch.Tensor:
    r"""Negative ELBO per example, with a Gaussian decoder of fixed standard deviation ``sigma``.

    :math:`\frac{1}{2\sigma^2}\lVert x - \hat x\rVert^2 + \beta\,\mathrm{KL}`,
    dropping the constant of the Gaussian log-likelihood. ``beta = 1`` is the
    ELBO; other values give the :math:`\beta`-VAE trade-off.

    Parameters
    ----------
    x, recon : torch.Tensor
        Images and their reconstructions, same shape ``(B, ...)``.
    mu, logvar : torch.Tensor
        ``(B, latent_dim)`` encoder outputs.
    beta : float, default 1.0
        Weight of the KL term, ``>= 0``.
    sigma : float, default 0.1
        Decoder standard deviation, ``> 0``; smaller values weight reconstruction more.

    Returns
    -------
    torch.Tensor
        Scalar: the batch mean of the negative ELBO (nats, up to a constant).

    Raises
    ------
    ValueError
        If ``beta < 0`` or ``sigma <= 0``.

    References
    ----------
    .. [1] Kingma and Welling, 2014; Higgins et al., "beta-VAE", ICLR 2017.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vae import vae_loss
    >>> x = torch.zeros(4, 64)
    >>> vae_loss(x, x, torch.zeros(4, 2), torch.zeros(4, 2)).item()  # perfect and prior-matching
    0.0
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    recon_term = F.mse_loss(recon, x, reduction="none").flatten(1).sum(1) / (2 * sigma**2)  # (B,)
    return (recon_term + beta * gaussian_kl(mu, logvar)).mean()


#: Settings of :func:`digits_vae`: epochs, batch size, Adam's learning rate,
#: the VAE's width and latent size, the decoder's :math:`\\sigma` and the seed.
DIGITS_VAE_SETTINGS: dict = {
    "epochs": 60,
    "batch": 128,
    "lr": 2e-3,
    "hidden": 256,
    "latent_dim": 2,
    "sigma": 0.3,
    "seed": 0,
}


def digits_vae(**overrides) -> tuple[VAE, dict]:
    """A :class:`VAE` trained on scikit-learn's digits, trained once and cached.

    Trained with :func:`vae_loss` on the training split of
    :func:`fmref.models.vit.digits_split` (pixels in ``[-1, 1]``), shuffled
    each epoch (:func:`~fmref.train.loop.epoch_batches`), with Adam on one
    thread (the gallery's latent-space example).

    Parameters
    ----------
    **overrides
        Settings to change from :data:`DIGITS_VAE_SETTINGS` (e.g. ``epochs=1``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    (VAE, dict)
        The model in eval mode and the history ``{"loss": [...]}`` (one loss
        per step).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.generative.vae import digits_vae
    >>> vae, history = digits_vae(epochs=1, hidden=8)
    >>> vae.latent_dim, len(history["loss"])  # 1,347 training digits, 128 a batch
    (2, 11)
    """
    from fmref.models.vit import digits_split
    from fmref.train.loop import epoch_batches, fit
    from fmref.zoo import cached, one_thread

    s = check_overrides("overrides", overrides, DIGITS_VAE_SETTINGS)

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def train():
        x_train = digits_split()[0]
        torch.manual_seed(s["seed"])
        g = torch.Generator().manual_seed(s["seed"])
        vae = VAE(hidden=s["hidden"], latent_dim=s["latent_dim"])

        def loss_fn(vae, idx):
            xb = x_train[idx]
            recon, mu, logvar = vae(xb, generator=g)
            return vae_loss(xb, recon, mu, logvar, sigma=s["sigma"])

        history = fit(
            vae,
            epoch_batches(len(x_train), s["batch"], s["epochs"], g),
            loss_fn,
            s["epochs"] * math.ceil(len(x_train) / s["batch"]),
            lr=s["lr"],  # Adam: AdamW without decay
        )
        return {"state_dict": vae.state_dict(), "losses": history["loss"]}

    result = cached("digits-vae", s, train)
    vae = VAE(hidden=s["hidden"], latent_dim=s["latent_dim"])
    vae.load_state_dict(result["state_dict"])
    return vae.eval(), {"loss": result["losses"]}
