"""Bottleneck adapters (Houlsby et al. 2019).

A small two-layer network with a skip connection is inserted after a
sub-layer (attention or feed-forward) of every block:

``adapter(h) = h + W_up f(W_down h + b_down) + b_up``, ``W_down: (m, d)``, ``W_up: (d, m)``,

with a bottleneck ``m << d``. ``W_up`` starts at zero, so the adapter starts
as the identity and the adapted model as the base model. Each adapter trains
``2 d m + d + m`` parameters. Unlike LoRA, the adapter sits *in series* with
the sub-layer: it cannot be merged away and adds a little latency.
"""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_positive_int
from fmref.peft.lora import _check_targets, _matches, _replace

__all__ = ["BottleneckAdapter", "Adapted", "apply_adapters", "adapter_parameter_count"]


class BottleneckAdapter(nn.Module):
    """Houlsby's bottleneck adapter ``h + up(gelu(down(h)))``.

    Parameters
    ----------
    d_model : int
        Width of the hidden states it adapts.
    bottleneck : int
        Width ``m`` of the bottleneck.

    Attributes
    ----------
    down : torch.nn.Linear
        ``d_model -> bottleneck``, with bias.
    up : torch.nn.Linear
        ``bottleneck -> d_model``, with bias; weight and bias start at zero.

    Raises
    ------
    ValueError
        If a width is not a positive int.

    References
    ----------
    .. [1] Houlsby et al., "Parameter-Efficient Transfer Learning for NLP",
       ICML 2019, Section 2.1 and Figure 2.

    Examples
    --------
    >>> import torch
    >>> from fmref.peft.adapters import BottleneckAdapter
    >>> adapter = BottleneckAdapter(d_model=32, bottleneck=4)
    >>> h = torch.randn(2, 5, 32)
    >>> torch.equal(adapter(h), h)  # near-identity at initialisation
    True
    >>> sum(p.numel() for p in adapter.parameters())  # 2 * 32 * 4 + 32 + 4
    292
    """

    def __init__(self, d_model, bottleneck):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("bottleneck", bottleneck)
        self.down = nn.Linear(d_model, bottleneck)
        self.up = nn.Linear(bottleneck, d_model)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h):
        return h + self.up(F.gelu(self.down(h)))  # (..., d_model)


class Adapted(nn.Module):
    """A frozen sub-layer followed by a :class:`BottleneckAdapter`.

    ``Adapted(layer, adapter)(*args, **kwargs) == adapter(layer(*args, **kwargs))``,
    so it replaces an attention or MLP module without changing its call.

    Parameters
    ----------
    layer : torch.nn.Module
        The sub-layer; its output must be a tensor ``(..., d_model)``.
    adapter : BottleneckAdapter

    Examples
    --------
    >>> import torch
    >>> from fmref.peft.adapters import Adapted, BottleneckAdapter
    >>> mlp = torch.nn.Linear(8, 8)
    >>> wrapped = Adapted(mlp, BottleneckAdapter(8, 2))
    >>> x = torch.randn(3, 8)
    >>> torch.equal(wrapped(x), mlp(x))
    True
    """

    def __init__(self, layer, adapter):
        super().__init__()
        check_instance("layer", layer, nn.Module)
        check_instance("adapter", adapter, nn.Module)
        self.layer = layer
        self.adapter = adapter

    def forward(self, *args, **kwargs):
        return self.adapter(self.layer(*args, **kwargs))


def apply_adapters(model, d_model, bottleneck, target_modules=("attn", "mlp")):
    """Insert a bottleneck adapter after each matching sub-layer, in place.

    Everything else is frozen. Houlsby et al. place two adapters per block,
    after the attention and after the feed-forward sub-layer, before the
    residual addition; in fmref's :class:`~fmref.models.gpt.GPT` those are
    ``attn`` and ``mlp``, in :class:`~fmref.models.llama.Llama` ``attention``
    and ``feed_forward``. (The paper also trains the layer norms; here they
    stay frozen, so that the count is the adapters' alone.)

    Parameters
    ----------
    model : torch.nn.Module
        Model to adapt (modified in place).
    d_model : int
        Width of the sub-layers' outputs.
    bottleneck : int
        Bottleneck width ``m``.
    target_modules : tuple of str, default ("attn", "mlp")
        Sub-layers to adapt (matched as in :func:`fmref.peft.lora.apply_lora`).

    Returns
    -------
    list of str
        Names of the adapted sub-layers.

    Raises
    ------
    ValueError
        If ``target_modules`` matches nothing or a width is invalid.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.adapters import adapter_parameter_count, apply_adapters
    >>> from fmref.peft.lora import trainable_parameters
    >>> model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> apply_adapters(model, d_model=32, bottleneck=4)
    ['h.0.attn', 'h.0.mlp', 'h.1.attn', 'h.1.mlp']
    >>> trainable_parameters(model)[0] == adapter_parameter_count(32, 2, 4)
    True
    """
    targets = _check_targets(target_modules)
    check_positive_int("d_model", d_model)
    check_positive_int("bottleneck", bottleneck)
    names = [
        n for n, m in model.named_modules() if _matches(n, targets) and not isinstance(m, Adapted)
    ]
    if not names:
        raise ValueError(f"target_modules {targets} matched no module of {type(model).__name__}")
    for p in model.parameters():
        p.requires_grad_(False)
    for n in names:
        _replace(model, n, Adapted(model.get_submodule(n), BottleneckAdapter(d_model, bottleneck)))
    return names


def adapter_parameter_count(d_model, n_layers, bottleneck, per_layer=2):
    """Trainable parameters of Houlsby adapters: ``per_layer * n_layers * (2 d m + d + m)``.

    Parameters
    ----------
    d_model, n_layers, bottleneck : int
        Width ``d``, layers and bottleneck ``m``.
    per_layer : int, default 2
        Adapters per layer (after attention and after the feed-forward layer).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If an argument is not a positive int.

    References
    ----------
    .. [1] Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", ICML 2019.

    Examples
    --------
    >>> from fmref.peft.adapters import adapter_parameter_count
    >>> adapter_parameter_count(1024, 24, 64)  # 2 * 24 * (2*1024*64 + 1024 + 64)
    6343680
    """
    for name, v in (
        ("d_model", d_model),
        ("n_layers", n_layers),
        ("bottleneck", bottleneck),
        ("per_layer", per_layer),
    ):
        check_positive_int(name, v)
    return per_layer * n_layers * (2 * d_model * bottleneck + d_model + bottleneck)
