"""(IA)³: learned rescaling of keys, values and feed-forward activations.

"Infused Adapter by Inhibiting and Amplifying Inner Activations" (Liu et al.
2022) multiplies three activations of every block elementwise by learned
vectors: the keys ``l_k ⊙ k``, the values ``l_v ⊙ v`` and the feed-forward
hidden units ``l_ff ⊙ f(W_1 x)``. The vectors start at one (the base model)
and are the only trainable parameters: ``2 d_kv + d_ff`` per layer, fewer than
any other method of this chapter. Like LoRA, a rescaling can be folded into the
weights after training: ``diag(l) W`` for keys and values, ``W diag(l)`` for
the down projection.

:class:`IA3Linear` scales either the output of a linear layer (keys and
values) or its input (the feed-forward down projection, whose input is the
hidden activation), as ``peft``'s ``IA3`` does with ``feedforward_modules``.
"""

from __future__ import annotations

import torch
from torch import nn

from fmref.peft.lora import _check_targets, _matches, _replace

__all__ = ["IA3Linear", "apply_ia3"]


class IA3Linear(nn.Module):
    """A frozen linear layer whose output (or input) is scaled by a learned vector.

    Parameters
    ----------
    base : torch.nn.Linear
        The layer; frozen.
    feedforward : bool, default False
        Scale the input (``base(l ⊙ x)``, for the feed-forward down projection)
        instead of the output (``l ⊙ base(x)``, for keys and values).

    Attributes
    ----------
    ia3_l : torch.nn.Parameter
        Ones of size ``in_features`` (feedforward) or ``out_features``.

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`torch.nn.Linear`.

    References
    ----------
    .. [1] Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and
       Cheaper than In-Context Learning", NeurIPS 2022, Section 3.3.

    Examples
    --------
    >>> import torch
    >>> from fmref.peft.ia3 import IA3Linear
    >>> base = torch.nn.Linear(4, 3, bias=False)
    >>> layer = IA3Linear(base)
    >>> x = torch.randn(2, 4)
    >>> torch.equal(layer(x), base(x)), layer.ia3_l.numel()
    (True, 3)
    >>> with torch.no_grad():
    ...     layer.ia3_l[0] = 0.0  # inhibit the first output
    >>> layer(x)[:, 0].abs().sum().item()
    0.0
    >>> IA3Linear(base, feedforward=True).ia3_l.numel()  # one scale per input
    4
    """

    def __init__(self, base, feedforward=False):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}")
        self.base = base.requires_grad_(False)
        self.feedforward = bool(feedforward)
        size = base.in_features if self.feedforward else base.out_features
        self.ia3_l = nn.Parameter(torch.ones(size, dtype=base.weight.dtype))

    def forward(self, x):
        if self.feedforward:
            return self.base(x * self.ia3_l)  # scale the hidden activation
        return self.base(x) * self.ia3_l  # scale keys or values


def apply_ia3(
    model, target_modules=("k_proj", "v_proj", "c_proj"), feedforward_modules=("c_proj",)
):
    """Wrap matching linear layers in :class:`IA3Linear`, freezing everything else.

    The defaults suit fmref's :class:`~fmref.models.gpt.GPT` (keys, values and
    the MLP's down projection ``c_proj``); for :class:`~fmref.models.llama.Llama`
    use ``("k_proj", "v_proj", "w2")`` and ``feedforward_modules=("w2",)``.

    Parameters
    ----------
    model : torch.nn.Module
        Model to adapt (in place).
    target_modules : tuple of str
        Layers to wrap (matched as in :func:`fmref.peft.lora.apply_lora`).
    feedforward_modules : tuple of str
        The subset of targets whose *input* is scaled.

    Returns
    -------
    list of str
        Names of the wrapped layers.

    Raises
    ------
    ValueError
        If ``target_modules`` matches nothing.
    TypeError
        If a matching module is not a :class:`torch.nn.Linear`.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.ia3 import apply_ia3
    >>> from fmref.peft.lora import trainable_parameters
    >>> model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> len(apply_ia3(model))
    6
    >>> trainable_parameters(model)[0]  # 2 layers * (32 + 32 + 4 * 32)
    384
    """
    targets = _check_targets(target_modules)
    ff = tuple(feedforward_modules)
    names = [
        n for n, m in model.named_modules() if _matches(n, targets) and not isinstance(m, IA3Linear)
    ]
    if not names:
        raise ValueError(f"target_modules {targets} matched no module of {type(model).__name__}")
    for n in names:
        m = model.get_submodule(n)
        if not isinstance(m, nn.Linear):
            kind = type(m).__name__
            raise TypeError(f"target_modules must name torch.nn.Linear layers; {n} is {kind}")
    model.requires_grad_(False)
    for n in names:
        _replace(model, n, IA3Linear(model.get_submodule(n), feedforward=_matches(n, ff)))
    return names
