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

from fmref._validate import check_positive_int, check_tensor

__all__ = ["VectorQuantizer", "codebook_usage"]


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
