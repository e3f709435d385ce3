"""Small time-conditioned denoisers :math:`\\varepsilon_\\theta(x_t, t, y)`.

* :class:`MLPDenoiser` for points in the plane (the swiss roll of Chapter XVII);
* :class:`TinyUNet` for 8x8 grey-scale digits: one down- and one up-sampling
  level with a skip connection, residual blocks that add a timestep embedding,
  and an optional class embedding (the "null" class ``num_classes`` means
  unconditional, for classifier-free guidance);
* :func:`digits_denoiser`: a class-conditional :class:`TinyUNet` trained on
  scikit-learn's digits once and cached (:mod:`fmref.zoo`);
* :func:`swiss_roll_denoiser`: an :class:`MLPDenoiser` trained on a
  two-dimensional swiss roll once and cached (the gallery's reverse process).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import (
    check_instance,
    check_overrides,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = [
    "timestep_embedding",
    "MLPDenoiser",
    "TinyUNet",
    "DigitsDiffusionConfig",
    "digits_denoiser",
    "SWISS_ROLL_SETTINGS",
    "swiss_roll_denoiser",
]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, as in DDPM (and Transformer positions).

    ``[sin(t * w_0), ..., sin(t * w_{d/2-1}), cos(t * w_0), ...]`` with
    ``w_i = max_period ** (-i / (d/2))``.

    Parameters
    ----------
    t : torch.Tensor
        ``(B,)`` timesteps.
    dim : int
        Embedding width; must be even.
    max_period : float, default 10000.0
        Longest wavelength.

    Returns
    -------
    torch.Tensor
        ``(B, dim)`` float32 embedding.

    Raises
    ------
    ValueError
        If ``dim`` is odd or not positive.

    References
    ----------
    .. [1] Ho, Jain and Abbeel, "Denoising Diffusion Probabilistic Models", 2020, appendix B.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.denoisers import timestep_embedding
    >>> e = timestep_embedding(torch.tensor([0, 10, 999]), 8)
    >>> e.shape, e[0].tolist()  # t = 0: sines 0, cosines 1
    (torch.Size([3, 8]), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even int, got {dim}")
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32) / half
    )  # (half,)
    angles = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, dim)


class MLPDenoiser(nn.Module):
    """Noise predictor for low-dimensional data: an MLP over ``[x_t, emb(t)]``.

    Parameters
    ----------
    data_dim : int, default 2
        Dimension of a data point.
    hidden : int, default 128
        Width of the hidden layers.
    num_layers : int, default 3
        Number of hidden layers.
    time_dim : int, default 32
        Width of the timestep embedding.

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.denoisers import MLPDenoiser
    >>> model = MLPDenoiser()
    >>> model(torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 999])).shape
    torch.Size([5, 2])
    """

    def __init__(
        self, data_dim: int = 2, hidden: int = 128, num_layers: int = 3, time_dim: int = 32
    ):
        super().__init__()
        check_positive_int("data_dim", data_dim)
        check_positive_int("hidden", hidden)
        check_positive_int("num_layers", num_layers)
        check_positive_int("time_dim", time_dim)
        self.time_dim = time_dim
        layers, width = [], data_dim + time_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, data_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predicted noise ``(B, data_dim)`` for ``(B, data_dim)`` points at ``(B,)`` timesteps."""
        return self.net(torch.cat([x, timestep_embedding(t, self.time_dim)], dim=-1))


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time(+class) embedding added in between."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        h = h + self.emb(emb)[:, :, None, None]  # broadcast the embedding over pixels
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class TinyUNet(nn.Module):
    """A two-level U-Net for small images, conditioned on the timestep and a class.

    ``8x8 -> 4x4 -> 8x8``: a residual block at full resolution, a strided
    convolution down, two residual blocks at half resolution, nearest-neighbour
    up-sampling, and a residual block over the concatenated skip connection.

    Parameters
    ----------
    in_channels : int, default 1
        Image channels.
    channels : tuple of int, default (32, 64)
        Widths at full and half resolution (multiples of 8, for GroupNorm).
    emb_dim : int, default 64
        Width of the timestep (and class) embedding.
    num_classes : int, optional
        Number of classes for a conditional model; label ``num_classes`` (or
        ``y=None``) is the null condition of classifier-free guidance.

    Raises
    ------
    ValueError
        If a width is not a positive multiple of 8.

    References
    ----------
    .. [1] Ronneberger, Fischer and Brox, "U-Net", 2015; Ho et al., 2020 (the DDPM U-Net).

    Examples
    --------
    >>> import torch
    >>> from fmref.diffusion.denoisers import TinyUNet
    >>> model = TinyUNet(num_classes=10)
    >>> x, t = torch.randn(4, 1, 8, 8), torch.tensor([0, 10, 100, 999])
    >>> model(x, t, torch.tensor([0, 1, 2, 3])).shape, model(x, t).shape
    (torch.Size([4, 1, 8, 8]), torch.Size([4, 1, 8, 8]))
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: tuple[int, int] = (32, 64),
        emb_dim: int = 64,
        num_classes: int | None = None,
    ):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("emb_dim", emb_dim)
        c1, c2 = channels
        if any(c < 8 or c % 8 for c in channels):
            raise ValueError(f"channels must be positive multiples of 8, got {channels}")
        self.emb_dim, self.num_classes = emb_dim, num_classes
        self.time_mlp = nn.Sequential(
            nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.class_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.inc = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down_block = _ResBlock(c1, c1, emb_dim)
        self.down = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid1 = _ResBlock(c2, c2, emb_dim)
        self.mid2 = _ResBlock(c2, c2, emb_dim)
        self.up = nn.Conv2d(c2, c1, 3, padding=1)
        self.up_block = _ResBlock(2 * c1, c1, emb_dim)
        self.out_norm = nn.GroupNorm(8, c1)
        self.out = nn.Conv2d(c1, in_channels, 3, padding=1)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predicted noise for ``(B, C, H, W)`` images, ``(B,)`` timesteps, labels or None."""
        emb = self.time_mlp(timestep_embedding(t, self.emb_dim))  # (B, E)
        if self.class_emb is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.class_emb(y)
        h1 = self.down_block(self.inc(x), emb)  # (B, c1, H, W)
        h = self.mid2(self.mid1(self.down(h1), emb), emb)  # (B, c2, H/2, W/2)
        h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))  # (B, c1, H, W)
        h = self.up_block(torch.cat([h, h1], dim=1), emb)  # (B, c1, H, W)
        return self.out(F.silu(self.out_norm(h)))


@dataclass
class DigitsDiffusionConfig:
    """Settings of the digit denoiser that Chapters XVII and XVIII share.

    Examples
    --------
    >>> from fmref.diffusion.denoisers import DigitsDiffusionConfig
    >>> DigitsDiffusionConfig().T
    1000
    """

    T: int = 1000  # diffusion steps
    schedule: str = "linear"  # "linear" or "cosine" (see the note in digits_denoiser)
    channels: tuple = (16, 32)  # U-Net widths at 8x8 and 4x4
    emb_dim: int = 32  # timestep / class embedding width
    p_uncond: float = 0.15  # condition dropout for classifier-free guidance
    steps: int = 600  # optimiser steps (about 11 CPU-seconds on one thread)
    batch_size: int = 64  # images per step
    lr: float = 8e-3  # AdamW peak learning rate (cosine decay)
    seed: int = 0  # initialisation, batches, noise

    def __post_init__(self):
        for name in ("T", "emb_dim", "steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        check_probability("p_uncond", self.p_uncond)
        check_positive("lr", self.lr)


def digits_denoiser(
    config: DigitsDiffusionConfig | None = None,
) -> tuple[TinyUNet, torch.Tensor, dict]:
    """A class-conditional :class:`TinyUNet` trained on the digits, trained once and cached.

    Trained with :func:`~fmref.diffusion.samplers.ddpm_loss` on the training
    split of :func:`fmref.models.vit.digits_split` (pixels in ``[-1, 1]``), with
    labels dropped to the null class with probability ``p_uncond``
    (:func:`~fmref.diffusion.guidance.drop_condition`).

    The model uses DDPM's linear schedule. With the cosine schedule the last
    beta is capped at 0.999, so a DDPM step from ``t = T - 1`` multiplies the
    error of the predicted :math:`\\hat x_0` by :math:`1/\\sqrt{1 - 0.999}
    \\approx 32`; diffusers hides this by clipping :math:`\\hat x_0` to
    ``[-1, 1]`` (``clip_sample=True``), which fmref's samplers do not do.

    Parameters
    ----------
    config : DigitsDiffusionConfig, optional
        Training settings; the default is the shared model.

    Returns
    -------
    (TinyUNet, torch.Tensor, dict)
        The model in eval mode, its ``(T,)`` :math:`\\bar\\alpha_t`, and the
        training history ``{"loss": [...]}`` (mean loss per 100 steps).

    Examples
    --------
    >>> from fmref.diffusion.denoisers import digits_denoiser
    >>> model, abar, history = digits_denoiser()
    >>> abar.shape, history["loss"][-1] < history["loss"][0]
    (torch.Size([1000]), True)
    """
    config = DigitsDiffusionConfig() if config is None else config
    check_instance("config", config, DigitsDiffusionConfig)
    from fmref.diffusion.guidance import drop_condition
    from fmref.diffusion.samplers import ddpm_loss
    from fmref.diffusion.schedules import alphas_cumprod, beta_schedule
    from fmref.models.vit import digits_split
    from fmref.train.loop import chunk_means, cosine_schedule, fit
    from fmref.zoo import cached, one_thread

    c = config or DigitsDiffusionConfig()
    abar = alphas_cumprod(beta_schedule(c.schedule, c.T))

    def build():
        return TinyUNet(1, tuple(c.channels), c.emb_dim, num_classes=10)

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def train():
        torch.manual_seed(c.seed)
        g = torch.Generator().manual_seed(c.seed)
        x, y = digits_split()[:2]
        model = build()

        def batch(step):  # images and their labels, some dropped to the null class
            idx = torch.randint(0, len(y), (c.batch_size,), generator=g)
            return x[idx], drop_condition(y[idx], c.p_uncond, 10, generator=g)

        def loss_fn(model, batch):
            images, labels = batch
            return ddpm_loss(model, images, abar, y=labels, generator=g)

        history = fit(
            model,
            batch,
            loss_fn,
            c.steps,
            lr=lambda step: cosine_schedule(step, 0, c.steps, c.lr, 0.0),
            fused=True,  # one kernel per step instead of a Python loop over the parameters
        )
        losses = chunk_means(history["loss"], 100)
        return {"state_dict": model.state_dict(), "history": {"loss": losses}}

    result = cached("digits-denoiser", asdict(c), train)
    model = build()
    model.load_state_dict(result["state_dict"])
    return model.eval(), abar, result["history"]


#: Settings of :func:`swiss_roll_denoiser`: Adam steps, batch size, learning
#: rate, seed of the weights and batches, and the MLP's width.
SWISS_ROLL_SETTINGS: dict = {"steps": 3000, "batch": 256, "lr": 2e-3, "seed": 0, "hidden": 128}


def swiss_roll_denoiser(**overrides) -> tuple[MLPDenoiser, torch.Tensor, torch.Tensor, dict]:
    """An :class:`MLPDenoiser` trained on a 2-D swiss roll, trained once and cached.

    The data are 4,000 points of scikit-learn's ``make_swiss_roll`` (noise 0.3,
    ``random_state=0``), coordinates 0 and 2, divided by 5 to roughly unit
    scale. The model learns to predict the noise added under DDPM's linear
    schedule of 1,000 steps (:func:`~fmref.diffusion.samplers.ddpm_loss`),
    with Adam on one thread.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`SWISS_ROLL_SETTINGS` (e.g. ``steps=2``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    (MLPDenoiser, torch.Tensor, torch.Tensor, dict)
        The model in eval mode, its ``(1000,)`` :math:`\\bar\\alpha_t`, the
        ``(4000, 2)`` training points, and the history ``{"loss": [...]}``
        (one loss per step).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.diffusion.denoisers import swiss_roll_denoiser
    >>> model, abar, data, history = swiss_roll_denoiser(steps=2, hidden=8)
    >>> abar.shape, data.shape, len(history["loss"])
    (torch.Size([1000]), torch.Size([4000, 2]), 2)
    """
    from sklearn.datasets import make_swiss_roll

    from fmref.diffusion.samplers import ddpm_loss
    from fmref.diffusion.schedules import alphas_cumprod, linear_beta_schedule
    from fmref.train.loop import fit
    from fmref.zoo import cached, one_thread

    settings = check_overrides("overrides", overrides, SWISS_ROLL_SETTINGS)
    points, _ = make_swiss_roll(4000, noise=0.3, random_state=0)
    data = torch.tensor(points[:, [0, 2]], dtype=torch.float32) / 5.0  # (4000, 2)
    abar = alphas_cumprod(linear_beta_schedule(1000))

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def train():
        torch.manual_seed(settings["seed"])
        g = torch.Generator().manual_seed(settings["seed"])
        model = MLPDenoiser(hidden=settings["hidden"])

        def batch(step):
            return data[torch.randint(0, len(data), (settings["batch"],), generator=g)]

        def loss_fn(model, x0):
            return ddpm_loss(model, x0, abar, generator=g)

        history = fit(model, batch, loss_fn, settings["steps"], lr=settings["lr"])  # Adam
        return {"state_dict": model.state_dict(), "losses": history["loss"]}

    result = cached("swiss-roll-denoiser", settings, train)
    model = MLPDenoiser(hidden=settings["hidden"])
    model.load_state_dict(result["state_dict"])
    return model.eval(), abar, data, {"loss": result["losses"]}
