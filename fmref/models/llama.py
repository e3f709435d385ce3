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

from torch import nn
from torch.nn import functional as F

from fmref._validate import check_instance, check_positive, check_positive_int, check_token_sequence
from fmref.nn.attention import KVCache, MultiHeadAttention, causal_mask
from fmref.nn.norm import RMSNorm
from fmref.nn.position import rope_angles

__all__ = [
    "LlamaConfig",
    "swiglu_hidden_dim",
    "SwiGLU",
    "LlamaBlock",
    "Llama",
    "llama_7b",
    "llama_13b",
    "llama2_70b",
    "mistral_7b",
]




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
        if self.dim % self.n_heads:
            raise ValueError(f"dim must be divisible by n_heads={self.n_heads}, got dim={self.dim}")
        if (self.dim // self.n_heads) % 2:
            raise ValueError(
                f"dim // n_heads must be even for RoPE, got head_dim={self.dim // self.n_heads}"
            )
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"n_heads must be divisible by n_kv_heads={self.n_kv_heads}, "
                f"got n_heads={self.n_heads}"
            )
        for name in ("norm_eps", "rope_theta"):
            check_positive(name, getattr(self, name))

    @property
    def head_dim(self):
        """Width of one attention head, ``dim // n_heads``."""
        return self.dim // self.n_heads


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


class LlamaBlock(nn.Module):
    """One pre-norm LLaMA block: ``x + attn(norm(x))``, then ``x + ffn(norm(x))``.

    Parameters
    ----------
    config : LlamaConfig
        Model shape.
    layer_idx : int
        Position of the block in the stack (its slot in a :class:`~fmref.nn.attention.KVCache`).

    Attributes
    ----------
    attention_norm, ffn_norm : fmref.nn.norm.RMSNorm
    attention : fmref.nn.attention.MultiHeadAttention
        Without biases, ``n_kv_heads`` key/value heads.
    feed_forward : SwiGLU

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import LlamaBlock, LlamaConfig
    >>> from fmref.nn.position import rope_angles
    >>> cfg = LlamaConfig(256, 32, 1, 4, 2, 64, 16)
    >>> block = LlamaBlock(cfg, layer_idx=0)
    >>> x = torch.randn(2, 5, 32)  # (B, T, C)
    >>> block(x, rope=rope_angles(cfg.head_dim, 16)).shape
    torch.Size([2, 5, 32])
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, LlamaConfig)
        self.layer_idx = layer_idx
        self.attention_norm = RMSNorm(config.dim, eps=config.norm_eps)
        self.attention = MultiHeadAttention(
            config.dim, config.n_heads, n_kv_heads=config.n_kv_heads, bias=False
        )
        self.ffn_norm = RMSNorm(config.dim, eps=config.norm_eps)
        self.feed_forward = SwiGLU(config.dim, config.hidden_dim)

    def forward(self, x, rope, attn_mask=None, kv_cache=None):
        is_causal = attn_mask is None  # an explicit mask (sliding window) is already causal
        h = self.attention_norm(x)  # (B, T, C)
        x = x + self.attention(
            h,
            attn_mask=attn_mask,
            is_causal=is_causal,
            kv_cache=kv_cache,
            layer_idx=self.layer_idx,
            rope=rope,
        )
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
        angles = rope_angles(config.head_dim, config.max_seq_len, theta=config.rope_theta)
        self.register_buffer("rope", angles, persistent=False)  # (max_seq_len, head_dim // 2)
        self.apply(self._init_weights)

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
        attn_mask = None
        if self.config.sliding_window is not None:
            attn_mask = causal_mask(
                t, past + t, window=self.config.sliding_window, device=idx.device
            )  # (T, past + T)
        x = self.tok_embeddings(idx)  # (B, T, C)
        for layer in self.layers:
            x = layer(x, self.rope, attn_mask=attn_mask, kv_cache=kv_cache)
        return self.output(self.norm(x))  # (B, T, vocab_size)

    @classmethod
    def from_hf(cls, hf_model):
        """Copy a ``transformers`` ``LlamaForCausalLM`` (or ``MistralForCausalLM``).

        Parameters
        ----------
        hf_model : transformers.LlamaForCausalLM or transformers.MistralForCausalLM
            A causal LM with default RoPE, SiLU, no biases and
            ``head_dim == hidden_size // num_attention_heads``.

        Returns
        -------
        Llama
            A model in eval mode with the same weights and logits.

        Raises
        ------
        TypeError
            If ``hf_model`` is not a transformers Llama or Mistral causal LM.
        ValueError
            If its configuration uses a feature this class does not implement
            (biases, another activation or RoPE scaling, a custom head_dim).

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
        name = type(hf_model).__name__
        if name not in ("LlamaForCausalLM", "MistralForCausalLM"):
            raise TypeError(
                "hf_model must be a transformers LlamaForCausalLM or MistralForCausalLM, "
                f"got {name}"
            )
        c = hf_model.config
        rope = getattr(c, "rope_parameters", None) or {}
        rope_type = rope.get("rope_type", "default")
        theta = rope.get("rope_theta", getattr(c, "rope_theta", 10000.0))
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        if c.hidden_act != "silu":
            raise ValueError(f"hf_model.config.hidden_act must be 'silu', got {c.hidden_act!r}")
        if getattr(c, "attention_bias", False) or getattr(c, "mlp_bias", False):
            raise ValueError("hf_model.config.attention_bias and mlp_bias must be False")
        if rope_type != "default":
            raise ValueError(f"hf_model.config rope_type must be 'default', got {rope_type!r}")
        if head_dim * c.num_attention_heads != c.hidden_size:
            raise ValueError(
                f"hf_model.config.head_dim must be hidden_size // num_attention_heads "
                f"= {c.hidden_size // c.num_attention_heads}, got {head_dim}"
            )
        config = LlamaConfig(
            vocab_size=c.vocab_size,
            dim=c.hidden_size,
            n_layers=c.num_hidden_layers,
            n_heads=c.num_attention_heads,
            n_kv_heads=c.num_key_value_heads,
            hidden_dim=c.intermediate_size,
            max_seq_len=c.max_position_embeddings,
            norm_eps=c.rms_norm_eps,
            rope_theta=float(theta),
            sliding_window=getattr(c, "sliding_window", None),
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
