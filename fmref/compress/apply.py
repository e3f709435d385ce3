"""Compress every linear layer of a model with one method, and measure the result.

:func:`compress_weights` replaces the weight of each :class:`torch.nn.Linear`
by its quantised-then-dequantised value (the numbers a quantised kernel would
multiply with) and counts the bytes the compressed format stores;
:func:`lm_perplexity` measures what that did to a language model. Together they
draw the size/quality trade-off of Chapter XIV.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from fmref.compress.nf4 import dequantize_nf4, quantize_nf4
from fmref.compress.quant import QuantLinear

__all__ = ["METHODS", "compress_weights", "lm_perplexity"]

METHODS = ("fp32", "bf16", "fp16", "int8", "int4", "nf4")
"""Methods :func:`compress_weights` knows."""


def _compress(w, method, group_size):
    """(dequantised weight, stored bytes) of one ``(out, in)`` weight."""
    n = w.numel()
    if method == "fp32":
        return w.clone(), 4 * n
    if method in ("bf16", "fp16"):
        dtype = torch.bfloat16 if method == "bf16" else torch.float16
        return w.to(dtype).float(), 2 * n
    if method in ("int8", "int4"):
        q = QuantLinear(w, None, bits=8 if method == "int8" else 4, group_size=group_size)
        return q.dequantized_weight(), q.weight_nbytes()
    q = quantize_nf4(w, group_size=group_size or 64)
    return dequantize_nf4(q), q.nbytes()


def compress_weights(
    model, method, group_size=None, skip=("wte", "wpe", "lm_head", "tok_embeddings", "output")
):
    """A copy of ``model`` whose linear layers carry ``method``-compressed weights.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; it is not modified.
    method : str
        One of :data:`METHODS`: ``"int8"`` is absmax per output channel (or per
        group), ``"int4"`` packed 4-bit absmax, ``"nf4"`` QLoRA's NormalFloat
        with double quantisation.
    group_size : int, optional
        Weights per scale for ``int8``/``int4`` (default: one scale per output
        channel) and ``nf4`` (default 64).
    skip : tuple of str
        Module names (last component) left untouched: embeddings and the output
        head by default, which are usually kept at higher precision.

    Returns
    -------
    model : torch.nn.Module
        The compressed copy, in eval mode.
    report : dict
        ``"params"`` (weights compressed), ``"bytes"`` (their stored size),
        ``"fp32_bytes"`` and ``"bits_per_parameter"``.

    Raises
    ------
    ValueError
        If ``method`` is unknown or a group size does not fit a layer.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.apply import compress_weights
    >>> net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
    ...                           torch.nn.Linear(128, 64))
    >>> small, report = compress_weights(net, "int8")
    >>> report["params"], report["bytes"], round(report["bits_per_parameter"], 3)
    (16384, 16768, 8.188)
    >>> x = torch.randn(4, 64)
    >>> bool((small(x) - net(x)).abs().max() < 0.01)
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    model = copy.deepcopy(model).eval()
    params = nbytes = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, nn.Linear) or name.split(".")[-1] in skip:
                continue
            w_hat, b = _compress(module.weight.detach().float(), method, group_size)
            module.weight.copy_(w_hat.to(module.weight.dtype))
            params += module.weight.numel()
            nbytes += b
    return model, {
        "params": params,
        "bytes": nbytes,
        "fp32_bytes": 4 * params,
        "bits_per_parameter": 8 * nbytes / params if params else float("nan"),
    }


@torch.no_grad()
def lm_perplexity(model, ids, block_size=None, max_windows=None):
    """Perplexity of a causal LM on a token stream, over non-overlapping windows.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(idx) -> logits (B, T, V)``.
    ids : torch.Tensor
        1-D token ids.
    block_size : int, optional
        Window length; default ``model.config.block_size`` (or ``max_seq_len``).
    max_windows : int, optional
        Use at most this many windows (from the start).

    Returns
    -------
    float
        ``exp`` of the mean next-token cross-entropy.

    Raises
    ------
    ValueError
        If ``ids`` holds fewer than ``block_size + 1`` tokens.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.apply import lm_perplexity
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))
    >>> ppl = lm_perplexity(model, torch.randint(0, 50, (200,)))
    >>> 40 < ppl < 60  # an untrained model is close to uniform over 50 tokens
    True
    """
    if block_size is None:
        config = model.config
        block_size = getattr(config, "block_size", None) or config.max_seq_len
    n = (ids.numel() - 1) // block_size
    if n < 1:
        raise ValueError(
            f"ids must hold at least block_size + 1 = {block_size + 1} tokens, got {ids.numel()}"
        )
    n = n if max_windows is None else min(n, max_windows)
    x = ids[: n * block_size].reshape(n, block_size)  # (n, T)
    y = ids[1 : n * block_size + 1].reshape(n, block_size)  # (n, T) next tokens
    model.eval()
    logits = model(x)  # (n, T, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    return math.exp(loss.item())
