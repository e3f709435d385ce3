r"""Autoregressive image models: one pixel (or one VQ token) at a time.

The chain rule writes any distribution over a sequence of discrete values as
:math:`p(x) = \prod_i p(x_i \mid x_{<i})`. PixelRNN/PixelCNN order an image's
pixels in raster order; VQ-VAE and VQGAN model the grid of codebook tokens the
same way. :class:`MADE` gets all conditionals from *one* forward pass by masking
the weights of an MLP so that output :math:`i` never sees inputs :math:`\ge i`,
the same trick a causal attention mask plays in a GPT. Sampling still takes one
pass per position.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_int, check_positive_int

__all__ = ["quantize_pixels", "dequantize_pixels", "MaskedLinear", "MADE"]


def quantize_pixels(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Map pixels in ``[-1, 1]`` to integers from 0 to ``levels - 1`` (uniform bins).

    Parameters
    ----------
    x : torch.Tensor
        Pixels in ``[-1, 1]`` (values outside are clamped).
    levels : int
        Number of grey levels, ``>= 2``.

    Returns
    -------
    torch.Tensor
        Long tensor shaped like ``x``.

    Raises
    ------
    ValueError
        If ``levels < 2``.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.autoregressive import quantize_pixels
    >>> quantize_pixels(torch.tensor([-1.0, -0.2, 0.3, 1.0]), 4).tolist()
    [0, 1, 2, 3]
    """
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    return ((x.clamp(-1, 1) + 1) / 2 * levels).long().clamp(max=levels - 1)


def dequantize_pixels(codes: torch.Tensor, levels: int) -> torch.Tensor:
    """Centres of the bins of :func:`quantize_pixels`, back in ``[-1, 1]``.

    Parameters
    ----------
    codes : torch.Tensor
        Integers ``0 .. levels - 1``.
    levels : int
        Number of grey levels.

    Returns
    -------
    torch.Tensor
        Float pixels.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.autoregressive import dequantize_pixels
    >>> dequantize_pixels(torch.tensor([0, 3]), 4).tolist()
    [-0.75, 0.75]
    """
    check_int("levels", levels, low=2)
    return (codes.float() + 0.5) / levels * 2 - 1


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask.

    Parameters
    ----------
    in_features, out_features : int
        Sizes, as for :class:`torch.nn.Linear`.
    mask : torch.Tensor
        ``(out_features, in_features)`` 0/1 tensor; ``mask[o, i] = 0`` cuts
        input ``i`` from output ``o``.

    Raises
    ------
    ValueError
        If ``mask`` has the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.autoregressive import MaskedLinear
    >>> layer = MaskedLinear(2, 2, torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    >>> x = torch.tensor([[1.0, 5.0]], requires_grad=True)
    >>> layer(x)[0, 0].backward()
    >>> x.grad[0, 1].item()  # output 0 does not see input 1
    0.0
    """

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        if mask.shape != (out_features, in_features):
            raise ValueError(
                f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}"
            )
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation over discrete sequences.

    Input: ``(B, L)`` integers in ``0 .. vocab_size - 1`` (grey levels of
    pixels in raster order, or VQ tokens), one-hot encoded. Output: logits
    ``(B, L, vocab_size)`` where position ``i`` depends on positions ``< i`` only
    (position 0 on nothing: a learned marginal).

    Parameters
    ----------
    seq_len : int
        Number of positions ``L`` (64 pixels of an 8x8 image).
    vocab_size : int
        Values per position.
    hidden : int, default 256
        Width of the hidden layers.
    num_layers : int, default 2
        Number of masked hidden layers.

    References
    ----------
    .. [1] Germain, Gregor, Murray and Larochelle, "MADE: Masked Autoencoder for
       Distribution Estimation", ICML 2015.
    .. [2] van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016.

    Examples
    --------
    >>> import torch
    >>> from fmref.generative.autoregressive import MADE
    >>> model = MADE(seq_len=16, vocab_size=4, hidden=32)
    >>> x = torch.randint(0, 4, (3, 16))
    >>> model(x).shape, model.nll(x).shape
    (torch.Size([3, 16, 4]), torch.Size([3]))
    >>> model.sample(2, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 16])
    """

    def __init__(self, seq_len: int, vocab_size: int, hidden: int = 256, num_layers: int = 2):
        super().__init__()
        check_positive_int("seq_len", seq_len)
        check_positive_int("vocab_size", vocab_size)
        check_positive_int("hidden", hidden)
        check_positive_int("num_layers", num_layers)
        self.seq_len, self.vocab_size = seq_len, vocab_size
        L, V = seq_len, vocab_size
        in_deg = torch.arange(L).repeat_interleave(
            V
        )  # (L*V,) one-hot block of position i has degree i
        # hidden unit degrees cycle over 0 .. L-2: unit of degree m may see inputs with degree <= m
        hid_deg = torch.arange(hidden) % max(L - 1, 1)
        layers, prev = [], in_deg
        for _ in range(num_layers):
            layers += [
                MaskedLinear(len(prev), hidden, (hid_deg[:, None] >= prev[None, :]).float()),
                nn.ReLU(),
            ]
            prev = hid_deg
        out_deg = torch.arange(L).repeat_interleave(
            V
        )  # output i may see hidden units of degree < i
        layers.append(MaskedLinear(hidden, L * V, (out_deg[:, None] > prev[None, :]).float()))
        self.net = nn.Sequential(*layers)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, L, V)`` of :math:`p(x_i \\mid x_{<i})` for ``(B, L)`` tokens."""
        one_hot = F.one_hot(tokens, self.vocab_size).float().flatten(1)  # (B, L*V)
        return self.net(one_hot).view(-1, self.seq_len, self.vocab_size)

    def nll(self, tokens: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood in nats of each sequence, ``(B,)``."""
        logits = self(tokens)
        return F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none").sum(-1)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """Draw ``n`` sequences, one position per forward pass (``L`` passes)."""
        tokens = torch.zeros(n, self.seq_len, dtype=torch.long)
        for i in range(self.seq_len):
            probs = F.softmax(self(tokens)[:, i] / temperature, dim=-1)  # (n, V)
            tokens[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return tokens
