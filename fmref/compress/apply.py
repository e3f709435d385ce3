"""Compress every linear layer of a model with one method, and measure the result.

:func:`compress_weights` replaces the weight of each :class:`torch.nn.Linear`
by its quantised-then-dequantised value (the numbers a quantised kernel would
multiply with) and counts the bytes the compressed format stores;
:func:`lm_perplexity` measures what that did to a language model. Together they
draw the size/quality trade-off of Chapter XIV, which
:func:`tiny_gpt_quantization` measures for every method on the tiny GPT.

GPTQ and AWQ need the inputs each layer sees. :func:`compress_weights` takes
them from a calibration batch of token ids and quantises the layers one after
the other, each from the inputs that the model *with the layers before it
already quantised* produces (GPTQ's sequential order), so that a layer also
corrects the errors of those before it.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_overrides, check_tensor
from fmref.compress.awq import awq_quantize
from fmref.compress.fp8 import dequantize_fp8, quantize_fp8
from fmref.compress.gptq import gptq_quantize, rtn_quantize
from fmref.compress.nf4 import dequantize_nf4, quantize_nf4
from fmref.compress.quant import QuantLinear

__all__ = [
    "METHODS",
    "compress_weights",
    "lm_perplexity",
    "QUANT_STUDY_SETTINGS",
    "tiny_gpt_quantization",
]

METHODS = ("fp32", "bf16", "fp16", "int8", "int4", "nf4", "rtn", "gptq", "awq", "fp8-e4m3",
           "fp8-e5m2")  # fmt: skip
"""Methods :func:`compress_weights` knows."""

_CALIBRATED = ("gptq", "awq")
_SKIP = ("wte", "wpe", "lm_head", "tok_embeddings", "output")  # compress_weights' default


def _compress(w, method, group_size, bits=4, x=None):
    """(dequantised weight, stored bytes) of one ``(out, in)`` weight; ``x`` its inputs."""
    n = w.numel()
    if method in ("rtn", "gptq", "awq"):
        g = group_size or w.shape[1]
        # codes of b bits, and per group an fp16 scale and a b-bit zero point (GPTQ's qzeros)
        nbytes = n * bits / 8 + (n // g) * (2 + bits / 8)
        if method == "rtn":
            return rtn_quantize(w, bits, group_size), nbytes
        if method == "gptq":
            return gptq_quantize(w, x, bits, group_size), nbytes
        # AWQ's s in fp16 (an upper bound: most layers fold it into the previous one)
        return awq_quantize(w, x, bits, group_size), nbytes + 2 * w.shape[1]
    if method.startswith("fp8"):
        values, scale = quantize_fp8(w, method[4:], group_size)
        return dequantize_fp8(values, scale), n + 4 * scale.numel()
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


class _Captured(Exception):
    """Raised by the hook of :func:`_layer_inputs` to stop the forward pass."""


@torch.no_grad()
def _layer_inputs(model, layer, calib):
    """The inputs ``(n_tokens, in)`` that ``layer`` receives when ``model`` reads ``calib``."""
    store = {}

    def hook(module, args):
        store["x"] = args[0].detach().reshape(-1, args[0].shape[-1]).float()
        raise _Captured  # the layers after this one are not needed

    handle = layer.register_forward_pre_hook(hook)
    try:
        model(calib)
    except _Captured:
        pass
    finally:
        handle.remove()
    return store["x"]


def compress_weights(
    model,
    method,
    group_size=None,
    skip=("wte", "wpe", "lm_head", "tok_embeddings", "output"),  # as _SKIP
    bits=4,
    calib=None,
):
    """A copy of ``model`` whose linear layers carry ``method``-compressed weights.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; it is not modified.
    method : str
        One of :data:`METHODS`: ``"int8"`` is absmax per output channel (or per
        group), ``"int4"`` packed 4-bit absmax, ``"nf4"`` QLoRA's NormalFloat
        with double quantisation; ``"rtn"``, ``"gptq"`` and ``"awq"`` are
        ``bits``-bit codes on a min-max grid with zero points
        (:func:`~fmref.compress.gptq.rtn_quantize`,
        :func:`~fmref.compress.gptq.gptq_quantize`,
        :func:`~fmref.compress.awq.awq_quantize`); ``"fp8-e4m3"`` and
        ``"fp8-e5m2"`` are :func:`~fmref.compress.fp8.quantize_fp8`.
    group_size : int or tuple, optional
        Weights per scale for ``int8``/``int4``/``rtn``/``gptq``/``awq``
        (default: one scale per output channel), ``nf4`` (default 64) and FP8
        (default: one per tensor; a tuple is a block).
    skip : tuple of str
        Module names (last component) left untouched: embeddings and the output
        head by default, which are usually kept at higher precision.
    bits : int, default 4
        Code width of ``rtn``, ``gptq`` and ``awq``.
    calib : torch.Tensor, optional
        Calibration token ids ``(n_windows, T)``, required by ``gptq`` and ``awq``.

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
        If ``method`` is unknown, a group size does not fit a layer, or
        ``gptq``/``awq`` get no ``calib``.

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
    if method in _CALIBRATED:
        check_tensor("calib", calib, dtype="int", ndim=2, shape="(n_windows, T)", nonempty=True)
    model = copy.deepcopy(model).eval()
    params = nbytes = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, nn.Linear) or name.split(".")[-1] in skip:
                continue
            x = _layer_inputs(model, module, calib) if method in _CALIBRATED else None
            w_hat, b = _compress(module.weight.detach().float(), method, group_size, bits, x)
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


#: Settings of :func:`tiny_gpt_quantization`.
QUANT_STUDY_SETTINGS = {
    "calib_windows": 32,  # calibration windows of block_size tokens (2,048 tokens), training split
    "eval_tokens": 8192,  # validation tokens the perplexity is measured on (the first ones)
    "group_size": 32,  # input columns per scale of the 3- and 4-bit grids (divides 96 and 384)
    "fp8_block": 32,  # FP8 weight blocks of 32x32 (DeepSeek-V3: 128x128, wider than this model)
    "seed": 0,  # which calibration windows
}

# (label, method, bits, group size or the setting that holds it): the rows of the study
_STUDY = [
    ("fp32", "fp32", 32, None),
    ("int8", "int8", 8, None),
    ("FP8 E4M3", "fp8-e4m3", 8, None),
    ("FP8 E4M3", "fp8-e4m3", 8, "fp8_block"),
    ("FP8 E5M2", "fp8-e5m2", 8, None),
    ("FP8 E5M2", "fp8-e5m2", 8, "fp8_block"),
    ("NF4", "nf4", 4, 64),
    *[(m.upper(), m, b, g) for b in (4, 3) for g in ("group_size", None) for m in
      ("rtn", "gptq", "awq")],
]  # fmt: skip


def _row_name(label, method, group):
    if method == "fp32":
        return label
    if method.startswith("fp8"):
        return f"{label} {'per tensor' if group is None else f'{group}x{group}'}"
    return f"{label} {'per row' if group is None else f'g{group}'}"


def _weight_error(model, small):
    """Relative error of all the linear weights together, ``||W_hat - W|| / ||W||``."""
    pairs = [(m.weight, small.get_submodule(n).weight) for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and n.split(".")[-1] not in _SKIP]  # fmt: skip
    diff = sum(((b - a) ** 2).sum() for a, b in pairs)
    return (diff / sum((a**2).sum() for a, _ in pairs)).sqrt().item()


def _quantization_study(s):
    from fmref.text.corpus import python_docs
    from fmref.zoo import tiny_gpt

    model, tokenizer, _ = tiny_gpt()
    T = model.config.block_size
    train_ids = torch.tensor(tokenizer.encode(python_docs("train")))  # (N_train,)
    val_ids = torch.tensor(tokenizer.encode(python_docs("validation")))  # (N_val,)
    val_ids = val_ids[: s["eval_tokens"] + 1]  # + 1: the target of the last position
    g = torch.Generator().manual_seed(s["seed"])
    starts = torch.randint(0, train_ids.numel() - T, (s["calib_windows"],), generator=g)
    calib = torch.stack([train_ids[i : i + T] for i in starts.tolist()])  # (n, T)
    rows = []
    for label, method, bits, group_key in _STUDY:
        group = s[group_key] if isinstance(group_key, str) else group_key
        if method.startswith("fp8"):
            group = (group, group) if group else None
        small, report = compress_weights(model, method, group, bits=bits, calib=calib)
        group = group[0] if isinstance(group, tuple) else group  # a square FP8 block: its side
        rows.append({
            "name": _row_name(label, method, group),
            "label": label,
            "method": method,
            "bits": bits,
            "group_size": group,
            "bits_per_parameter": round(report["bits_per_parameter"], 3),
            "weight_error": round(_weight_error(model, small), 5),
            "perplexity": round(lm_perplexity(small, val_ids), 4),
        })  # fmt: skip
    return {"validation_tokens": val_ids.numel() - 1, "calibration_tokens": calib.numel(),
            "rows": rows}  # fmt: skip


def tiny_gpt_quantization(**overrides):
    """Validation perplexity of the tiny GPT under every quantiser, cached.

    The linear layers of the blocks of :func:`fmref.zoo.tiny_gpt` are
    compressed by :func:`compress_weights` with int8, FP8 (E4M3 and E5M2, one
    scale per tensor or per block), NF4, and RTN, GPTQ and AWQ at 4 and 3 bits
    (group-wise and per output channel). GPTQ and AWQ calibrate on
    ``calib_windows`` random windows of the training split; the perplexity is
    :func:`lm_perplexity` on the first ``eval_tokens`` tokens of the validation
    split. The result is cached
    (:func:`fmref.zoo.cached`, recipe ``"tiny-gpt-quant"``).

    Parameters
    ----------
    **overrides
        Settings to change from :data:`QUANT_STUDY_SETTINGS`.

    Returns
    -------
    dict
        ``"rows"``: one dict per method and bit width (``name``, e.g.
        ``"GPTQ g32"``, ``label``, ``method``, ``bits``, ``group_size``,
        ``bits_per_parameter``, ``weight_error`` (relative, of all the
        compressed weights together) and ``perplexity``);
        ``"validation_tokens"`` and ``"calibration_tokens"``.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    References
    ----------
    .. [1] Frantar et al., "GPTQ", ICLR 2023; Lin et al., "AWQ", MLSys 2024.

    Examples
    --------
    Chapter XIV prints the table (``tiny_gpt_quantization()["rows"]``); it is the
    zoo recipe ``"tiny-gpt-quant"``, computed on first use and then read from
    the cache:

    >>> from fmref.compress.apply import QUANT_STUDY_SETTINGS
    >>> from fmref.zoo import get
    >>> get("tiny-gpt-quant").function
    'fmref.compress.apply:tiny_gpt_quantization'
    >>> QUANT_STUDY_SETTINGS["calib_windows"] * 64  # calibration tokens of the tiny GPT
    2048
    """
    from fmref.zoo import cached, one_thread

    settings = check_overrides("overrides", overrides, QUANT_STUDY_SETTINGS)

    def run():
        with one_thread():  # the same numbers on any thread setting
            return _quantization_study(settings)

    return cached("tiny-gpt-quant", settings, run)
