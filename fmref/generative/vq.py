r"""Vector quantisation (VQ-VAE): a learned codebook that turns vectors into tokens.

Each encoder output :math:`z_e` is replaced by its nearest codebook entry
:math:`e_k`, so an image becomes a grid of integer tokens :math:`k` that an
autoregressive model (or a Transformer) can model. The argmin has no gradient;
the straight-through estimator copies the decoder's gradient from
:math:`z_q` to :math:`z_e`, and two extra terms train the codebook and keep the
encoder close to it:

.. math::

   \mathcal L_{VQ} = \lVert \operatorname{sg}[z_e] - e_k\rVert^2
                   + \beta\,\lVert z_e - \operatorname{sg}[e_k]\rVert^2 .
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_overrides, check_positive_int, check_tensor
from fmref.vision import patchify

__all__ = [
    "VectorQuantizer",
    "codebook_usage",
    "PatchVQAE",
    "DIGITS_PATCH_VQAE_SETTINGS",
    "digits_patch_vqae",
]


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantiser with a straight-through gradient and commitment loss.

    Parameters
    ----------
    num_codes : int
        Codebook size :math:`K`.
    code_dim : int
        Dimension of each code (the last dimension of the input).
    beta : float, default 0.25
        Commitment weight (van den Oord et al. use 0.25).

    Attributes
    ----------
    codebook : torch.nn.Embedding
        ``(num_codes, code_dim)`` code vectors.

    Raises
    ------
    ValueError
        In ``forward``, if the input's last dimension is not ``code_dim``.

    References
    ----------
    .. [1] van den Oord, Vinyals and Kavukcuoglu, "Neural Discrete Representation
       Learning", NeurIPS 2017, eq. 3.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vq import VectorQuantizer
    >>> vq = VectorQuantizer(num_codes=3, code_dim=2)
    >>> with torch.no_grad():
    ...     _ = vq.codebook.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]))
    >>> z = torch.tensor([[0.9, 1.2], [-0.1, 0.1]], requires_grad=True)
    >>> z_q, codes, loss = vq(z)
    >>> codes.tolist(), z_q.tolist()
    ([1, 0], [[1.0, 1.0], [0.0, 0.0]])
    >>> z_q.sum().backward(); z.grad  # straight-through: the gradient skips the argmin
    tensor([[1., 1.],
            [1., 1.]])
    """

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25):
        super().__init__()
        check_positive_int("num_codes", num_codes)
        check_positive_int("code_dim", code_dim)
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.codebook = nn.Embedding(num_codes, code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / num_codes, 1.0 / num_codes)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Indices ``(...)`` of the nearest code of each ``(..., code_dim)`` vector."""
        if z.shape[-1] != self.code_dim:
            raise ValueError(
                f"z must have last dimension code_dim={self.code_dim}, got {tuple(z.shape)}"
            )
        flat = z.reshape(-1, self.code_dim)  # (N, d)
        dist = torch.cdist(flat, self.codebook.weight)  # (N, K)
        return dist.argmin(-1).reshape(z.shape[:-1])

    def forward(self, z: torch.Tensor):
        """Quantise ``(..., code_dim)`` vectors.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor)
            ``z_q`` (the codes, with the straight-through gradient), ``codes``
            (indices ``(...)``) and the scalar codebook + commitment loss.
        """
        codes = self.quantize(z)
        e = self.codebook(codes)  # (..., d)
        loss = F.mse_loss(e, z.detach()) + self.beta * F.mse_loss(z, e.detach())
        z_q = z + (e - z).detach()  # forward: e; backward: identity to z
        return z_q, codes, loss


def codebook_usage(codes: torch.Tensor, num_codes: int) -> tuple[float, float]:
    """Share of codes in use and the perplexity of their distribution.

    Perplexity :math:`\\exp(-\\sum_k p_k \\log p_k)` equals ``num_codes`` when
    every code is used equally and 1 when a single code is used ("codebook
    collapse").

    Parameters
    ----------
    codes : torch.Tensor
        Integer code indices of any shape.
    num_codes : int
        Codebook size.

    Returns
    -------
    (float, float)
        Fraction of codes used at least once, and the perplexity.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vq import codebook_usage
    >>> codebook_usage(torch.tensor([0, 1, 2, 3]), 8)
    (0.5, 4.0)
    >>> codebook_usage(torch.zeros(10, dtype=torch.long), 8)
    (0.125, 1.0)
    """
    check_tensor("codes", codes, dtype="int")
    check_positive_int("num_codes", num_codes)
    counts = torch.bincount(codes.flatten(), minlength=num_codes).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float((counts > 0).double().mean()), round(float(entropy.exp()), 6)


class PatchVQAE(nn.Module):
    """A patch-wise VQ autoencoder: each 2x2 patch of an 8x8 image becomes one token.

    An MLP encodes each patch (:func:`fmref.vision.patchify`), a
    :class:`VectorQuantizer` replaces it by its nearest code, and an MLP
    decodes the code back to the patch's 4 pixels, so a digit is 16 tokens.

    Parameters
    ----------
    codes : int, default 32
        Codebook size.
    dim : int, default 8
        Dimension of each code.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vq import PatchVQAE
    >>> model = PatchVQAE()
    >>> x = torch.randn(3, 1, 8, 8)
    >>> recon, codes, loss = model(x)  # patches back, (B, 16) tokens, VQ loss
    >>> recon.shape, codes.shape, model.tokens(x).shape
    (torch.Size([3, 16, 4]), torch.Size([3, 16]), torch.Size([3, 16]))
    >>> model.decode_tokens(codes).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(self, codes: int = 32, dim: int = 8):
        super().__init__()
        codes, dim = check_positive_int("codes", codes), check_positive_int("dim", dim)
        self.enc = nn.Sequential(nn.Linear(4, 64), nn.SiLU(), nn.Linear(64, dim))
        self.vq = VectorQuantizer(codes, dim, beta=0.25)
        self.dec = nn.Sequential(nn.Linear(dim, 64), nn.SiLU(), nn.Linear(64, 4))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The ``(B, 16)`` codes of ``(B, 1, 8, 8)`` images."""
        return self.vq.quantize(self.enc(patchify(x, 2)))  # (B, 16)

    def decode_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """The ``(B, 1, 8, 8)`` images of ``(B, 16)`` codes."""
        p = self.dec(self.vq.codebook(codes))  # (B, 16, 4)
        return p.reshape(-1, 4, 4, 2, 2).permute(0, 1, 3, 2, 4).reshape(-1, 1, 8, 8)

    def forward(self, x: torch.Tensor):
        """Reconstructed ``(B, 16, 4)`` patches, ``(B, 16)`` codes and the VQ loss."""
        z_q, codes, vq_loss = self.vq(self.enc(patchify(x, 2)))
        return self.dec(z_q), codes, vq_loss


#: Settings of :func:`digits_patch_vqae`: codebook size and code dimension,
#: the autoencoder's Adam steps, batch size and learning rate, the seed, and
#: the MADE's steps.
DIGITS_PATCH_VQAE_SETTINGS: dict = {
    "codes": 32,
    "dim": 8,
    "steps": 1500,
    "batch": 128,
    "lr": 3e-3,
    "seed": 0,
    "made_steps": 800,
}


def digits_patch_vqae(**overrides):
    """A :class:`PatchVQAE` and a MADE over its tokens, trained on the digits once and cached.

    The autoencoder is trained on the training split of
    :func:`fmref.models.vit.digits_split` (reconstruction of the patches plus
    the codebook and commitment terms); then a
    :class:`~fmref.generative.autoregressive.MADE` (hidden width 256) learns the
    16-token grids of the training digits. Both use Adam on one thread.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`DIGITS_PATCH_VQAE_SETTINGS` (e.g.
        ``steps=1`` for a quick test); a different setting is a different cached
        model.

    Returns
    -------
    (PatchVQAE, fmref.generative.autoregressive.MADE)
        The autoencoder and the MADE, both in eval mode.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.vq import digits_patch_vqae
    >>> model, made = digits_patch_vqae(steps=1, made_steps=1, codes=4)
    >>> made.sample(2, generator=torch.Generator().manual_seed(0)).shape  # 2 grids of tokens
    torch.Size([2, 16])
    >>> int(model.tokens(torch.zeros(1, 1, 8, 8)).max()) < 4
    True
    """
    from fmref.generative.autoregressive import MADE
    from fmref.models.vit import digits_split
    from fmref.train.loop import fit
    from fmref.zoo import cached, one_thread

    s = check_overrides("overrides", overrides, DIGITS_PATCH_VQAE_SETTINGS)

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def train():
        x_train = digits_split()[0]
        torch.manual_seed(s["seed"])
        g = torch.Generator().manual_seed(s["seed"])
        model = PatchVQAE(s["codes"], s["dim"])

        def images(step):
            return x_train[torch.randint(0, len(x_train), (s["batch"],), generator=g)]

        def vq_loss_fn(model, xb):  # reconstruction + codebook and commitment terms
            recon, _, vq_loss = model(xb)
            return (recon - patchify(xb, 2)).pow(2).mean() + vq_loss

        fit(model, images, vq_loss_fn, s["steps"], lr=s["lr"])  # Adam
        tokens = model.tokens(x_train).detach()  # (1347, 16)
        made = MADE(seq_len=16, vocab_size=s["codes"], hidden=256)

        def codes(step):
            return tokens[torch.randint(0, len(tokens), (s["batch"],), generator=g)]

        fit(made, codes, lambda made, t: made.nll(t).mean(), s["made_steps"], lr=s["lr"])
        return {"vqae": model.state_dict(), "made": made.state_dict()}

    result = cached("digits-patch-vqae", s, train)
    model = PatchVQAE(s["codes"], s["dim"])
    model.load_state_dict(result["vqae"])
    made = MADE(seq_len=16, vocab_size=s["codes"], hidden=256)
    made.load_state_dict(result["made"])
    return model.eval(), made.eval()
