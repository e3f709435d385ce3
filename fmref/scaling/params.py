"""Analytic parameter counts of GPT, LLaMA and DeepSeek-V3 configurations.

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

A mixture-of-experts model uses only some of its weights for each token:
:func:`active_parameters` counts those (every expert a token is not routed
to left out), the figure that sets the compute per token.
"""

from __future__ import annotations

from fmref._validate import check_instance
from fmref.models.deepseek import DeepSeekV3Config
from fmref.models.gpt import GPTConfig
from fmref.models.llama import LlamaConfig

__all__ = ["parameter_breakdown", "count_parameters", "active_parameters"]

CONFIGS = (GPTConfig, LlamaConfig, DeepSeekV3Config)

PARTS = ("embeddings", "attention", "feed_forward", "norms", "head")


def parameter_breakdown(config):
    """Parameters of a model, by part, computed from its configuration.

    Parameters
    ----------
    config : GPTConfig, LlamaConfig or DeepSeekV3Config
        The model's shape (:mod:`fmref.models.gpt`, :mod:`fmref.models.llama`,
        :mod:`fmref.models.deepseek`).

    Returns
    -------
    dict of str to int
        ``{"embeddings", "attention", "feed_forward", "norms", "head"}``.
        For GPT, ``embeddings`` holds the token and position tables and
        ``head`` is 0 because the head shares the token table; for LLaMA the
        head is its own ``vocab_size x dim`` matrix. For DeepSeek-V3 the
        latent RMSNorms count in ``attention``, the routers and experts in
        ``feed_forward``, and the MTP modules are left out.

    Raises
    ------
    TypeError
        If ``config`` is not one of those configurations.

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
    if isinstance(config, DeepSeekV3Config):
        return _deepseek_breakdown(config, routed=config.n_routed_experts)
    raise TypeError(
        f"config must be a GPTConfig, LlamaConfig or DeepSeekV3Config, got {type(config).__name__}"
    )


def _mla_parameters(c):
    """Weights of one MultiHeadLatentAttention layer (its two latent RMSNorms included)."""
    heads = c.num_attention_heads
    q_out = heads * c.qk_head_dim
    if c.q_lora_rank is None:
        q = c.hidden_size * q_out  # q_proj
    else:
        q = c.hidden_size * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * q_out  # a, norm, b
    kv = c.hidden_size * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank  # a, norm
    kv += c.kv_lora_rank * heads * (c.qk_nope_head_dim + c.v_head_dim)  # kv_b_proj
    return q + kv + heads * c.v_head_dim * c.hidden_size  # o_proj


def _deepseek_breakdown(c, routed):
    """Parts of a DeepSeek-V3 model with ``routed`` routed experts counted per MoE layer."""
    C, V, L = c.hidden_size, c.vocab_size, c.num_hidden_layers
    n_moe = sum(c.is_moe(i) for i in range(L))
    dense = 3 * C * c.intermediate_size  # SwiGLU
    expert = 3 * C * c.moe_intermediate_size
    moe = (routed + c.n_shared_experts) * expert + c.n_routed_experts * C  # experts, router
    return {
        "embeddings": V * C,
        "attention": L * _mla_parameters(c),
        "feed_forward": (L - n_moe) * dense + n_moe * moe,
        "norms": (2 * L + 1) * C,
        "head": 0 if c.tie_word_embeddings else V * C,
    }


def count_parameters(config):
    """Number of parameters of the model a configuration describes, without building it.

    Equal to ``sum(p.numel() for p in Model(config).parameters())`` (a tied
    head counted once) for :class:`fmref.models.gpt.GPT`,
    :class:`fmref.models.llama.Llama` and :class:`fmref.models.deepseek.DeepSeekV3`
    (without its MTP modules).

    Parameters
    ----------
    config : GPTConfig, LlamaConfig or DeepSeekV3Config
        The model's shape.

    Returns
    -------
    int
        The total of :func:`parameter_breakdown`.

    Raises
    ------
    TypeError
        If ``config`` is not one of those configurations.

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


def active_parameters(config, embeddings=True):
    """Parameters a mixture-of-experts model uses for one token, from its configuration.

    The total of :func:`count_parameters` less the routed experts a token does
    not use: ``n_experts - top_k`` per MoE layer (a dense model uses all of its
    weights). The router and the shared experts count, as does the output head.

    Parameters
    ----------
    config : GPTConfig, LlamaConfig or DeepSeekV3Config
        The model's shape.
    embeddings : bool, default True
        Count the input embedding table. A token reads only its own row, so
        some model cards leave the table out (gpt-oss's 5.13B); others keep it
        (Mixtral's 12.9B).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``config`` is not one of those configurations.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024: 671B total,
       37B activated per token.
    .. [2] Jiang et al., "Mixtral of Experts", 2024: 47B total, 13B active.
    .. [3] OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card", 2025, Table 1:
       5.13B active without the embedding table.

    Examples
    --------
    >>> from fmref.models.deepseek import deepseek_v3
    >>> from fmref.models.llama import gpt_oss_120b, llama3_8b, mixtral_8x7b
    >>> from fmref.scaling import active_parameters, count_parameters
    >>> for make in (deepseek_v3, mixtral_8x7b, gpt_oss_120b):
    ...     cfg = make()
    ...     print(f"{make.__name__:13s} {count_parameters(cfg) / 1e9:7.2f}B "
    ...           f"{active_parameters(cfg) / 1e9:6.2f}B "
    ...           f"{active_parameters(cfg, embeddings=False) / 1e9:6.2f}B")
    deepseek_v3    671.03B  37.55B  36.63B
    mixtral_8x7b    46.70B  12.88B  12.75B
    gpt_oss_120b   116.79B   5.71B   5.13B
    >>> active_parameters(llama3_8b()) == count_parameters(llama3_8b())  # dense
    True
    """
    check_instance("config", config, CONFIGS)
    if isinstance(config, DeepSeekV3Config):
        parts = _deepseek_breakdown(config, routed=config.num_experts_per_tok)
    else:
        parts = parameter_breakdown(config)
        if isinstance(config, LlamaConfig) and config.n_experts:
            unused = config.n_experts - config.n_experts_per_tok
            parts["feed_forward"] -= config.n_layers * unused * 3 * config.dim * config.hidden_dim
    if not embeddings:
        if isinstance(config, GPTConfig):  # wte is also the head: only wpe goes
            parts["embeddings"] = config.vocab_size * config.n_embd
        elif parts["head"]:  # a tied table is the head, which every token uses
            parts["embeddings"] = 0
    return sum(parts.values())
