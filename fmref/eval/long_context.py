"""Context extension: a RoPE model trained short, evaluated long with each RoPE scaling.

A tiny :class:`~fmref.models.llama.Llama` is trained on the bytes of the
Python documentation at a short context (:func:`long_context_llama`, a
:mod:`fmref.zoo` recipe), then evaluated, without any fine-tuning, on windows
2, 4 and 8 times longer with its RoPE left alone, interpolated (PI), rescaled
by dynamic NTK, or by YaRN (:func:`context_extension_perplexity`). The RoPE
frequencies come from :func:`fmref.nn.position.rope_inv_freq`; only the
configuration changes, never the weights.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import torch

from fmref._validate import check_in, check_instance, check_overrides, check_positive_int

__all__ = [
    "LONG_CONTEXT_SETTINGS",
    "EXTENSION_METHODS",
    "extension_scaling",
    "with_rope_scaling",
    "long_context_llama",
    "context_extension_perplexity",
]

#: Settings of :func:`long_context_llama`: a 2-layer Llama on bytes, trained at 64 tokens.
LONG_CONTEXT_SETTINGS: dict[str, Any] = {
    "block_size": 64,  # training context in bytes (the "original" length of every scaling)
    "dim": 64,  # model width
    "n_layers": 2,  # Llama blocks
    "n_heads": 4,  # heads of 16 dimensions: 8 RoPE pairs each
    "hidden_dim": 172,  # SwiGLU width, about 8/3 * dim
    "rope_theta": 10000.0,  # RoPE base (LLaMA 1 and 2)
    "steps": 300,  # AdamW steps, on one CPU thread
    "batch_size": 16,  # windows per step: 1,024 bytes
    "lr_max": 3e-3,  # peak learning rate
    "lr_min": 3e-4,  # cosine floor
    "warmup": 30,  # linear warm-up steps
    "weight_decay": 0.1,  # on matrices and embeddings
    "eval_interval": 100,  # steps between validations
    "eval_batches": 4,  # batches per validation
    "seed": 0,  # initial weights and batches
    "eval_tokens": 2048,  # validation bytes scored at every length for the stored table
}

#: The RoPE treatments compared: none, position interpolation, dynamic NTK, YaRN.
EXTENSION_METHODS = ("none", "pi", "ntk", "yarn")


def extension_scaling(method, factor, original_len, ntk_factor=2.0):
    """The ``rope_scaling`` dict that extends a RoPE model by ``factor`` with ``method``.

    Parameters
    ----------
    method : {"none", "pi", "ntk", "yarn"}
        ``"pi"``: position interpolation (``"linear"`` by ``factor``); ``"ntk"``:
        dynamic NTK scaling (``"dynamic"``, whose base grows with the current
        length, with the hyperparameter ``ntk_factor``); ``"yarn"``: YaRN by
        ``factor`` with its default ``beta_fast = 32``, ``beta_slow = 1``.
    factor : float
        Target length over the training length; ``1`` needs no scaling.
    original_len : int
        The training context.
    ntk_factor : float, default 2.0
        Dynamic NTK's ``factor``: at length ``L`` the base is multiplied by
        ``(ntk_factor * L / original_len - ntk_factor + 1)^(d / (d - 2))``.

    Returns
    -------
    dict or None
        A scaling for :class:`~fmref.models.llama.LlamaConfig` ``rope_scaling``;
        None for ``"none"`` or ``factor == 1``.

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``factor < 1`` or ``original_len`` is not a
        positive int.

    References
    ----------
    .. [1] Chen et al., "Extending Context Window of Large Language Models via
       Positional Interpolation", 2023.
    .. [2] Peng et al., "YaRN: Efficient Context Window Extension of Large
       Language Models", ICLR 2024.

    Examples
    --------
    >>> from fmref.eval.long_context import extension_scaling
    >>> extension_scaling("pi", 4, 64)
    {'rope_type': 'linear', 'factor': 4.0}
    >>> extension_scaling("yarn", 1, 64) is None  # nothing to extend
    True
    >>> extension_scaling("ntk", 8, 64)
    {'rope_type': 'dynamic', 'factor': 2.0, 'max_position_embeddings': 64}
    """
    check_in("method", method, EXTENSION_METHODS)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
        raise ValueError(f"factor must be a number >= 1, got {factor!r}")
    check_positive_int("original_len", original_len)
    if method == "none" or factor == 1:
        return None
    if method == "pi":
        return {"rope_type": "linear", "factor": float(factor)}
    if method == "ntk":
        return {"rope_type": "dynamic", "factor": float(ntk_factor),
                "max_position_embeddings": original_len}  # fmt: skip
    return {"rope_type": "yarn", "factor": float(factor),
            "original_max_position_embeddings": original_len}  # fmt: skip


def with_rope_scaling(model, scaling, max_seq_len):
    """The same Llama weights under another RoPE scaling and context length.

    Parameters
    ----------
    model : fmref.models.llama.Llama
        The trained model (unchanged).
    scaling : dict or None
        The new ``rope_scaling`` (:func:`extension_scaling`).
    max_seq_len : int
        The new context length.

    Returns
    -------
    fmref.models.llama.Llama
        A new model in eval mode sharing no storage with ``model``.

    Raises
    ------
    TypeError
        If ``model`` is not a Llama.
    ValueError
        If ``max_seq_len`` is not a positive int or ``scaling`` is invalid.

    Examples
    --------
    >>> from fmref.models.llama import Llama, LlamaConfig
    >>> from fmref.eval.long_context import with_rope_scaling
    >>> model = Llama(LlamaConfig(256, 32, 1, 2, 2, 64, 16))
    >>> longer = with_rope_scaling(model, {"rope_type": "linear", "factor": 4.0}, 64)
    >>> longer.config.max_seq_len, longer.rope.shape  # 64 positions, 8 pairs
    (64, torch.Size([64, 8]))
    >>> round(longer.rope[1, 0].item(), 4)  # position 1 turns a quarter as far
    0.25
    """
    from fmref.models.llama import Llama

    check_instance("model", model, Llama)
    check_positive_int("max_seq_len", max_seq_len)
    config = replace(model.config, rope_scaling=scaling, max_seq_len=max_seq_len)
    longer = Llama(config)
    longer.load_state_dict(model.state_dict())
    return longer.eval()


def _bytes(split):
    from fmref.text.corpus import python_docs

    return torch.tensor(list(python_docs(split).encode("utf-8")), dtype=torch.long)


def long_context_llama(**overrides):
    """A tiny Llama trained on bytes at a short context (64), with its extension table; cached.

    :class:`~fmref.models.llama.Llama` (RoPE, RMSNorm, SwiGLU) on the UTF-8
    bytes of :func:`fmref.text.corpus.python_docs` ("train" split), through
    :func:`fmref.train.loop.train` on one thread; the recipe
    ``"long-context-llama"`` of :mod:`fmref.zoo`.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`LONG_CONTEXT_SETTINGS` (e.g. ``steps=2``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    model : fmref.models.llama.Llama
        In eval mode, ``max_seq_len = block_size``, no RoPE scaling.
    history : dict
        The training history (``train_loss``, ``val_step``, ``val_loss``, ...)
        and ``extension``, the table of :func:`context_extension_perplexity`
        over ``eval_tokens`` validation bytes, computed once after training.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    ``long_context_llama()`` is the recipe whose table Chapter VI prints (300
    steps); two steps and 256 scored bytes show the shapes (another cache entry):

    >>> from fmref.eval.long_context import long_context_llama
    >>> model, history = long_context_llama(steps=2, warmup=1, eval_interval=2, eval_tokens=256)
    >>> model.config.max_seq_len, model.config.head_dim, model.num_parameters()
    (64, 16, 131904)
    >>> table = history["extension"]
    >>> table["lengths"], sorted(k for k in table if k != "lengths")
    ([64, 128, 256, 512], ['none', 'ntk', 'pi', 'yarn'])
    >>> len({round(table[method][0], 9) for method in ("none", "pi", "ntk", "yarn")})  # at 1x
    1
    """
    from fmref.models.llama import Llama, LlamaConfig
    from fmref.train.loop import TrainConfig, train
    from fmref.zoo import cached, one_thread

    s = check_overrides("overrides", overrides, LONG_CONTEXT_SETTINGS)
    config = LlamaConfig(
        vocab_size=256,
        dim=s["dim"],
        n_layers=s["n_layers"],
        n_heads=s["n_heads"],
        n_kv_heads=s["n_heads"],
        hidden_dim=s["hidden_dim"],
        max_seq_len=s["block_size"],
        rope_theta=s["rope_theta"],
    )

    @one_thread()  # the same weights on any thread setting
    def run():
        torch.manual_seed(s["seed"])
        model = Llama(config)
        with torch.enable_grad():
            history = train(model, _bytes("train"), TrainConfig.from_settings(s),
                            _bytes("validation"))  # fmt: skip
        history["extension"] = context_extension_perplexity(model, n_tokens=s["eval_tokens"])
        return {"state_dict": model.state_dict(), "history": history}

    result = cached("long-context-llama", {**s, "config": asdict(config)}, run)
    model = Llama(config)
    model.load_state_dict(result["state_dict"])
    return model.eval(), result["history"]


@torch.no_grad()
def context_extension_perplexity(model, tokens=None, multiples=(1, 2, 4, 8),
                                 methods=EXTENSION_METHODS, n_tokens=4096):  # fmt: skip
    """Perplexity at multiples of the training length under each RoPE treatment.

    For each length ``L = m * model.config.max_seq_len`` and each method the
    model is rebuilt with :func:`with_rope_scaling` (``extension_scaling(method,
    m, ...)``) and scored by :func:`fmref.eval.perplexity.perplexity` over the
    first ``n_tokens + 1`` tokens in windows of ``L`` (overlapping by one
    token, so every length scores the same tokens, each with the context its
    window gives it).

    Parameters
    ----------
    model : fmref.models.llama.Llama
        Trained at ``config.max_seq_len`` with no RoPE scaling.
    tokens : torch.Tensor, optional
        ``(N,)`` ids; default the bytes of the corpus's validation split.
    multiples : sequence of int, default (1, 2, 4, 8)
        Evaluation lengths over the training length.
    methods : sequence of str, default EXTENSION_METHODS
        Among ``"none"``, ``"pi"``, ``"ntk"``, ``"yarn"``.
    n_tokens : int, default 4096
        Tokens scored at every length.

    Returns
    -------
    dict
        ``{"lengths": [L, ...], method: [perplexity at each length], ...}``.

    Raises
    ------
    TypeError
        If ``model`` is not a Llama.
    ValueError
        If a multiple is not a positive int, a method is unknown, the model is
        already scaled, or ``tokens`` is shorter than ``n_tokens + 1``.

    Examples
    --------
    >>> from fmref.eval.long_context import context_extension_perplexity, long_context_llama
    >>> model, _ = long_context_llama(steps=2, warmup=1, eval_interval=2, eval_tokens=256)
    >>> table = context_extension_perplexity(model, multiples=(1, 4), methods=("none", "yarn"))
    >>> table["lengths"]
    [64, 256]
    >>> table["none"][0] == table["yarn"][0]  # at the training length nothing changes
    True
    """
    from fmref.eval.perplexity import perplexity
    from fmref.models.llama import Llama

    check_instance("model", model, Llama)
    if model.config.rope_scaling is not None:
        raise ValueError("model must have no rope_scaling (it is trained unscaled)")
    for m in multiples:
        check_positive_int("multiples", m)
    for method in methods:
        check_in("methods", method, EXTENSION_METHODS)
    check_positive_int("n_tokens", n_tokens)
    tokens = _bytes("validation") if tokens is None else tokens
    if tokens.dim() != 1 or len(tokens) < n_tokens + 1:
        raise ValueError(f"tokens must be 1-D with at least n_tokens + 1 = {n_tokens + 1} ids")
    tokens = tokens[: n_tokens + 1]
    short = model.config.max_seq_len
    table = {"lengths": [m * short for m in multiples]}
    for method in methods:
        table[method] = []
        for m in multiples:
            scaled = with_rope_scaling(model, extension_scaling(method, m, short), m * short)
            table[method].append(perplexity(scaled, tokens, m * short, m * short - 1))
    return table
