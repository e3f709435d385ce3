"""LLaMA: a decoder-only transformer with RMSNorm, SwiGLU, RoPE and grouped-query attention.

The architecture of Meta's LLaMA 1 and 2 and of Mistral 7B, written with the
blocks of :mod:`fmref.nn`. Compared with GPT-2 (:mod:`fmref.models.gpt`) each
block changes one thing:

==================  ==========================  ===============================
part                GPT-2                       LLaMA / Mistral
==================  ==========================  ===============================
normalisation       LayerNorm (mean and scale)  RMSNorm (scale only), no biases
feed-forward        GELU, ``4 * C`` hidden      SwiGLU, about ``8/3 * C`` hidden
positions           learned table ``wpe``       RoPE on queries and keys
key/value heads     one per query head          grouped (LLaMA-2-70B, Mistral)
output head         tied to the embedding       separate matrix
==================  ==========================  ===============================

Names follow Meta's reference code (``dim``, ``n_layers``, ``hidden_dim``,
``tok_embeddings``, ``attention_norm``, ``feed_forward.w1/w2/w3``); the
attention projections are those of :class:`fmref.nn.attention.MultiHeadAttention`.
The preset constructors (:func:`llama_7b`, :func:`llama_13b`, :func:`llama2_70b`,
:func:`mistral_7b`) return configurations only, so the parameter count of a
published model is computed without allocating its weights
(:func:`fmref.scaling.count_parameters`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import (
    check_hf_model,
    check_in,
    check_instance,
    check_int,
    check_positive,
    check_positive_int,
    check_token_sequence,
)
from fmref.nn.attention import KVCache, causal_mask
from fmref.nn.norm import RMSNorm
from fmref.nn.position import ROPE_SCALING_KEYS, apply_rope, rope_angles, rope_inv_freq

__all__ = [
    "LlamaConfig",
    "swiglu_hidden_dim",
    "SwiGLU",
    "LlamaAttention",
    "SparseMoE",
    "LlamaBlock",
    "Llama",
    "llama_7b",
    "llama_13b",
    "llama2_70b",
    "mistral_7b",
    "llama3_8b",
    "llama3_70b",
    "qwen3_8b",
    "mixtral_8x7b",
    "gpt_oss_120b",
    "gemma3_27b",
]

LAYER_TYPES = ("full_attention", "sliding_attention")




@dataclass
class LlamaConfig:
    """Shape of a LLaMA-style model (Meta's ``ModelArgs`` names).

    Parameters
    ----------
    vocab_size : int
        Number of token ids (32,000 for LLaMA 1/2 and Mistral 7B).
    dim : int
        Model width ``C``.
    n_layers : int
        Number of transformer blocks.
    n_heads : int
        Number of query heads; ``head_dim = dim // n_heads`` must be even (RoPE).
    n_kv_heads : int or None
        Number of key/value heads; ``None`` means ``n_heads`` (multi-head
        attention). Fewer is grouped-query attention; ``n_heads`` must be a
        multiple of it.
    hidden_dim : int
        Width of the SwiGLU feed-forward layer (see :func:`swiglu_hidden_dim`).
    max_seq_len : int
        Context length: the longest sequence the RoPE table covers.
    norm_eps : float, default 1e-5
        Epsilon of every RMSNorm (LLaMA 1 used 1e-6).
    rope_theta : float, default 10000.0
        Base of the RoPE frequencies.
    sliding_window : int or None, default None
        Mistral's sliding-window attention: each token sees at most this many
        keys (itself included). ``None`` is full causal attention.

    Raises
    ------
    ValueError
        If a size is not a positive int, ``dim`` is not divisible by
        ``n_heads``, ``head_dim`` is odd, ``n_heads`` is not divisible by
        ``n_kv_heads``, or ``norm_eps``/``rope_theta`` is not positive.

    References
    ----------
    .. [1] Touvron et al., "LLaMA: Open and Efficient Foundation Language
       Models", 2023.
    .. [2] Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat
       Models", 2023.
    .. [3] Jiang et al., "Mistral 7B", 2023.

    Examples
    --------
    >>> from fmref.models.llama import LlamaConfig
    >>> cfg = LlamaConfig(vocab_size=256, dim=64, n_layers=2, n_heads=4,
    ...                   n_kv_heads=2, hidden_dim=172, max_seq_len=128)
    >>> cfg.head_dim, cfg.n_kv_heads
    (16, 2)
    >>> LlamaConfig(256, 64, 2, 4, None, 172, 128).n_kv_heads  # None = n_heads
    4
    >>> LlamaConfig(256, 64, 2, 4, 3, 172, 128)
    Traceback (most recent call last):
    ...
    ValueError: n_heads must be divisible by n_kv_heads=3, got n_heads=4
    """

    vocab_size: int  # number of token ids
    dim: int  # model width C
    n_layers: int  # transformer blocks
    n_heads: int  # query heads
    n_kv_heads: int | None  # key/value heads; None = n_heads (no grouping)
    hidden_dim: int  # SwiGLU width
    max_seq_len: int  # context length covered by RoPE
    norm_eps: float = 1e-5  # RMSNorm epsilon (LLaMA 2, Mistral; LLaMA 1: 1e-6)
    rope_theta: float = 10000.0  # RoPE base
    sliding_window: int | None = None  # Mistral: keys per query; None = full causal
    head_dim: int | None = None  # width of one head; None = dim // n_heads (gpt-oss: 64)
    rope_scaling: dict | None = None  # RoPE scaling (fmref.nn.position.rope_inv_freq); None = none
    qk_norm: bool = False  # Qwen3, Gemma 3: RMSNorm on every query and key head before RoPE
    attention_sinks: bool = False  # gpt-oss: one learned sink logit per head
    layer_types: tuple | None = None  # per layer "sliding_attention" | "full_attention"
    attention_bias: bool = False  # gpt-oss: biases in the q, k, v and output projections
    n_experts: int = 0  # routed SwiGLU experts per layer (Mixtral: 8); 0 = dense SwiGLU
    n_experts_per_tok: int = 0  # experts each token uses (Mixtral: 2)
    tie_embeddings: bool = False  # output head shares tok_embeddings (Qwen3-0.6B, Gemma 3)

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        for name in (
            "vocab_size",
            "dim",
            "n_layers",
            "n_heads",
            "n_kv_heads",
            "hidden_dim",
            "max_seq_len",
        ):
            check_positive_int(name, getattr(self, name))
        if self.sliding_window is not None:
            check_positive_int("sliding_window", self.sliding_window)
        if self.head_dim is None:
            if self.dim % self.n_heads:
                raise ValueError(
                    f"dim must be divisible by n_heads={self.n_heads}, got dim={self.dim}"
                )
            self.head_dim = self.dim // self.n_heads
        check_positive_int("head_dim", self.head_dim)
        if self.head_dim % 2:
            raise ValueError(
                f"dim // n_heads must be even for RoPE, got head_dim={self.head_dim}"
            )
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads must be divisible by n_kv_heads={self.n_kv_heads}, "
                f"got n_heads={self.n_heads}"
            )
        for name in ("norm_eps", "rope_theta"):
            check_positive(name, getattr(self, name))
        if self.rope_scaling is not None:
            rope_inv_freq(self.head_dim, self.rope_theta, self.rope_scaling)  # validates the dict
        if self.layer_types is not None:
            self.layer_types = tuple(self.layer_types)
            if len(self.layer_types) != self.n_layers:
                raise ValueError(
                    f"layer_types must have n_layers={self.n_layers} entries, "
                    f"got {len(self.layer_types)}"
                )
            for kind in self.layer_types:
                check_in("layer_types", kind, LAYER_TYPES)
            if "sliding_attention" in self.layer_types and self.sliding_window is None:
                raise ValueError(
                    "layer_types has sliding_attention layers but sliding_window is None"
                )
        check_int("n_experts", self.n_experts, low=0)
        check_int("n_experts_per_tok", self.n_experts_per_tok, low=0)
        if self.n_experts and not 1 <= self.n_experts_per_tok <= self.n_experts:
            raise ValueError(
                f"n_experts_per_tok must be in [1, n_experts={self.n_experts}], "
                f"got {self.n_experts_per_tok}"
            )

    def is_sliding(self, layer):
        """Whether layer ``layer`` attends through a sliding window.

        ``layer_types`` decides when it is given; otherwise every layer slides
        when ``sliding_window`` is set (Mistral 7B) and none does when it is not.

        Parameters
        ----------
        layer : int
            Layer index.

        Returns
        -------
        bool

        Examples
        --------
        >>> from fmref.models.llama import LlamaConfig
        >>> cfg = LlamaConfig(64, 16, 4, 2, 1, 32, 64, sliding_window=8,
        ...                   layer_types=("sliding_attention", "full_attention") * 2)
        >>> [cfg.is_sliding(i) for i in range(4)]  # gpt-oss alternates, sliding first
        [True, False, True, False]
        """
        if self.layer_types is not None:
            return self.layer_types[layer] == "sliding_attention"
        return self.sliding_window is not None


def swiglu_hidden_dim(dim, multiple_of=256, ffn_dim_multiplier=None):
    """Meta's rule for the SwiGLU width: two thirds of ``4 * dim``, rounded up.

    SwiGLU has three matrices instead of two, so LLaMA shrinks the hidden width
    from ``4 * dim`` to ``2/3 * 4 * dim`` to keep the parameter count of a
    GELU MLP, optionally scales it, and rounds it up to a multiple of
    ``multiple_of`` for fast matrix multiplies.

    Parameters
    ----------
    dim : int
        Model width.
    multiple_of : int, default 256
        The result is rounded up to a multiple of this.
    ffn_dim_multiplier : float, optional
        Extra factor applied before rounding (1.3 for LLaMA-2-70B).

    Returns
    -------
    int
        The hidden width of the feed-forward layer.

    Raises
    ------
    ValueError
        If ``dim`` or ``multiple_of`` is not a positive int, or
        ``ffn_dim_multiplier`` is not positive.

    References
    ----------
    .. [1] Touvron et al., "LLaMA", 2023 (``ModelArgs`` and ``FeedForward`` of
       Meta's reference code).

    Examples
    --------
    >>> from fmref.models.llama import swiglu_hidden_dim
    >>> swiglu_hidden_dim(4096), swiglu_hidden_dim(5120)  # LLaMA-7B, LLaMA-13B
    (11008, 13824)
    >>> swiglu_hidden_dim(8192, multiple_of=4096, ffn_dim_multiplier=1.3)  # LLaMA-2-70B
    28672
    """
    check_positive_int("dim", dim)
    check_positive_int("multiple_of", multiple_of)
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        if ffn_dim_multiplier <= 0:
            raise ValueError(f"ffn_dim_multiplier must be positive, got {ffn_dim_multiplier!r}")
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * math.ceil(hidden / multiple_of)


class SwiGLU(nn.Module):
    """Gated feed-forward layer ``w2(silu(w1 x) * w3 x)``, no biases.

    Parameters
    ----------
    dim : int
        Input and output width.
    hidden_dim : int
        Width of the gate and of the up projection.

    Attributes
    ----------
    w1, w3, w2 : torch.nn.Linear
        Gate ``(dim -> hidden_dim)``, up ``(dim -> hidden_dim)`` and down
        ``(hidden_dim -> dim)`` projections (transformers: ``gate_proj``,
        ``up_proj``, ``down_proj``).

    References
    ----------
    .. [1] Shazeer, "GLU Variants Improve Transformer", 2020.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import SwiGLU
    >>> ffn = SwiGLU(dim=8, hidden_dim=16)
    >>> ffn(torch.randn(2, 3, 8)).shape  # (B, T, C)
    torch.Size([2, 3, 8])
    >>> sum(p.numel() for p in ffn.parameters())  # 3 * 8 * 16
    384
    """

    def __init__(self, dim, hidden_dim):
        super().__init__()
        check_positive_int("dim", dim)
        check_positive_int("hidden_dim", hidden_dim)
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)  # gate
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)  # up
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)  # down

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # (..., dim)


class LlamaAttention(nn.Module):
    """Causal grouped-query attention of the Llama family, with the 2024-2025 options.

    RoPE on queries and keys, ``n_kv_heads`` shared key/value heads, and what
    later models add, each switched on by the :class:`LlamaConfig`:

    - ``qk_norm`` (Qwen3, Gemma 3): an RMSNorm over each query and key head
      before RoPE, which bounds the logits ``q·k`` whatever the weights grow to.
    - ``attention_sinks`` (gpt-oss): a learned logit per head joins every
      softmax as an extra column with no value, so a head can give weight to
      "nothing" instead of dumping it on the first token.
    - a sliding window for the layers ``config.is_sliding`` names.

    Parameters
    ----------
    config : LlamaConfig
        Model shape.
    layer_idx : int
        Position in the stack (its slot in a :class:`~fmref.nn.attention.KVCache`).

    Attributes
    ----------
    q_proj, k_proj, v_proj, out_proj : torch.nn.Linear
        Projections (transformers: ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``).
    q_norm, k_norm : fmref.nn.norm.RMSNorm
        Only with ``qk_norm``: RMSNorm of width ``head_dim``.
    sinks : torch.nn.Parameter
        Only with ``attention_sinks``: ``(n_heads,)`` sink logits.

    References
    ----------
    .. [1] Henry et al., "Query-Key Normalization for Transformers", 2020.
    .. [2] Xiao et al., "Efficient Streaming Language Models with Attention
       Sinks", ICLR 2024.
    .. [3] OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card", 2025.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import LlamaAttention, LlamaConfig
    >>> from fmref.nn.attention import causal_mask
    >>> from fmref.nn.position import rope_angles
    >>> cfg = LlamaConfig(64, 32, 1, 4, 2, 64, 16, qk_norm=True, attention_sinks=True)
    >>> attn = LlamaAttention(cfg, layer_idx=0)
    >>> x = torch.randn(2, 5, 32)  # (B, T, C)
    >>> y, w = attn(x, rope_angles(8, 16), causal_mask(5, 5), need_weights=True)
    >>> y.shape, w.shape
    (torch.Size([2, 5, 32]), torch.Size([2, 4, 5, 5]))

    With all scores 0 and sink logits 0, the sink takes one share of each
    softmax: query 4 gives 1/6 to each of its 5 keys, 1/6 to nothing.

    >>> _ = torch.nn.init.zeros_(attn.q_proj.weight)
    >>> _, w = attn(x, rope_angles(8, 16), causal_mask(5, 5), need_weights=True)
    >>> [round(p, 4) for p in w[0, 0, 4].tolist()], round(w[0, 0, 4].sum().item(), 4)
    ([0.1667, 0.1667, 0.1667, 0.1667, 0.1667], 0.8333)
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, LlamaConfig)
        c = config
        self.layer_idx, self.n_heads, self.n_kv_heads, self.d_head = (
            layer_idx, c.n_heads, c.n_kv_heads, c.head_dim
        )  # fmt: skip
        b = c.attention_bias
        self.q_proj = nn.Linear(c.dim, c.n_heads * c.head_dim, bias=b)
        self.k_proj = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=b)
        self.v_proj = nn.Linear(c.dim, c.n_kv_heads * c.head_dim, bias=b)
        self.out_proj = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=b)
        if c.qk_norm:
            self.q_norm = RMSNorm(c.head_dim, eps=c.norm_eps)
            self.k_norm = RMSNorm(c.head_dim, eps=c.norm_eps)
        self.qk_norm = c.qk_norm
        if c.attention_sinks:
            self.sinks = nn.Parameter(torch.zeros(c.n_heads))  # (H,) one logit per head

    def _heads(self, x, n):
        B, T, _ = x.shape
        return x.view(B, T, n, self.d_head).transpose(1, 2)  # (B, n, T, d_head)

    def forward(self, x, rope, attn_mask, kv_cache=None, rope_scale=1.0, need_weights=False):
        """Attend causally from ``x`` to itself and the cached keys.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, dim)``.
        rope : torch.Tensor
            RoPE angles ``(>= past + T, head_dim // 2)`` from position 0.
        attn_mask : torch.Tensor
            Bool mask ``(T, past + T)``, True where a query may attend
            (:func:`fmref.nn.attention.causal_mask`, with the window if any).
        kv_cache : fmref.nn.attention.KVCache, optional
            Cached keys/values of the earlier tokens; the new ones are appended.
        rope_scale : float, default 1.0
            YaRN's attention factor: multiplies the rotated queries and keys
            (transformers multiplies cos and sin).
        need_weights : bool, default False
            Also return the weights ``(B, H, T, past + T)``.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            ``(B, T, dim)``, and the weights if ``need_weights``.
        """
        B, T, _ = x.shape
        q = self._heads(self.q_proj(x), self.n_heads)  # (B, H, T, d)
        k = self._heads(self.k_proj(x), self.n_kv_heads)  # (B, Hkv, T, d)
        v = self._heads(self.v_proj(x), self.n_kv_heads)  # (B, Hkv, T, d)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)  # per head, before RoPE (Qwen3)
        past = 0 if kv_cache is None else kv_cache.seq_len(self.layer_idx)
        angles = rope[past : past + T]  # (T, d // 2) absolute positions
        q, k = apply_rope(q, angles) * rope_scale, apply_rope(k, angles) * rope_scale
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, Hkv, past + T, d)
        group = self.n_heads // self.n_kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)  # (B, H, Tk, d)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)  # (B, H, T, Tk)
        scores = scores.masked_fill(~attn_mask, float("-inf"))
        if hasattr(self, "sinks"):
            sink = self.sinks.view(1, -1, 1, 1).expand(B, -1, T, 1)  # (B, H, T, 1)
            weights = torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[..., :-1]
        else:
            weights = torch.softmax(scores, dim=-1)  # (B, H, T, Tk)
        y = (weights @ v).transpose(1, 2).reshape(B, T, -1)  # (B, T, H * d)
        out = self.out_proj(y)
        return (out, weights) if need_weights else out


class SparseMoE(nn.Module):
    """Mixtral's sparse feed-forward layer: each token runs its top-k SwiGLU experts.

    A router scores the ``n_experts`` experts; each token keeps the
    ``n_experts_per_tok`` best, weighted by a softmax over their scores only
    (Mixtral's softmax-then-renormalise gives the same weights).

    Parameters
    ----------
    dim : int
        Model width.
    hidden_dim : int
        Width of each SwiGLU expert.
    n_experts : int
        Number of experts.
    top_k : int
        Experts per token, ``1 <= top_k <= n_experts``.

    Attributes
    ----------
    gate : torch.nn.Linear
        Router ``(dim -> n_experts)``, no bias.
    experts : torch.nn.ModuleList of SwiGLU

    References
    ----------
    .. [1] Jiang et al., "Mixtral of Experts", 2024, eq. 1-2.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import SparseMoE
    >>> moe = SparseMoE(dim=8, hidden_dim=16, n_experts=4, top_k=2)
    >>> moe(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    >>> sum(p.numel() for p in moe.parameters())  # 4 experts of 384 and a 8x4 router
    1568
    """

    def __init__(self, dim, hidden_dim, n_experts, top_k):
        super().__init__()
        check_positive_int("n_experts", n_experts)
        check_int("top_k", top_k, low=1, high=n_experts)
        self.top_k = top_k
        self.gate = nn.Linear(dim, n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(dim, hidden_dim) for _ in range(n_experts))

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])  # (N, C)
        top, idx = self.gate(flat).topk(self.top_k, dim=-1)  # (N, k)
        weights = torch.softmax(top, dim=-1)  # (N, k) over the chosen experts only
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = (idx == e).nonzero(as_tuple=True)  # tokens routed to expert e
            if token.numel():
                out.index_add_(0, token, weights[token, slot, None] * expert(flat[token]))
        return out.view_as(x)


class LlamaBlock(nn.Module):
    """One pre-norm block: ``x + attention(norm(x))``, then ``x + ffn(norm(x))``.

    Parameters
    ----------
    config : LlamaConfig
        Model shape.
    layer_idx : int
        Position of the block in the stack (its slot in a :class:`~fmref.nn.attention.KVCache`).

    Attributes
    ----------
    attention_norm, ffn_norm : fmref.nn.norm.RMSNorm
    attention : LlamaAttention
    feed_forward : SwiGLU or SparseMoE
        A :class:`SparseMoE` when ``config.n_experts > 0``.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import LlamaBlock, LlamaConfig
    >>> from fmref.nn.attention import causal_mask
    >>> from fmref.nn.position import rope_angles
    >>> cfg = LlamaConfig(256, 32, 1, 4, 2, 64, 16)
    >>> block = LlamaBlock(cfg, layer_idx=0)
    >>> x = torch.randn(2, 5, 32)  # (B, T, C)
    >>> block(x, rope=rope_angles(cfg.head_dim, 16), attn_mask=causal_mask(5, 5)).shape
    torch.Size([2, 5, 32])
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, LlamaConfig)
        self.layer_idx = layer_idx
        self.attention_norm = RMSNorm(config.dim, eps=config.norm_eps)
        self.attention = LlamaAttention(config, layer_idx)
        self.ffn_norm = RMSNorm(config.dim, eps=config.norm_eps)
        if config.n_experts:
            self.feed_forward = SparseMoE(
                config.dim, config.hidden_dim, config.n_experts, config.n_experts_per_tok
            )
        else:
            self.feed_forward = SwiGLU(config.dim, config.hidden_dim)

    def forward(self, x, rope, attn_mask, kv_cache=None, rope_scale=1.0):
        h = self.attention_norm(x)  # (B, T, C)
        x = x + self.attention(h, rope, attn_mask, kv_cache=kv_cache, rope_scale=rope_scale)
        return x + self.feed_forward(self.ffn_norm(x))  # (B, T, C)


class Llama(nn.Module):
    """LLaMA-style causal language model (LLaMA 1/2, Mistral 7B).

    Parameters
    ----------
    config : LlamaConfig
        Model shape.

    Attributes
    ----------
    tok_embeddings : torch.nn.Embedding
        ``(vocab_size, dim)`` token table; no position table (RoPE instead).
    layers : torch.nn.ModuleList of LlamaBlock
    norm : fmref.nn.norm.RMSNorm
        Final normalisation.
    output : torch.nn.Linear
        Untied head ``(dim -> vocab_size)``, no bias.
    rope : torch.Tensor
        Buffer of RoPE angles ``(max_seq_len, head_dim // 2)`` (not saved).

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`LlamaConfig`.

    References
    ----------
    .. [1] Touvron et al., "LLaMA: Open and Efficient Foundation Language
       Models", 2023.
    .. [2] Touvron et al., "Llama 2", 2023.
    .. [3] Jiang et al., "Mistral 7B", 2023.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import Llama, LlamaConfig
    >>> cfg = LlamaConfig(vocab_size=256, dim=64, n_layers=2, n_heads=4,
    ...                   n_kv_heads=2, hidden_dim=172, max_seq_len=32)
    >>> model = Llama(cfg).eval()
    >>> idx = torch.randint(0, 256, (2, 10))  # (B, T)
    >>> logits = model(idx)
    >>> logits.shape  # (B, T, vocab_size)
    torch.Size([2, 10, 256])

    Decoding with a cache gives the logits of a full recomputation:

    >>> cache = model.make_kv_cache()
    >>> first = model(idx[:, :9], kv_cache=cache)  # prefill 9 tokens
    >>> last = model(idx[:, 9:], kv_cache=cache)  # one new token
    >>> cache.length, torch.allclose(last[:, 0], logits[:, 9], atol=1e-5)
    (10, True)
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, LlamaConfig)
        self.config = config
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList(LlamaBlock(config, i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.dim, eps=config.norm_eps)
        self.output = nn.Linear(config.dim, config.vocab_size, bias=False)
        c = config
        angles = rope_angles(c.head_dim, c.max_seq_len, c.rope_theta, c.rope_scaling)
        self.register_buffer("rope", angles, persistent=False)  # (max_seq_len, head_dim // 2)
        self.rope_scale = rope_inv_freq(c.head_dim, c.rope_theta, c.rope_scaling)[1]  # YaRN
        self.apply(self._init_weights)
        if c.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def make_kv_cache(self):
        """An empty :class:`fmref.nn.attention.KVCache` with one slot per layer.

        Returns
        -------
        fmref.nn.attention.KVCache

        Examples
        --------
        >>> from fmref.models.llama import Llama, LlamaConfig
        >>> Llama(LlamaConfig(64, 16, 3, 2, 1, 32, 8)).make_kv_cache()
        KVCache(n_layers=3, length=0)
        """
        return KVCache(self.config.n_layers)

    def num_parameters(self):
        """Number of parameters (the RoPE table is a buffer, not a parameter).

        Returns
        -------
        int

        Examples
        --------
        >>> from fmref.models.llama import Llama, LlamaConfig
        >>> from fmref.scaling import count_parameters
        >>> cfg = LlamaConfig(64, 16, 1, 2, 1, 32, 8)
        >>> Llama(cfg).num_parameters(), count_parameters(cfg)
        (4400, 4400)
        """
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, kv_cache=None):
        """Logits of the next token at every position.

        Parameters
        ----------
        idx : torch.Tensor
            Token ids ``(B, T)``, integer dtype.
        kv_cache : fmref.nn.attention.KVCache, optional
            Keys and values of the tokens before ``idx`` (see :meth:`make_kv_cache`);
            the new ones are appended to it. ``idx`` then continues those
            tokens: its first token sits at position ``kv_cache.length``.

        Returns
        -------
        torch.Tensor
            Logits ``(B, T, vocab_size)``.

        Raises
        ------
        TypeError
            If ``idx`` is not an integer tensor.
        ValueError
            If ``idx`` is not 2-D, holds no token or an id outside the vocabulary,
            or the cached plus new tokens exceed
            ``max_seq_len``, or ``kv_cache`` has the wrong number of layers.
        """
        c = self.config
        past = check_token_sequence(
            "idx", idx, c.vocab_size, c.max_seq_len, "max_seq_len", kv_cache, c.n_layers
        )
        t = idx.shape[1]
        full = causal_mask(t, past + t, device=idx.device)  # (T, past + T)
        window = None
        if c.sliding_window is not None:
            window = causal_mask(t, past + t, window=c.sliding_window, device=idx.device)
        rope = self.rope
        if c.rope_scaling is not None and c.rope_scaling["rope_type"] == "dynamic":
            # dynamic NTK: the base grows with the current length (transformers without a cache)
            rope = rope_angles(c.head_dim, past + t, c.rope_theta, c.rope_scaling)
            rope = rope.to(self.rope.device)
        x = self.tok_embeddings(idx)  # (B, T, C)
        for layer in self.layers:
            mask = window if c.is_sliding(layer.layer_idx) else full
            x = layer(x, rope, mask, kv_cache=kv_cache, rope_scale=self.rope_scale)
        return self.output(self.norm(x))  # (B, T, vocab_size)

    @classmethod
    def from_hf(cls, hf_model):
        """Copy a transformers ``LlamaForCausalLM``, ``MistralForCausalLM`` or ``Qwen3ForCausalLM``.

        Qwen3 is Llama with QK-norm and a free ``head_dim``; each of the three
        may carry a RoPE scaling (linear, dynamic, yarn, llama3), which is copied
        into ``config.rope_scaling``.

        Parameters
        ----------
        hf_model : transformers.LlamaForCausalLM, MistralForCausalLM or Qwen3ForCausalLM
            A causal LM with SiLU and no biases.

        Returns
        -------
        Llama
            A model in eval mode with the same weights and logits. With a
            ``"dynamic"`` scaling its context is ``factor`` times the trained one.

        Raises
        ------
        TypeError
            If ``hf_model`` is not one of those causal LMs.
        ValueError
            If its configuration uses a feature this class does not implement
            (biases, another activation, a RoPE type other than those four).

        Examples
        --------
        >>> import torch
        >>> import transformers
        >>> from fmref.models.llama import Llama
        >>> hf_cfg = transformers.LlamaConfig(
        ...     vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        ...     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16)
        >>> hf = transformers.LlamaForCausalLM(hf_cfg).eval()
        >>> model = Llama.from_hf(hf)
        >>> model.config.n_kv_heads, model.config.norm_eps
        (2, 1e-06)
        >>> idx = torch.randint(0, 64, (1, 8))
        >>> torch.allclose(model(idx), hf(idx).logits, atol=1e-4)
        True
        """
        check_hf_model(
            "hf_model", hf_model, "LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM"
        )
        c = hf_model.config
        rope = dict(getattr(c, "rope_parameters", None) or {})
        theta = rope.pop("rope_theta", getattr(c, "rope_theta", 10000.0))
        rope_type = rope.get("rope_type", "default")
        if c.hidden_act != "silu":
            raise ValueError(f"hf_model.config.hidden_act must be 'silu', got {c.hidden_act!r}")
        if getattr(c, "attention_bias", False) or getattr(c, "mlp_bias", False):
            raise ValueError("hf_model.config.attention_bias and mlp_bias must be False")
        if rope_type not in ("default", *ROPE_SCALING_KEYS):
            raise ValueError(
                f"hf_model.config rope_type must be 'default' or one of "
                f"{tuple(ROPE_SCALING_KEYS)}, got {rope_type!r}"
            )
        max_seq_len = c.max_position_embeddings
        scaling = None if rope_type == "default" else rope
        if rope_type == "dynamic":  # transformers reads the trained length from the config
            scaling["max_position_embeddings"] = c.max_position_embeddings
            max_seq_len = int(c.max_position_embeddings * rope["factor"])
        layer_types = getattr(c, "layer_types", None)
        window = getattr(c, "sliding_window", None)
        if layer_types is not None and "sliding_attention" not in layer_types:
            layer_types, window = None, None  # Qwen3 keeps a window it does not use
        config = LlamaConfig(
            vocab_size=c.vocab_size,
            dim=c.hidden_size,
            n_layers=c.num_hidden_layers,
            n_heads=c.num_attention_heads,
            n_kv_heads=c.num_key_value_heads,
            hidden_dim=c.intermediate_size,
            max_seq_len=max_seq_len,
            norm_eps=c.rms_norm_eps,
            rope_theta=float(theta),
            sliding_window=window,
            head_dim=getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
            rope_scaling=scaling,
            qk_norm=type(hf_model).__name__ == "Qwen3ForCausalLM",
            layer_types=layer_types,
            tie_embeddings=bool(getattr(c, "tie_word_embeddings", False)),
        )
        src = hf_model.state_dict()
        dst = {
            "tok_embeddings.weight": src["model.embed_tokens.weight"],
            "norm.weight": src["model.norm.weight"],
            "output.weight": src["lm_head.weight"],
        }
        pairs = {
            "attention_norm.weight": "input_layernorm.weight",
            "ffn_norm.weight": "post_attention_layernorm.weight",
            "attention.q_proj.weight": "self_attn.q_proj.weight",
            "attention.k_proj.weight": "self_attn.k_proj.weight",
            "attention.v_proj.weight": "self_attn.v_proj.weight",
            "attention.out_proj.weight": "self_attn.o_proj.weight",
            "feed_forward.w1.weight": "mlp.gate_proj.weight",
            "feed_forward.w3.weight": "mlp.up_proj.weight",
            "feed_forward.w2.weight": "mlp.down_proj.weight",
        }
        if config.qk_norm:
            pairs["attention.q_norm.weight"] = "self_attn.q_norm.weight"
            pairs["attention.k_norm.weight"] = "self_attn.k_norm.weight"
        for i in range(config.n_layers):
            for ours, theirs in pairs.items():
                dst[f"layers.{i}.{ours}"] = src[f"model.layers.{i}.{theirs}"]
        model = cls(config)
        model.load_state_dict(dst)
        return model.eval()


def llama_7b():
    """Configuration of LLaMA-7B (LLaMA 1), without allocating weights.

    Returns
    -------
    LlamaConfig
        32 layers of width 4,096, 32 heads, SwiGLU width 11,008, context 2,048,
        RMSNorm epsilon 1e-6 (Meta's ``params.json``).

    References
    ----------
    .. [1] Touvron et al., "LLaMA: Open and Efficient Foundation Language
       Models", 2023, Table 2.

    Examples
    --------
    >>> from fmref.models.llama import llama_7b
    >>> from fmref.scaling import count_parameters
    >>> cfg = llama_7b()
    >>> cfg.dim, cfg.n_layers, cfg.hidden_dim
    (4096, 32, 11008)
    >>> f"{count_parameters(cfg):,}"
    '6,738,415,616'
    """
    return LlamaConfig(
        vocab_size=32000,
        dim=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=32,
        hidden_dim=11008,
        max_seq_len=2048,
        norm_eps=1e-6,
    )


def llama_13b():
    """Configuration of LLaMA-13B (LLaMA 1), without allocating weights.

    Returns
    -------
    LlamaConfig
        40 layers of width 5,120, 40 heads, SwiGLU width 13,824, context 2,048.

    References
    ----------
    .. [1] Touvron et al., "LLaMA", 2023, Table 2.

    Examples
    --------
    >>> from fmref.models.llama import llama_13b
    >>> from fmref.scaling import count_parameters
    >>> f"{count_parameters(llama_13b()):,}"
    '13,015,864,320'
    """
    return LlamaConfig(
        vocab_size=32000,
        dim=5120,
        n_layers=40,
        n_heads=40,
        n_kv_heads=40,
        hidden_dim=13824,
        max_seq_len=2048,
        norm_eps=1e-6,
    )


def llama2_70b():
    """Configuration of LLaMA-2-70B, without allocating weights.

    Returns
    -------
    LlamaConfig
        80 layers of width 8,192, 64 query heads sharing 8 key/value heads
        (grouped-query attention), SwiGLU width 28,672, context 4,096.

    References
    ----------
    .. [1] Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat
       Models", 2023.

    Examples
    --------
    >>> from fmref.models.llama import llama2_70b
    >>> from fmref.scaling import count_parameters
    >>> cfg = llama2_70b()
    >>> cfg.n_heads // cfg.n_kv_heads  # query heads per key/value head
    8
    >>> f"{count_parameters(cfg):,}"
    '68,976,648,192'
    """
    return LlamaConfig(
        vocab_size=32000,
        dim=8192,
        n_layers=80,
        n_heads=64,
        n_kv_heads=8,
        hidden_dim=28672,
        max_seq_len=4096,
        norm_eps=1e-5,
    )


def mistral_7b():
    """Configuration of Mistral-7B-v0.1, without allocating weights.

    Returns
    -------
    LlamaConfig
        32 layers of width 4,096, 32 query heads sharing 8 key/value heads,
        SwiGLU width 14,336, sliding window 4,096, context 8,192 (the paper's
        Table 1).

    References
    ----------
    .. [1] Jiang et al., "Mistral 7B", 2023, Table 1.

    Examples
    --------
    >>> from fmref.models.llama import mistral_7b
    >>> from fmref.scaling import count_parameters
    >>> cfg = mistral_7b()
    >>> cfg.n_kv_heads, cfg.sliding_window
    (8, 4096)
    >>> f"{count_parameters(cfg):,}"
    '7,241,732,096'
    """
    return LlamaConfig(
        vocab_size=32000,
        dim=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=8,
        hidden_dim=14336,
        max_seq_len=8192,
        norm_eps=1e-5,
        sliding_window=4096,
    )


def llama3_8b():
    """Configuration of Llama 3.1 8B, without allocating weights.

    Llama 3 8B's shape (vocabulary 128,256, grouped-query attention with 8
    key/value heads, RoPE base 500,000) with Llama 3.1's context of 131,072
    tokens, reached by the ``"llama3"`` RoPE scaling of an 8,192-token model.

    Returns
    -------
    LlamaConfig
        32 layers of width 4,096, 32 query heads, SwiGLU width 14,336.

    References
    ----------
    .. [1] Grattafiori et al., "The Llama 3 Herd of Models", 2024, Table 3.
       The shape and ``rope_scaling`` are those of ``meta-llama/Llama-3.1-8B``'s
       ``config.json``; its model card counts 8.03B parameters.

    Examples
    --------
    >>> from fmref.models.llama import llama3_8b
    >>> from fmref.scaling import count_parameters
    >>> cfg = llama3_8b()
    >>> cfg.n_heads // cfg.n_kv_heads, cfg.rope_scaling["factor"]
    (4, 8.0)
    >>> f"{count_parameters(cfg):,}"  # the model card: 8.03B
    '8,030,261,248'
    """
    return LlamaConfig(
        vocab_size=128256,
        dim=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=8,
        hidden_dim=14336,
        max_seq_len=131072,
        norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling=dict(_LLAMA31_ROPE),
    )


# meta-llama/Llama-3.1-8B and -70B config.json, "rope_scaling"
_LLAMA31_ROPE = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}


def llama3_70b():
    """Configuration of Llama 3.1 70B, without allocating weights.

    Returns
    -------
    LlamaConfig
        80 layers of width 8,192, 64 query heads sharing 8 key/value heads,
        SwiGLU width 28,672, Llama 3.1's scaled RoPE to 131,072 tokens.

    References
    ----------
    .. [1] Grattafiori et al., "The Llama 3 Herd of Models", 2024, Table 3
       (``meta-llama/Llama-3.1-70B``'s ``config.json``; its model card counts 70.6B).

    Examples
    --------
    >>> from fmref.models.llama import llama3_70b
    >>> from fmref.scaling import count_parameters
    >>> f"{count_parameters(llama3_70b()):,}"  # the model card: 70.6B
    '70,553,706,496'
    """
    return LlamaConfig(
        vocab_size=128256,
        dim=8192,
        n_layers=80,
        n_heads=64,
        n_kv_heads=8,
        hidden_dim=28672,
        max_seq_len=131072,
        norm_eps=1e-5,
        rope_theta=500000.0,
        rope_scaling=dict(_LLAMA31_ROPE),
    )


def qwen3_8b():
    """Configuration of Qwen3-8B, without allocating weights.

    Llama's block with QK-norm and no attention biases (Qwen2 had them); a
    native context of 32,768 tokens (YaRN with factor 4 for 131,072).

    Returns
    -------
    LlamaConfig
        36 layers of width 4,096, 32 query heads of 128 sharing 8 key/value
        heads, SwiGLU width 12,288, vocabulary 151,936, RoPE base 1,000,000.

    References
    ----------
    .. [1] Yang et al., "Qwen3 Technical Report", 2025, Table 1; the shape is
       ``Qwen/Qwen3-8B``'s ``config.json``, whose model card counts 8.2B
       parameters, 6.95B of them outside the embeddings.

    Examples
    --------
    >>> from fmref.models.llama import qwen3_8b
    >>> from fmref.scaling import count_parameters, parameter_breakdown
    >>> cfg = qwen3_8b()
    >>> f"{count_parameters(cfg):,}"  # 8.2B
    '8,190,735,360'
    >>> parts = parameter_breakdown(cfg)
    >>> f"{count_parameters(cfg) - parts['embeddings'] - parts['head']:,}"  # 6.95B
    '6,946,075,648'
    """
    return LlamaConfig(
        vocab_size=151936,
        dim=4096,
        n_layers=36,
        n_heads=32,
        n_kv_heads=8,
        hidden_dim=12288,
        max_seq_len=32768,
        norm_eps=1e-6,
        rope_theta=1000000.0,
        head_dim=128,
        qk_norm=True,
    )


def mixtral_8x7b():
    """Configuration of Mixtral 8x7B, without allocating weights.

    Mistral 7B's attention with every feed-forward layer replaced by 8 SwiGLU
    experts of which each token uses 2 (:class:`SparseMoE`); no sliding window.

    Returns
    -------
    LlamaConfig
        32 layers of width 4,096, 32 query heads sharing 8 key/value heads,
        8 experts of width 14,336, top-2 routing, context 32,768.

    References
    ----------
    .. [1] Jiang et al., "Mixtral of Experts", 2024, Table 1; Mistral AI's
       announcement counts 46.7B parameters, 12.9B used per token
       (``mistralai/Mixtral-8x7B-v0.1``'s ``config.json``).

    Examples
    --------
    >>> from fmref.models.llama import mixtral_8x7b
    >>> from fmref.scaling import count_parameters
    >>> f"{count_parameters(mixtral_8x7b()):,}"  # 46.7B
    '46,702,792,704'
    """
    return LlamaConfig(
        vocab_size=32000,
        dim=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=8,
        hidden_dim=14336,
        max_seq_len=32768,
        norm_eps=1e-5,
        rope_theta=1000000.0,
        n_experts=8,
        n_experts_per_tok=2,
    )


def gpt_oss_120b():
    """Configuration of gpt-oss-120b, without allocating weights.

    36 layers that alternate a 128-token sliding window and full attention,
    each head with a learned attention sink, biases in the attention
    projections, 128 experts of which each token uses 4, and YaRN scaling a
    4,096-token RoPE (base 150,000) by 32 to 131,072 tokens.

    Returns
    -------
    LlamaConfig

    Notes
    -----
    Not modelled, so the count is short by about 40M parameters (0.03%): the
    router's and the experts' biases, and the experts' clamped SwiGLU
    (``(up + 1) * gate * sigmoid(1.702 gate)``), which has no parameters.

    References
    ----------
    .. [1] OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card", 2025, Table 1:
       116.83B parameters, 5.13B active per token (the embedding table left
       out); the shape is transformers' ``GptOssConfig`` default, which is
       gpt-oss-120b's ``config.json``.

    Examples
    --------
    >>> from fmref.models.llama import gpt_oss_120b
    >>> from fmref.scaling import count_parameters
    >>> cfg = gpt_oss_120b()
    >>> cfg.layer_types[:2], cfg.sliding_window, cfg.head_dim * cfg.n_heads, cfg.dim
    (('sliding_attention', 'full_attention'), 128, 4096, 2880)
    >>> f"{count_parameters(cfg):,}"  # 116.83B
    '116,789,338,944'
    """
    return LlamaConfig(
        vocab_size=201088,
        dim=2880,
        n_layers=36,
        n_heads=64,
        n_kv_heads=8,
        hidden_dim=2880,
        max_seq_len=131072,
        norm_eps=1e-5,
        rope_theta=150000.0,
        sliding_window=128,
        head_dim=64,
        rope_scaling={
            "rope_type": "yarn",
            "factor": 32.0,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
            "original_max_position_embeddings": 4096,
        },
        attention_sinks=True,
        layer_types=("sliding_attention", "full_attention") * 18,
        attention_bias=True,
        n_experts=128,
        n_experts_per_tok=4,
    )


def gemma3_27b():
    """Configuration of Gemma 3 27B's language model, as a :class:`LlamaConfig` for counting.

    Five sliding-window layers (1,024 tokens) for every global layer, QK-norm,
    a tied 262k-token embedding, and on the global layers a RoPE base of
    1,000,000 stretched 8 times (``"linear"``) to 128K tokens.

    Returns
    -------
    LlamaConfig

    Notes
    -----
    Only the shape is Gemma's; not modelled: the GeGLU feed-forward (tanh GELU
    where Llama has SiLU), the extra norms after attention and after the
    feed-forward layer (124 vectors, 0.67M parameters), the embedding scaled
    by ``sqrt(dim)``, the local layers' RoPE base 10,000, and the 417M-parameter
    vision encoder.

    References
    ----------
    .. [1] Gemma Team, "Gemma 3 Technical Report", 2025, Table 1: 1,416M
       embedding and 25,600M non-embedding parameters for the 27B model (the
       shape of transformers' ``Gemma3TextConfig`` for ``google/gemma-3-27b``).

    Examples
    --------
    >>> from fmref.models.llama import gemma3_27b
    >>> from fmref.scaling import parameter_breakdown
    >>> parts = parameter_breakdown(gemma3_27b())
    >>> f"{parts['embeddings']:,}", f"{parts['attention'] + parts['feed_forward']:,}"
    ('1,409,630,208', '25,598,377,472')
    """
    return LlamaConfig(
        vocab_size=262208,
        dim=5376,
        n_layers=62,
        n_heads=32,
        n_kv_heads=16,
        hidden_dim=21504,
        max_seq_len=131072,
        norm_eps=1e-6,
        rope_theta=1000000.0,
        sliding_window=1024,
        head_dim=128,
        rope_scaling={"rope_type": "linear", "factor": 8.0},
        qk_norm=True,
        layer_types=(("sliding_attention",) * 5 + ("full_attention",)) * 10
        + ("sliding_attention",) * 2,
        tie_embeddings=True,
    )
