"""LoRA: low-rank adaptation of frozen linear layers.

A frozen weight ``W0`` of shape ``(out, in)`` is adapted by a trainable
low-rank update,

``h = W0 x + (alpha / r) * B A x``, with ``A: (r, in)`` and ``B: (out, r)``,

so a layer trains ``r * (in + out)`` parameters instead of ``in * out``.
``A`` starts Kaiming-uniform and ``B`` at zero, so ``B A = 0``: a freshly
wrapped model *is* the base model. After training, :meth:`LoRALinear.merge`
folds ``(alpha / r) B A`` into ``W0``, so the adapted model runs at exactly the
base model's cost. Names and initialisation follow the ``peft`` library
(``lora_A``, ``lora_B``, ``scaling``), whose layer the tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_number, check_positive, check_positive_int

__all__ = [
    "LoRALinear",
    "apply_lora",
    "merge_lora",
    "trainable_parameters",
    "lora_parameter_count",
]


class LoRALinear(nn.Module):
    """A frozen :class:`torch.nn.Linear` plus a trainable low-rank update.

    ``y = base(x) + scaling * dropout(x) @ lora_A.T @ lora_B.T``, with
    ``scaling = alpha / r``.

    Parameters
    ----------
    base : torch.nn.Linear
        The layer to adapt; its weight and bias are frozen (``requires_grad``
        set to False) and kept, not copied.
    r : int
        Rank of the update.
    alpha : float
        Scale numerator: the update is multiplied by ``alpha / r``, so that
        changing ``r`` does not change the size of the update at
        initialisation-equivalent learning rates.
    dropout : float, default 0.0
        Dropout on the input of the low-rank path only.

    Attributes
    ----------
    lora_A : torch.nn.Parameter
        ``(r, in_features)``, Kaiming-uniform (``a = sqrt(5)``, as
        :class:`torch.nn.Linear` and ``peft``).
    lora_B : torch.nn.Parameter
        ``(out_features, r)``, zeros.
    scaling : float
        ``alpha / r``.
    merged : bool
        Whether the update is currently folded into ``base.weight``.

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`torch.nn.Linear`.
    ValueError
        If ``r`` is not a positive int, ``alpha`` is not positive or
        ``dropout`` is not in ``[0, 1)``.

    References
    ----------
    .. [1] Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
       ICLR 2022, Section 4.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.peft.lora import LoRALinear
    >>> base = torch.nn.Linear(16, 8)
    >>> layer = LoRALinear(base, r=2, alpha=4)
    >>> tuple(layer.lora_A.shape), tuple(layer.lora_B.shape), layer.scaling
    ((2, 16), (8, 2), 2.0)
    >>> x = torch.randn(3, 16)
    >>> torch.equal(layer(x), base(x))  # B = 0: the start is the base layer
    True
    >>> sum(p.numel() for p in layer.parameters() if p.requires_grad)  # r * (16 + 8)
    48
    >>> with torch.no_grad():
    ...     _ = layer.lora_B.normal_()
    >>> y = layer(x)
    >>> layer.merge()  # fold the update into the weight: one matrix again
    >>> torch.allclose(layer(x), y, atol=1e-5)
    True
    >>> layer.unmerge()
    >>> torch.allclose(layer(x), y, atol=1e-5), layer.merged
    (True, False)
    """

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}")
        self.r = check_positive_int("r", r)
        self.alpha = check_positive("alpha", alpha)
        self.scaling = self.alpha / self.r
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        kw = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **kw))  # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **kw))  # (out, r)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear and peft
        self.dropout = nn.Dropout(check_number("dropout", dropout, 0.0, 1.0, high_open=True))
        self.merged = False

    @property
    def in_features(self):
        """Input width of the base layer."""
        return self.base.in_features

    @property
    def out_features(self):
        """Output width of the base layer."""
        return self.base.out_features

    def delta_weight(self):
        """The update ``scaling * lora_B @ lora_A``, shaped like ``base.weight``.

        Returns
        -------
        torch.Tensor
            ``(out_features, in_features)``; its rank is at most ``r``.

        Examples
        --------
        >>> import torch
        >>> from fmref.peft.lora import LoRALinear
        >>> layer = LoRALinear(torch.nn.Linear(6, 5), r=2, alpha=2)
        >>> with torch.no_grad():
        ...     _ = layer.lora_B.normal_()
        >>> int(torch.linalg.matrix_rank(layer.delta_weight()))
        2
        """
        return self.scaling * (self.lora_B @ self.lora_A)  # (out, r) @ (r, in)

    def forward(self, x):
        y = self.base(x)  # (..., out)
        if self.merged:
            return y
        z = F.linear(self.dropout(x), self.lora_A)  # (..., r)
        return y + self.scaling * F.linear(z, self.lora_B)  # (..., out)

    @torch.no_grad()
    def merge(self):
        """Fold the update into ``base.weight``; the forward pass becomes one matmul."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self):
        """Take the update out of ``base.weight`` again (undo :meth:`merge`)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self):
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}, merged={self.merged}"


def _matches(name, targets):
    # peft's rule: a target matches a module whose full name is it or ends with "." + it
    return any(name == t or name.endswith("." + t) for t in targets)


def _check_targets(target_modules):
    if isinstance(target_modules, str):
        target_modules = (target_modules,)
    if not isinstance(target_modules, Sequence) or not target_modules:
        raise ValueError(f"target_modules must be a non-empty tuple of str, got {target_modules!r}")
    if not all(isinstance(t, str) and t for t in target_modules):
        raise ValueError(f"target_modules must be a non-empty tuple of str, got {target_modules!r}")
    return tuple(target_modules)


def _replace(model, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def apply_lora(model, target_modules=("q_proj", "v_proj"), r=8, alpha=16, dropout=0.0):
    """Wrap the matching linear layers of ``model`` in :class:`LoRALinear`, in place.

    Every parameter of the model is frozen first; only the new ``lora_A`` and
    ``lora_B`` train. A target matches a module whose qualified name equals it
    or ends with ``"." + target`` (the rule of ``peft``): ``"q_proj"`` matches
    ``h.0.attn.q_proj``. fmref's :class:`~fmref.models.gpt.GPT` and
    :class:`~fmref.models.llama.Llama` (:class:`~fmref.nn.attention.MultiHeadAttention`,
    :class:`~fmref.models.llama.LlamaAttention`) name their projections
    ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj`` (separate, unlike the
    fused ``c_attn`` of GPT-2 in transformers); GPT's MLP has ``c_fc`` and
    ``c_proj``, LLaMA's SwiGLU ``w1``, ``w2`` and ``w3``.

    Parameters
    ----------
    model : torch.nn.Module
        Model to adapt (modified in place).
    target_modules : tuple of str, default ("q_proj", "v_proj")
        Names of the linear layers to adapt (the LoRA paper's ``W_q`` and ``W_v``).
    r : int, default 8
        Rank.
    alpha : float, default 16
        Scale numerator (``scaling = alpha / r``).
    dropout : float, default 0.0
        Dropout on the input of each low-rank path.

    Returns
    -------
    list of str
        Qualified names of the wrapped layers.

    Raises
    ------
    ValueError
        If ``target_modules`` matches no module, or ``r``, ``alpha`` or
        ``dropout`` is invalid.
    TypeError
        If a matching module is not a :class:`torch.nn.Linear`.

    References
    ----------
    .. [1] Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
       ICLR 2022, Sections 4.2 and 7.1.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.lora import apply_lora, trainable_parameters
    >>> model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> apply_lora(model, r=4, alpha=8)
    ['h.0.attn.q_proj', 'h.0.attn.v_proj', 'h.1.attn.q_proj', 'h.1.attn.v_proj']
    >>> trainable_parameters(model)[0]  # 4 layers * r * (32 + 32)
    1024
    >>> apply_lora(model, target_modules=("qkv",))
    Traceback (most recent call last):
    ...
    ValueError: target_modules ('qkv',) matched no module of GPT; names that match its
    linear layers: 'c_fc', 'c_proj', 'k_proj', 'lm_head', 'out_proj' (or a qualified name
    such as 'h.0.attn.k_proj')
    """
    targets = _check_targets(target_modules)
    check_positive_int("r", r)
    check_positive("alpha", alpha)
    check_number("dropout", dropout, 0.0, 1.0, high_open=True)
    names = [  # a LoRALinear is never wrapped twice
        n
        for n, m in model.named_modules()
        if _matches(n, targets) and not isinstance(m, LoRALinear)
    ]
    if not names:
        wrapped = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
        linear = [  # the layers a target could name, LoRA's own inner layers left out
            n
            for n, m in model.named_modules()
            if isinstance(m, nn.Linear) and not any(n.startswith(w + ".") for w in wrapped)
        ]
        hint = ", ".join(repr(n) for n in sorted({n.rsplit(".", 1)[-1] for n in linear}))
        hint = (
            f"; names that match its linear layers: {hint} (or a qualified name such as "
            f"{linear[0]!r})" if linear else "; it has no torch.nn.Linear layer"
        )
        raise ValueError(
            f"target_modules {targets} matched no module of {type(model).__name__}{hint}"
        )
    for n in names:
        m = model.get_submodule(n)
        if not isinstance(m, nn.Linear):
            raise TypeError(
                f"target_modules must name torch.nn.Linear layers; {n} is {type(m).__name__}"
            )
    for p in model.parameters():
        p.requires_grad_(False)
    for n in names:
        _replace(model, n, LoRALinear(model.get_submodule(n), r, alpha, dropout))
    return names


def merge_lora(model):
    """Merge every :class:`LoRALinear` of ``model`` and unwrap it to a plain linear.

    The result has the base model's architecture and cost, with the adapted
    weights: the form in which a LoRA fine-tune is usually served.

    Parameters
    ----------
    model : torch.nn.Module
        A model adapted with :func:`apply_lora` (modified in place).

    Returns
    -------
    int
        Number of layers merged.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.lora import apply_lora, merge_lora
    >>> model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> n_base = model.num_parameters()
    >>> _ = apply_lora(model, r=2)
    >>> merge_lora(model), model.num_parameters() == n_base, type(model.h[0].attn.q_proj).__name__
    (4, True, 'Linear')
    """
    check_instance("model", model, nn.Module)
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for n in names:
        layer = model.get_submodule(n)
        layer.merge()
        _replace(model, n, layer.base)
    return len(names)


def trainable_parameters(model):
    """Count the trainable and all parameters (shared tensors once).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    tuple of int
        ``(trainable, total)``.

    Examples
    --------
    >>> import torch
    >>> from fmref.peft.lora import trainable_parameters
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    >>> net[0].requires_grad_(False)
    Linear(in_features=4, out_features=4, bias=True)
    >>> trainable_parameters(net)  # (4*2 + 2, 20 + 10)
    (10, 30)
    """
    check_instance("model", model, nn.Module)
    params = list(model.parameters())  # de-duplicates tied weights
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return trainable, sum(p.numel() for p in params)


def lora_parameter_count(d_model, n_layers, r, targets=("q_proj", "v_proj")):
    """Trainable parameters of LoRA on square ``d_model x d_model`` matrices.

    Each adapted matrix adds ``r * (d_model + d_model)`` parameters; with
    ``n`` matrices per layer the model adds ``2 * n * n_layers * d_model * r``
    (the LoRA paper's ``|Θ| = 2 L̂ d_model r``).

    Parameters
    ----------
    d_model : int
        Model width.
    n_layers : int
        Transformer layers.
    r : int
        Rank.
    targets : int or sequence of str, default ("q_proj", "v_proj")
        The adapted matrices per layer, or their number.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a size or ``r`` is not a positive int or ``targets`` is empty.

    References
    ----------
    .. [1] Hu et al., "LoRA", ICLR 2022, Section 4.2 and Table 5 (GPT-3,
       ``W_q`` and ``W_v`` at ``r = 4``: the "18M" budget).

    Examples
    --------
    >>> from fmref.peft.lora import lora_parameter_count
    >>> lora_parameter_count(12288, 96, r=1)  # GPT-3 175B, W_q and W_v: 2 * 96 * 2 * 12288
    4718592
    >>> lora_parameter_count(12288, 96, r=4) / 1e6  # the paper's "18M" budget
    18.874368
    >>> lora_parameter_count(12288, 96, r=8, targets=1)  # one matrix type at r = 8: same
    18874368
    """
    check_positive_int("d_model", d_model)
    check_positive_int("n_layers", n_layers)
    check_positive_int("r", r)
    if isinstance(targets, int) and not isinstance(targets, bool):
        n_targets = check_positive_int("targets", targets)
    else:
        n_targets = len(_check_targets(targets))
    return 2 * n_targets * n_layers * d_model * r
