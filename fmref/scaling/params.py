"""Analytic parameter counts of GPT and LLaMA configurations.

Counting parameters needs no weights: every matrix of a transformer has a
shape fixed by the configuration. :func:`parameter_breakdown` adds the shapes
up part by part (embeddings, attention, feed-forward, norms, output head) and
:func:`count_parameters` sums them. The tests check both against models that
are actually instantiated, and against transformers' own models of the
published configurations built on the ``meta`` device (no memory).

For a GPT-2 block of width ``C`` the weights are ``4 C²`` in attention and
``8 C²`` in the MLP; for a LLaMA block with ``H`` query heads, ``H_kv``
key/value heads of width ``d`` and SwiGLU width ``F`` they are
``2 C² + 2 C H_kv d`` in attention and ``3 C F`` in the feed-forward layer.
"""

from __future__ import annotations

from fmref.models.gpt import GPTConfig
from fmref.models.llama import LlamaConfig

__all__ = ["parameter_breakdown", "count_parameters"]

PARTS = ("embeddings", "attention", "feed_forward", "norms", "head")


def parameter_breakdown(config):
    """Parameters of a model, by part, computed from its configuration.

    Parameters
    ----------
    config : fmref.models.gpt.GPTConfig or fmref.models.llama.LlamaConfig
        The model's shape.

    Returns
    -------
    dict of str to int
        ``{"embeddings", "attention", "feed_forward", "norms", "head"}``.
        For GPT, ``embeddings`` holds the token and position tables and
        ``head`` is 0 because the head shares the token table; for LLaMA the
        head is its own ``vocab_size x dim`` matrix.

    Raises
    ------
    TypeError
        If ``config`` is neither a ``GPTConfig`` nor a ``LlamaConfig``.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
       Table 1 (parameter counts per operation).

    Examples
    --------
    >>> from fmref.models.llama import llama_7b
    >>> from fmref.scaling import parameter_breakdown
    >>> parts = parameter_breakdown(llama_7b())
    >>> for part, n in parts.items():
    ...     print(f"{part:12s} {n:>13,}")
    embeddings     131,072,000
    attention    2,147,483,648
    feed_forward 4,328,521,728
    norms              266,240
    head           131,072,000
    >>> from fmref.models.gpt import GPTConfig
    >>> parameter_breakdown(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=2))
    {'embeddings': 28, 'attention': 24, 'feed_forward': 42, 'norms': 12, 'head': 0}
    """
    if isinstance(config, GPTConfig):
        V, T, L, C = config.vocab_size, config.block_size, config.n_layer, config.n_embd
        b = 1 if config.bias else 0
        return {
            "embeddings": V * C + T * C,  # wte (also the head) + wpe
            "attention": L * (4 * C * C + b * 4 * C),  # q, k, v, out
            "feed_forward": L * (8 * C * C + b * 5 * C),  # c_fc (C -> 4C), c_proj (4C -> C)
            "norms": (2 * L + 1) * (2 if b else 1) * C,  # ln_1, ln_2 per block, ln_f
            "head": 0,  # tied to wte
        }
    if isinstance(config, LlamaConfig):
        V, L, C, F = config.vocab_size, config.n_layers, config.dim, config.hidden_dim
        d = config.head_dim
        q_width, kv_width = config.n_heads * d, config.n_kv_heads * d
        attention = 2 * C * q_width + 2 * C * kv_width  # q, out; k, v
        if config.attention_bias:
            attention += q_width + 2 * kv_width + C  # gpt-oss
        if config.qk_norm:
            attention += 2 * d  # q_norm, k_norm gains
        if config.attention_sinks:
            attention += config.n_heads  # one sink logit per head
        ffn = 3 * C * F  # w1, w3 (C -> F), w2 (F -> C)
        if config.n_experts:
            ffn = config.n_experts * ffn + C * config.n_experts  # experts and router
        return {
            "embeddings": V * C,  # tok_embeddings
            "attention": L * attention,
            "feed_forward": L * ffn,
            "norms": (2 * L + 1) * C,  # attention_norm, ffn_norm per block, final norm
            "head": 0 if config.tie_embeddings else V * C,  # untied output
        }
    raise TypeError(f"config must be a GPTConfig or a LlamaConfig, got {type(config).__name__}")


def count_parameters(config):
    """Number of parameters of the model a configuration describes, without building it.

    Equal to ``sum(p.numel() for p in Model(config).parameters())`` (a tied
    head counted once) for :class:`fmref.models.gpt.GPT` and
    :class:`fmref.models.llama.Llama`.

    Parameters
    ----------
    config : fmref.models.gpt.GPTConfig or fmref.models.llama.LlamaConfig
        The model's shape.

    Returns
    -------
    int
        The total of :func:`parameter_breakdown`.

    Raises
    ------
    TypeError
        If ``config`` is neither a ``GPTConfig`` nor a ``LlamaConfig``.

    Examples
    --------
    >>> from fmref.models.gpt import GPTConfig
    >>> from fmref.models.llama import llama_7b, llama2_70b, mistral_7b
    >>> from fmref.scaling import count_parameters
    >>> f"{count_parameters(GPTConfig()):,}"  # GPT-2 small
    '124,439,808'
    >>> for make in (llama_7b, llama2_70b, mistral_7b):
    ...     print(f"{make.__name__:11s} {count_parameters(make()):>15,}")
    llama_7b      6,738,415,616
    llama2_70b   68,976,648,192
    mistral_7b    7,241,732,096
    """
    return sum(parameter_breakdown(config).values())
