"""DeepSeek-V3: multi-head latent attention, fine-grained MoE, multi-token prediction.

A pre-norm decoder like :mod:`fmref.models.llama` (RMSNorm, SwiGLU, RoPE) in
which

- every attention layer is :class:`~fmref.nn.mla.MultiHeadLatentAttention`,
  whose cache holds a 512-wide latent and a 64-wide RoPE key per token;
- the first ``first_k_dense_replace`` feed-forward layers are dense SwiGLUs and
  the others :class:`~fmref.nn.moe.DeepSeekMoE` (one shared and 256 routed
  experts, 8 per token, sigmoid routing limited to 4 of 8 groups, balanced by
  a bias instead of an auxiliary loss);
- optional multi-token prediction modules (:class:`MultiTokenPrediction`) that
  predict the token after next from the main model's last hidden state,
  used as an extra training signal and as a draft for speculative decoding.

Names follow DeepSeek's ``config.json`` and transformers' ``DeepseekV3ForCausalLM``
(``embed_tokens``, ``layers.i.self_attn``, ``layers.i.mlp``, ``norm``, ``lm_head``),
so :meth:`DeepSeekV3.from_hf` copies weights name for name.
:func:`deepseek_v3` returns the published configuration without weights.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import (
    check_hf_model,
    check_instance,
    check_int,
    check_positive,
    check_positive_int,
    check_token_sequence,
)
from fmref.models.llama import SwiGLU
from fmref.nn.attention import causal_mask
from fmref.nn.mla import MLACache, MultiHeadLatentAttention
from fmref.nn.moe import DeepSeekMoE
from fmref.nn.norm import RMSNorm
from fmref.nn.position import rope_angles, rope_inv_freq
from fmref.train.loop import cosine_schedule, fit, get_batch

__all__ = [
    "DeepSeekV3Config",
    "DeepSeekV3Block",
    "MultiTokenPrediction",
    "DeepSeekV3",
    "deepseek_v3",
    "deepseek_tiny",
    "mtp_lm_loss",
    "mtp_acceptance",
    "MTP_SETTINGS",
    "train_mtp_pair",
]


@dataclass
class DeepSeekV3Config:
    """Shape of a DeepSeek-V3-style model (the names of DeepSeek's ``config.json``).

    Parameters
    ----------
    vocab_size, hidden_size, num_hidden_layers, num_attention_heads : int
        Vocabulary, width ``C``, layers and attention heads.
    intermediate_size : int
        Width of the dense SwiGLU layers.
    moe_intermediate_size : int
        Width of each routed and shared expert.
    n_routed_experts, num_experts_per_tok : int
        Routed experts per MoE layer and how many each token uses.
    kv_lora_rank : int
        Width of MLA's cached key/value latent.
    qk_nope_head_dim, qk_rope_head_dim, v_head_dim : int
        Per-head widths: position-free query/key part, RoPE part (even), value.
    max_position_embeddings : int
        Context length covered by the RoPE table.
    q_lora_rank : int or None, default None
        Width of the query latent; None projects queries directly.
    n_shared_experts : int, default 1
        Shared experts per MoE layer.
    n_group, topk_group : int, default 1 and None
        Group-limited routing: experts in ``n_group`` groups, a token uses at
        most ``topk_group`` of them (None: all).
    routed_scaling_factor : float, default 1.0
        Multiplies the routed gates.
    norm_topk_prob : bool, default True
        Normalise the chosen affinities.
    first_k_dense_replace : int, default 0
        The first layers that keep a dense SwiGLU.
    rms_norm_eps : float, default 1e-6
    rope_theta : float, default 10000.0
    rope_scaling : dict or None, default None
        As :func:`fmref.nn.position.rope_inv_freq`; a ``"yarn"`` dict may carry
        DeepSeek's ``mscale`` and ``mscale_all_dim``.
    rope_interleave : bool, default True
        RoPE pairs features ``(2i, 2i+1)`` as DeepSeek's checkpoints do.
    tie_word_embeddings : bool, default False
    num_nextn_predict_layers : int, default 0
        Multi-token prediction depth ``D`` (1 in DeepSeek-V3).

    Raises
    ------
    ValueError
        If a size is not a positive int (``kv_lora_rank <= 0`` among them),
        ``qk_rope_head_dim`` is odd, ``num_experts_per_tok`` exceeds the
        experts, ``n_group`` does not divide ``n_routed_experts``, or
        ``topk_group`` is not in ``[1, n_group]``.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 4.2.

    Examples
    --------
    >>> from fmref.models.deepseek import DeepSeekV3Config
    >>> cfg = DeepSeekV3Config(vocab_size=64, hidden_size=32, num_hidden_layers=2,
    ...     num_attention_heads=4, intermediate_size=64, moe_intermediate_size=16,
    ...     n_routed_experts=8, num_experts_per_tok=2, kv_lora_rank=16,
    ...     qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, max_position_embeddings=32)
    >>> cfg.qk_head_dim, cfg.max_seq_len
    (12, 32)
    >>> DeepSeekV3Config(**{**cfg.__dict__, "n_group": 3})
    Traceback (most recent call last):
    ...
    ValueError: n_group must divide the number of experts 8, got n_group=3
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    moe_intermediate_size: int
    n_routed_experts: int
    num_experts_per_tok: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    max_position_embeddings: int
    q_lora_rank: int | None = None
    n_shared_experts: int = 1
    n_group: int = 1
    topk_group: int | None = None
    routed_scaling_factor: float = 1.0
    norm_topk_prob: bool = True
    first_k_dense_replace: int = 0
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    rope_interleave: bool = True
    tie_word_embeddings: bool = False
    num_nextn_predict_layers: int = 0

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "moe_intermediate_size",
            "n_routed_experts",
            "kv_lora_rank",
            "qk_nope_head_dim",
            "qk_rope_head_dim",
            "v_head_dim",
            "max_position_embeddings",
        ):
            check_positive_int(name, getattr(self, name))
        if self.qk_rope_head_dim % 2:
            raise ValueError(f"qk_rope_head_dim must be even for RoPE, got {self.qk_rope_head_dim}")
        if self.q_lora_rank is not None:
            check_positive_int("q_lora_rank", self.q_lora_rank)
        check_int("num_experts_per_tok", self.num_experts_per_tok, 1, self.n_routed_experts)
        check_int("n_shared_experts", self.n_shared_experts, low=0)
        check_positive_int("n_group", self.n_group)
        if self.n_routed_experts % self.n_group:
            raise ValueError(
                f"n_group must divide the number of experts {self.n_routed_experts}, "
                f"got n_group={self.n_group}"
            )
        if self.topk_group is None:
            self.topk_group = self.n_group
        check_int("topk_group", self.topk_group, 1, self.n_group)
        reachable = self.topk_group * self.n_routed_experts // self.n_group
        check_int("num_experts_per_tok", self.num_experts_per_tok, 1, reachable)
        check_positive("routed_scaling_factor", self.routed_scaling_factor)
        check_int("first_k_dense_replace", self.first_k_dense_replace, low=0)
        check_int("num_nextn_predict_layers", self.num_nextn_predict_layers, low=0)
        for name in ("rms_norm_eps", "rope_theta"):
            check_positive(name, getattr(self, name))
        if self.rope_scaling is not None:
            rope_inv_freq(self.qk_rope_head_dim, self.rope_theta, self.rope_scaling)  # validates

    @property
    def qk_head_dim(self):
        """Width of a query or key head: ``qk_nope_head_dim + qk_rope_head_dim``."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def max_seq_len(self):
        """``max_position_embeddings`` (the name :func:`fmref.infer.generate.generate` reads)."""
        return self.max_position_embeddings

    def is_moe(self, layer):
        """Whether layer ``layer`` has a :class:`~fmref.nn.moe.DeepSeekMoE` feed-forward layer.

        Parameters
        ----------
        layer : int

        Returns
        -------
        bool

        Examples
        --------
        >>> from fmref.models.deepseek import deepseek_v3
        >>> cfg = deepseek_v3()
        >>> [cfg.is_moe(i) for i in range(5)]  # three dense layers, then MoE
        [False, False, False, True, True]
        """
        return layer >= self.first_k_dense_replace

    def softmax_scale(self):
        """MLA's score scale: ``1/sqrt(qk_head_dim)``, times ``mscale**2`` under DeepSeek's YaRN.

        Returns
        -------
        float

        Examples
        --------
        >>> from fmref.models.deepseek import deepseek_v3
        >>> round(deepseek_v3().softmax_scale() * 192 ** 0.5, 4)  # (0.1 ln 40 + 1)^2
        1.8739
        """
        scale = 1.0 / math.sqrt(self.qk_head_dim)
        r = self.rope_scaling
        if r and r.get("rope_type") == "yarn" and r.get("mscale_all_dim"):
            factor = r["factor"]
            mscale = 0.1 * r["mscale_all_dim"] * math.log(factor) + 1.0 if factor > 1 else 1.0
            scale *= mscale * mscale
        return scale


def _mlp(config, layer_idx):
    c = config
    if not c.is_moe(layer_idx):
        return SwiGLU(c.hidden_size, c.intermediate_size)
    return DeepSeekMoE(
        c.hidden_size,
        c.moe_intermediate_size,
        c.n_routed_experts,
        c.num_experts_per_tok,
        n_shared_experts=c.n_shared_experts,
        n_group=c.n_group,
        topk_group=c.topk_group,
        routed_scaling_factor=c.routed_scaling_factor,
        norm_topk_prob=c.norm_topk_prob,
    )


class DeepSeekV3Block(nn.Module):
    """One pre-norm block: ``x + MLA(norm(x))``, then ``x + mlp(norm(x))``.

    Parameters
    ----------
    config : DeepSeekV3Config
    layer_idx : int
        Its index: the block is dense below ``first_k_dense_replace``, MoE from
        there on; also its slot in an :class:`~fmref.nn.mla.MLACache`.

    Attributes
    ----------
    input_layernorm, post_attention_layernorm : fmref.nn.norm.RMSNorm
    self_attn : fmref.nn.mla.MultiHeadLatentAttention
    mlp : fmref.models.llama.SwiGLU or fmref.nn.moe.DeepSeekMoE

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`DeepSeekV3Config`.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.deepseek import DeepSeekV3Block, deepseek_tiny
    >>> block = DeepSeekV3Block(deepseek_tiny(), layer_idx=1)
    >>> type(block.mlp).__name__
    'DeepSeekMoE'
    """

    def __init__(self, config, layer_idx):
        super().__init__()
        check_instance("config", config, DeepSeekV3Config)
        check_int("layer_idx", layer_idx, low=0)
        c = config
        self.layer_idx = layer_idx
        self.input_layernorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.self_attn = MultiHeadLatentAttention(
            c.hidden_size,
            c.num_attention_heads,
            c.kv_lora_rank,
            c.qk_rope_head_dim,
            c.qk_nope_head_dim,
            c.v_head_dim,
            q_lora_rank=c.q_lora_rank,
            layer_idx=layer_idx,
            rope_interleave=c.rope_interleave,
            softmax_scale=c.softmax_scale(),
        )
        self.post_attention_layernorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.mlp = _mlp(c, layer_idx)

    def forward(self, x, rope, attn_mask, kv_cache=None, rope_scale=1.0, absorb=False):
        h = self.input_layernorm(x)  # (B, T, C)
        x = x + self.self_attn(h, rope, attn_mask, kv_cache, rope_scale, absorb)
        y = self.mlp(self.post_attention_layernorm(x))
        return x + (y[0] if isinstance(y, tuple) else y)  # DeepSeekMoE also returns its routing


class MultiTokenPrediction(nn.Module):
    r"""One multi-token prediction (MTP) module of DeepSeek-V3 (section 2.2).

    Depth ``k`` combines the previous depth's hidden state at position ``i``
    with the embedding of token ``i + k`` and runs one more block:

    .. math::

       h'^k_i = M_k\,[\mathrm{RMSNorm}(\mathrm{Emb}(t_{i+k}));\ \mathrm{RMSNorm}(h^{k-1}_i)],
       \qquad h^k_{1:T-k} = \mathrm{TRM}_k(h'^k_{1:T-k}),

    and the shared output head reads ``norm(h^k_i)`` to predict token
    ``i + k + 1``. The embedding and the head are the main model's.
    (The paper writes the concatenation as ``[h; Emb]``; the released weights
    and transformers' ``MtpLayer`` put the embedding first, as here.)

    Parameters
    ----------
    config : DeepSeekV3Config
    depth : int
        ``k >= 1``.

    Attributes
    ----------
    enorm, hnorm : fmref.nn.norm.RMSNorm
    eh_proj : torch.nn.Linear
        :math:`M_k`, ``2C -> C`` without bias.
    block : DeepSeekV3Block
    norm : fmref.nn.norm.RMSNorm
        The norm before the shared head (``shared_head.norm`` in the checkpoint).

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`DeepSeekV3Config`.
    ValueError
        If ``depth`` is not a positive int.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, eq. (21)-(25).
    .. [2] Gloeckle et al., "Better & faster large language models via
       multi-token prediction", ICML 2024.

    Examples
    --------
    >>> from fmref.models.deepseek import MultiTokenPrediction, deepseek_tiny
    >>> mtp = MultiTokenPrediction(deepseek_tiny(), depth=1)
    >>> mtp.eh_proj.weight.shape
    torch.Size([32, 64])
    """

    def __init__(self, config, depth):
        super().__init__()
        check_instance("config", config, DeepSeekV3Config)
        check_positive_int("depth", depth)
        c = config
        self.enorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.hnorm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.eh_proj = nn.Linear(2 * c.hidden_size, c.hidden_size, bias=False)
        self.block = DeepSeekV3Block(c, c.num_hidden_layers + depth - 1)
        self.norm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)

    def forward(self, hidden, embeds, rope, attn_mask, rope_scale=1.0):
        """``(B, T', C)`` hidden states of depth ``k`` from depth ``k - 1``'s and the embeddings."""
        h = self.eh_proj(torch.cat([self.enorm(embeds), self.hnorm(hidden)], dim=-1))
        return self.block(h, rope, attn_mask, rope_scale=rope_scale)


class DeepSeekV3(nn.Module):
    """DeepSeek-V3-style causal language model, with optional MTP modules.

    Parameters
    ----------
    config : DeepSeekV3Config

    Attributes
    ----------
    embed_tokens : torch.nn.Embedding
    layers : torch.nn.ModuleList of DeepSeekV3Block
    norm : fmref.nn.norm.RMSNorm
    lm_head : torch.nn.Linear
    mtp : torch.nn.ModuleList of MultiTokenPrediction
        ``num_nextn_predict_layers`` modules (empty for 0).
    rope : torch.Tensor
        Buffer ``(max_position_embeddings, qk_rope_head_dim // 2)`` (not saved).

    Raises
    ------
    TypeError
        If ``config`` is not a :class:`DeepSeekV3Config`.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny
    >>> model = DeepSeekV3(deepseek_tiny()).eval()
    >>> idx = torch.randint(0, 64, (2, 10))
    >>> logits = model(idx)
    >>> logits.shape
    torch.Size([2, 10, 64])

    Decoding with the latent cache, absorbed or not, gives the full pass's logits:

    >>> cache = model.make_kv_cache()
    >>> _ = model(idx[:, :9], kv_cache=cache)
    >>> last = model(idx[:, 9:], kv_cache=cache, absorb=True)
    >>> torch.allclose(last[:, 0], logits[:, 9], atol=1e-5), type(cache).__name__
    (True, 'MLACache')
    """

    def __init__(self, config):
        super().__init__()
        check_instance("config", config, DeepSeekV3Config)
        c = self.config = config
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(DeepSeekV3Block(c, i) for i in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.mtp = nn.ModuleList(
            MultiTokenPrediction(c, k) for k in range(1, c.num_nextn_predict_layers + 1)
        )
        d, theta, scaling = c.qk_rope_head_dim, c.rope_theta, c.rope_scaling
        angles = rope_angles(d, c.max_position_embeddings, theta, scaling)
        self.register_buffer("rope", angles, persistent=False)  # (T_max, d_rope // 2)
        self.rope_scale = rope_inv_freq(d, theta, scaling)[1]  # YaRN's attention factor
        self.apply(self._init_weights)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def make_kv_cache(self):
        """An empty :class:`~fmref.nn.mla.MLACache` with one slot per layer.

        Returns
        -------
        fmref.nn.mla.MLACache

        Examples
        --------
        >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny
        >>> DeepSeekV3(deepseek_tiny()).make_kv_cache()
        MLACache(n_layers=2, length=0)
        """
        return MLACache(self.config.num_hidden_layers)

    def forward(self, idx, kv_cache=None, absorb=False, return_hidden=False):
        """Logits of the next token at every position.

        Parameters
        ----------
        idx : torch.Tensor
            ``(B, T)`` token ids; with a cache, they follow its tokens.
        kv_cache : fmref.nn.mla.MLACache, optional
        absorb : bool, default False
            Attend with the absorbed MLA form (:class:`~fmref.nn.mla.MultiHeadLatentAttention`).
        return_hidden : bool, default False
            Also return the final normalised hidden states ``(B, T, C)``
            (what the MTP modules read).

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            Logits ``(B, T, vocab_size)`` (and the hidden states).

        Raises
        ------
        TypeError
            If ``idx`` is not an integer tensor.
        ValueError
            If ``idx`` is not ``(B, T)`` ids in the vocabulary, or the cache
            plus ``idx`` exceed ``max_position_embeddings``.
        """
        c = self.config
        past = check_token_sequence(
            "idx", idx, c.vocab_size, c.max_position_embeddings, "max_position_embeddings",
            kv_cache, c.num_hidden_layers,
        )  # fmt: skip
        t = idx.shape[1]
        mask = causal_mask(t, past + t, device=idx.device)  # (T, past + T)
        x = self.embed_tokens(idx)  # (B, T, C)
        for layer in self.layers:
            x = layer(x, self.rope, mask, kv_cache, self.rope_scale, absorb)
        h = self.norm(x)
        logits = self.lm_head(h)  # (B, T, V)
        return (logits, h) if return_hidden else logits

    def mtp_logits(self, idx, hidden):
        """Logits of every MTP depth: depth ``k`` at position ``i`` predicts token ``i + k + 1``.

        Parameters
        ----------
        idx : torch.Tensor
            ``(B, T)`` the tokens the main model read.
        hidden : torch.Tensor
            ``(B, T, C)`` its final hidden states (``forward(..., return_hidden=True)``).

        Returns
        -------
        list of torch.Tensor
            One ``(B, T - k, vocab_size)`` tensor per depth ``k = 1 .. D``.

        Examples
        --------
        >>> import dataclasses, torch
        >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny
        >>> model = DeepSeekV3(dataclasses.replace(deepseek_tiny(), num_nextn_predict_layers=2))
        >>> idx = torch.randint(0, 64, (1, 8))
        >>> _, h = model(idx, return_hidden=True)
        >>> [tuple(x.shape) for x in model.mtp_logits(idx, h)]
        [(1, 7, 64), (1, 6, 64)]
        """
        t = idx.shape[1]
        out = []
        for k, module in enumerate(self.mtp, start=1):
            if t - k < 1:
                break
            mask = causal_mask(t - k, t - k, device=idx.device)
            embeds = self.embed_tokens(idx[:, k:])  # (B, T - k, C) tokens i + k
            hidden = module(hidden[:, : t - k], embeds, self.rope, mask, self.rope_scale)
            out.append(self.lm_head(module.norm(hidden)))  # (B, T - k, V)
        return out

    @torch.no_grad()
    def update_routing_biases(self, update_rate=1e-3):
        """Apply :meth:`fmref.nn.moe.DeepSeekMoE.update_bias` in every MoE layer (MTP included).

        Parameters
        ----------
        update_rate : float, default 1e-3

        Examples
        --------
        >>> import torch
        >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny
        >>> model = DeepSeekV3(deepseek_tiny()).train()
        >>> _ = model(torch.randint(0, 64, (2, 16)))
        >>> model.update_routing_biases(0.01)
        >>> bias = model.layers[1].mlp.e_score_correction_bias
        >>> sorted(set(round(b, 2) for b in bias.tolist()))  # each expert moved by one step
        [-0.01, 0.01]
        """
        for module in self.modules():
            if isinstance(module, DeepSeekMoE):
                module.update_bias(update_rate)

    @classmethod
    def from_hf(cls, hf_model, mtp_model=None):
        """Copy a transformers ``DeepseekV3ForCausalLM``, and optionally its MTP layers.

        Parameters
        ----------
        hf_model : transformers.DeepseekV3ForCausalLM
            SiLU, no attention biases; default or YaRN RoPE.
        mtp_model : transformers.modeling_layers.MtpModel, optional
            transformers' multi-token prediction layers built on ``hf_model``
            (``MtpModel(hf_model, n)``); copied into ``mtp``.

        Returns
        -------
        DeepSeekV3
            In eval mode, with the same weights (and ``len(mtp_model.layers)``
            MTP modules when ``mtp_model`` is given).

        Raises
        ------
        TypeError
            If ``hf_model`` is not a ``DeepseekV3ForCausalLM`` or ``mtp_model``
            not an ``MtpModel``.
        ValueError
            If it uses biases, another activation, another RoPE type, or fewer
        key/value heads than heads.

        Examples
        --------
        >>> import torch, transformers
        >>> from fmref.models.deepseek import DeepSeekV3
        >>> hf = transformers.DeepseekV3ForCausalLM(transformers.DeepseekV3Config(
        ...     vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
        ...     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        ...     n_routed_experts=8, n_group=2,
        ...     topk_group=1, num_experts_per_tok=2, kv_lora_rank=16, q_lora_rank=24,
        ...     qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=8, first_k_dense_replace=1,
        ...     max_position_embeddings=32)).eval()
        >>> model = DeepSeekV3.from_hf(hf)
        >>> idx = torch.randint(0, 64, (1, 8))
        >>> torch.allclose(model(idx), hf(idx).logits, atol=1e-5)
        True
        """
        check_hf_model("hf_model", hf_model, "DeepseekV3ForCausalLM")
        c = hf_model.config
        if c.hidden_act != "silu":
            raise ValueError(f"hf_model.config.hidden_act must be 'silu', got {c.hidden_act!r}")
        if c.attention_bias:
            raise ValueError("hf_model.config.attention_bias must be False")
        if c.num_key_value_heads != c.num_attention_heads:  # MLA expands a key per head
            raise ValueError(
                "hf_model.config.num_key_value_heads must equal num_attention_heads="
                f"{c.num_attention_heads}, got {c.num_key_value_heads}"
            )
        rope = dict(c.rope_parameters or {})
        theta = rope.pop("rope_theta", 10000.0)
        rope_type = rope.get("rope_type", "default")
        if rope_type not in ("default", "yarn"):
            raise ValueError(
                f"hf_model.config rope_type must be 'default' or 'yarn', got {rope_type!r}"
            )
        config = DeepSeekV3Config(
            vocab_size=c.vocab_size,
            hidden_size=c.hidden_size,
            num_hidden_layers=c.num_hidden_layers,
            num_attention_heads=c.num_attention_heads,
            intermediate_size=c.intermediate_size,
            moe_intermediate_size=c.moe_intermediate_size,
            n_routed_experts=c.n_routed_experts,
            num_experts_per_tok=c.num_experts_per_tok,
            kv_lora_rank=c.kv_lora_rank,
            qk_nope_head_dim=c.qk_nope_head_dim,
            qk_rope_head_dim=c.qk_rope_head_dim,
            v_head_dim=c.v_head_dim,
            max_position_embeddings=c.max_position_embeddings,
            q_lora_rank=c.q_lora_rank,
            n_shared_experts=c.n_shared_experts,
            n_group=c.n_group,
            topk_group=c.topk_group,
            routed_scaling_factor=float(c.routed_scaling_factor),
            norm_topk_prob=bool(c.norm_topk_prob),
            first_k_dense_replace=c.first_k_dense_replace,
            rms_norm_eps=c.rms_norm_eps,
            rope_theta=float(theta),
            rope_scaling=None if rope_type == "default" else rope,
            rope_interleave=bool(c.rope_interleave),
            tie_word_embeddings=bool(c.tie_word_embeddings),
        )
        src = hf_model.state_dict()
        dst = {
            "embed_tokens.weight": src["model.embed_tokens.weight"],
            "norm.weight": src["model.norm.weight"],
            "lm_head.weight": src["lm_head.weight"],
        }
        for i in range(c.num_hidden_layers):
            _copy_block(src, f"model.layers.{i}.", dst, f"layers.{i}.", config, config.is_moe(i))
        if mtp_model is not None:
            name = type(mtp_model).__name__
            if name != "MtpModel":
                raise TypeError(f"mtp_model must be a transformers MtpModel, got {name}")
            config = dataclasses.replace(config, num_nextn_predict_layers=len(mtp_model.layers))
            mtp = {k: v for k, v in mtp_model.state_dict().items() if k.startswith("layers.")}
            for k in range(config.num_nextn_predict_layers):
                theirs, ours = f"layers.{k}.", f"mtp.{k}."
                for a, b in (("enorm", "enorm"), ("hnorm", "hnorm"), ("eh_proj", "eh_proj"),
                             ("post_norm", "norm")):  # fmt: skip
                    dst[f"{ours}{b}.weight"] = mtp[f"{theirs}{a}.weight"]
                _copy_block(mtp, theirs + "mtp_block.", dst, ours + "block.", config, True)
        model = cls(config)
        model.load_state_dict(dst)
        return model.eval()


def _copy_block(src, theirs, dst, ours, config, moe):
    """Map a transformers ``DeepseekV3DecoderLayer`` (prefix ``theirs``) to a DeepSeekV3Block."""
    c = config
    attn = ["kv_a_proj_with_mqa", "kv_a_layernorm", "kv_b_proj", "o_proj"]
    attn += ["q_proj"] if c.q_lora_rank is None else ["q_a_proj", "q_a_layernorm", "q_b_proj"]
    swiglu = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}
    for norm in ("input_layernorm", "post_attention_layernorm"):
        dst[ours + norm + ".weight"] = src[theirs + norm + ".weight"]
    for part in attn:
        dst[f"{ours}self_attn.{part}.weight"] = src[f"{theirs}self_attn.{part}.weight"]
    if not moe:
        for w, hf_name in swiglu.items():
            dst[f"{ours}mlp.{w}.weight"] = src[f"{theirs}mlp.{hf_name}.weight"]
        return
    dst[ours + "mlp.gate.weight"] = src[theirs + "mlp.gate.weight"]
    dst[ours + "mlp.e_score_correction_bias"] = src[theirs + "mlp.gate.e_score_correction_bias"]
    for w, hf_name in swiglu.items():
        dst[f"{ours}mlp.shared_experts.{w}.weight"] = src[
            f"{theirs}mlp.shared_experts.{hf_name}.weight"
        ]
    gate_up = src[theirs + "mlp.experts.gate_up_proj"]  # (E, 2I, C): gate rows, then up rows
    down = src[theirs + "mlp.experts.down_proj"]  # (E, C, I)
    i_dim = c.moe_intermediate_size
    for e in range(c.n_routed_experts):
        dst[f"{ours}mlp.experts.{e}.w1.weight"] = gate_up[e, :i_dim]
        dst[f"{ours}mlp.experts.{e}.w3.weight"] = gate_up[e, i_dim:]
        dst[f"{ours}mlp.experts.{e}.w2.weight"] = down[e]


def deepseek_tiny():
    """A tiny random DeepSeek-V3 configuration for examples and tests.

    Two layers (one dense, one MoE with 8 routed experts in 4 groups, 2 groups
    and 2 experts per token, one shared expert), width 32, 4 heads, latent 16.

    Returns
    -------
    DeepSeekV3Config

    Examples
    --------
    >>> from fmref.models.deepseek import deepseek_tiny
    >>> cfg = deepseek_tiny()
    >>> cfg.kv_lora_rank + cfg.qk_rope_head_dim  # numbers cached per token and layer
    20
    """
    return DeepSeekV3Config(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        moe_intermediate_size=16,
        n_routed_experts=8,
        num_experts_per_tok=2,
        kv_lora_rank=16,
        qk_nope_head_dim=8,
        qk_rope_head_dim=4,
        v_head_dim=8,
        max_position_embeddings=64,
        q_lora_rank=24,
        n_group=4,
        topk_group=2,
        routed_scaling_factor=2.5,
        first_k_dense_replace=1,
    )


def deepseek_v3():
    """Configuration of DeepSeek-V3 (and R1), without allocating weights.

    61 layers of width 7,168: MLA with 128 heads (query latent 1,536, key/value
    latent 512, per-head 128 + 64 query/key and 128 value); the first 3
    feed-forward layers dense (18,432), the other 58 with 1 shared and 256
    routed experts of 2,048, 8 per token from at most 4 of 8 groups, gates
    scaled by 2.5; one MTP module; YaRN stretching a 4,096-token RoPE 40 times
    to 163,840 tokens.

    Returns
    -------
    DeepSeekV3Config

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 4.2
       (671B total and 37B activated parameters); the shape and
       ``rope_scaling`` are ``deepseek-ai/DeepSeek-V3``'s ``config.json``.

    Examples
    --------
    >>> from fmref.models.deepseek import deepseek_v3
    >>> from fmref.scaling import active_parameters, count_parameters
    >>> cfg = deepseek_v3()
    >>> f"{count_parameters(cfg):,}"  # the paper: 671B
    '671,026,404,352'
    >>> f"{active_parameters(cfg):,}"  # the paper: 37B
    '37,552,282,624'
    """
    return DeepSeekV3Config(
        vocab_size=129280,
        hidden_size=7168,
        num_hidden_layers=61,
        num_attention_heads=128,
        intermediate_size=18432,
        moe_intermediate_size=2048,
        n_routed_experts=256,
        num_experts_per_tok=8,
        kv_lora_rank=512,
        qk_nope_head_dim=128,
        qk_rope_head_dim=64,
        v_head_dim=128,
        max_position_embeddings=163840,
        q_lora_rank=1536,
        n_shared_experts=1,
        n_group=8,
        topk_group=4,
        routed_scaling_factor=2.5,
        norm_topk_prob=True,
        first_k_dense_replace=3,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        rope_scaling={
            "rope_type": "yarn",
            "factor": 40.0,
            "original_max_position_embeddings": 4096,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "mscale": 1.0,
            "mscale_all_dim": 1.0,
        },
        num_nextn_predict_layers=1,
    )


def mtp_lm_loss(model, batch, mtp_weight=0.3):
    r"""Next-token loss plus DeepSeek-V3's multi-token prediction loss.

    :math:`\mathcal{L} + \lambda \bar{\mathcal{L}}_\text{MTP}`, where
    :math:`\bar{\mathcal{L}}_\text{MTP}` is the mean over the ``D`` depths of
    the cross-entropy of depth ``k``'s prediction of token ``i + k + 1``.

    Parameters
    ----------
    model : DeepSeekV3
    batch : torch.Tensor
        ``(B, T)`` token ids.
    mtp_weight : float, default 0.3
        :math:`\lambda` (0.3 for DeepSeek-V3's first 10T tokens, then 0.1).

    Returns
    -------
    torch.Tensor
        Scalar loss; the plain next-token loss when the model has no MTP module.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`DeepSeekV3`.
    ValueError
        If ``mtp_weight`` is negative.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, eq. (24)-(25).

    Examples
    --------
    >>> import dataclasses, torch
    >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny, mtp_lm_loss
    >>> model = DeepSeekV3(dataclasses.replace(deepseek_tiny(), num_nextn_predict_layers=1))
    >>> batch = torch.randint(0, 64, (2, 12))
    >>> round(mtp_lm_loss(model, batch, mtp_weight=0.0).item(), 2)  # near ln 64 = 4.16
    4.17
    >>> mtp_lm_loss(model, batch).item() > mtp_lm_loss(model, batch, 0.0).item()
    True
    """
    check_instance("model", model, DeepSeekV3)
    if isinstance(mtp_weight, bool) or not isinstance(mtp_weight, (int, float)) or mtp_weight < 0:
        raise ValueError(f"mtp_weight must be a number >= 0, got {mtp_weight!r}")
    logits, hidden = model(batch, return_hidden=True)
    vocab = logits.shape[-1]
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), batch[:, 1:].reshape(-1))
    depths = model.mtp_logits(batch, hidden) if mtp_weight else []
    extra = []
    for k, lg in enumerate(depths, start=1):
        n = batch.shape[1] - k - 1  # positions whose target token i + k + 1 exists
        if n > 0:
            target = batch[:, k + 1 :]  # (B, n)
            extra.append(F.cross_entropy(lg[:, :n].reshape(-1, vocab), target.reshape(-1)))
    if extra:
        loss = loss + mtp_weight * torch.stack(extra).mean()
    return loss


@torch.no_grad()
def mtp_acceptance(model, prompts, n_new):
    """How often the first MTP module's draft equals the main model's next greedy token.

    Each prompt is extended greedily by the main model; at every generated
    position ``i`` the MTP module, given the main model's hidden state and the
    token it just produced (``i + 1``), drafts token ``i + 2``. The draft is
    accepted when greedy decoding would produce the same token: in
    self-speculative decoding each accepted draft saves one main-model call.

    Parameters
    ----------
    model : DeepSeekV3
        With at least one MTP module.
    prompts : torch.Tensor
        ``(B, T0)`` token ids.
    n_new : int
        Tokens to generate per prompt (``>= 2``).

    Returns
    -------
    float
        Accepted drafts over drafts.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`DeepSeekV3`.
    ValueError
        If the model has no MTP module or ``n_new < 2``.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 5.4.3
       (85-90% acceptance of the second token).

    Examples
    --------
    >>> import dataclasses, torch
    >>> from fmref.models.deepseek import DeepSeekV3, deepseek_tiny, mtp_acceptance
    >>> model = DeepSeekV3(dataclasses.replace(deepseek_tiny(), num_nextn_predict_layers=1))
    >>> 0.0 <= mtp_acceptance(model.eval(), torch.randint(0, 64, (2, 4)), n_new=8) <= 1.0
    True
    """
    check_instance("model", model, DeepSeekV3)
    if not len(model.mtp):
        raise ValueError("model must have an MTP module (num_nextn_predict_layers >= 1)")
    check_int("n_new", n_new, low=2)
    seq = prompts
    for _ in range(n_new):  # greedy, no cache: short and exact
        nxt = model(seq)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    _, hidden = model(seq, return_hidden=True)
    draft = model.mtp_logits(seq, hidden)[0].argmax(-1)  # (B, T - 1): position i drafts i + 2
    t0 = prompts.shape[1]
    # drafts made at i = t0 - 1 .. T - 3 for the generated tokens i + 2 = t0 + 1 .. T - 1
    drafted = draft[:, t0 - 1 : seq.shape[1] - 2]
    actual = seq[:, t0 + 1 :]
    return float((drafted == actual).float().mean())


#: Settings of :func:`train_mtp_pair`: two byte-level DeepSeek-V3 models of about
#: 0.2M parameters trained on the Python documentation corpus, one with an MTP module.
MTP_SETTINGS = {
    "hidden_size": 64,  # width
    "num_hidden_layers": 2,  # one dense layer, then one MoE layer
    "num_attention_heads": 4,
    "intermediate_size": 128,  # dense SwiGLU
    "moe_intermediate_size": 32,  # each expert
    "n_routed_experts": 8,
    "num_experts_per_tok": 2,
    "n_group": 4,
    "topk_group": 2,
    "kv_lora_rank": 16,
    "q_lora_rank": 32,
    "qk_nope_head_dim": 8,
    "qk_rope_head_dim": 8,
    "v_head_dim": 8,
    "block_size": 64,  # tokens per window
    "batch_size": 12,
    "steps": 120,
    "lr_max": 3e-3,
    "lr_min": 3e-4,
    "warmup": 12,
    "mtp_weight": 0.3,  # lambda, DeepSeek-V3's value for its first 10T tokens
    "bias_update_rate": 0.01,  # gamma (DeepSeek-V3: 0.001 over far more steps)
    "eval_windows": 32,  # validation windows for the losses
    "prompts": 8,  # validation prompts for the acceptance rate
    "prompt_len": 16,
    "n_new": 24,  # greedy tokens generated per prompt
    "seed": 0,
}


def _mtp_eval(model, val, s, with_mtp):
    g = torch.Generator().manual_seed(s["seed"] + 1)
    windows = get_batch(val, s["eval_windows"], s["block_size"], generator=g)  # (N, T)
    logits, hidden = model(windows, return_hidden=True)
    vocab = logits.shape[-1]
    out = {
        "val_loss": F.cross_entropy(
            logits[:, :-1].reshape(-1, vocab), windows[:, 1:].reshape(-1)
        ).item()
    }
    greedy = logits.argmax(-1)  # (N, T) the main model's choice for token i + 1
    out["next_token_accuracy"] = (greedy[:, :-1] == windows[:, 1:]).float().mean().item()
    if with_mtp:
        draft = model.mtp_logits(windows, hidden)[0][:, :-1]  # position i predicts i + 2
        out["val_mtp_loss"] = F.cross_entropy(
            draft.reshape(-1, vocab), windows[:, 2:].reshape(-1)
        ).item()
        # on real text: does the draft for i + 2 equal the main model's choice at i + 1?
        out["agreement"] = (draft.argmax(-1) == greedy[:, 1:-1]).float().mean().item()
        prompts = get_batch(val, s["prompts"], s["prompt_len"], generator=g)
        out["acceptance"] = mtp_acceptance(model, prompts, s["n_new"])
    moe = model.layers[-1].mlp
    moe.tokens_per_expert.zero_()
    moe.train()  # counts the load of this pass
    model(windows)
    moe.eval()
    load = moe.tokens_per_expert
    out["max_over_mean_load"] = (load.max() / load.mean()).item()
    moe.tokens_per_expert.zero_()
    return out


def train_mtp_pair(**overrides):
    """Train the same small DeepSeek-V3 with and without an MTP module (no cache).

    Both models start from the same weights (the MTP module aside), see the
    same byte windows of :func:`fmref.text.corpus.python_docs` in the same
    order, and update their routing biases after every step; one adds the MTP
    loss (:func:`mtp_lm_loss`). :func:`fmref.zoo.deepseek_mtp` runs it once on
    one thread and caches the result.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`MTP_SETTINGS`.

    Returns
    -------
    dict
        ``config`` (the fields of the :class:`DeepSeekV3Config` with MTP),
        ``state_dicts`` and ``results`` keyed by ``"plain"`` and ``"mtp"``;
        each result holds ``val_loss``, ``next_token_accuracy`` (the main
        head's greedy choice is the next byte), ``max_over_mean_load``, the
        training ``loss`` per step and, for ``"mtp"``, ``val_mtp_loss``,
        ``acceptance`` (:func:`mtp_acceptance` on greedy continuations) and
        ``agreement`` (the draft equals the main model's next greedy choice on
        validation text).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    :func:`fmref.zoo.deepseek_mtp` caches the run of :data:`MTP_SETTINGS` (120
    steps) that Chapter IX reports; two steps show what it returns:

    >>> from fmref.models.deepseek import train_mtp_pair
    >>> run = train_mtp_pair(steps=2, warmup=1, eval_windows=4, prompts=2, n_new=4)
    >>> sorted(run["state_dicts"]), len(run["results"]["mtp"]["loss"])
    (['mtp', 'plain'], 2)
    """
    from fmref._validate import check_overrides
    from fmref.text.corpus import python_docs

    s = check_overrides("overrides", overrides, MTP_SETTINGS)
    train = torch.tensor(list(python_docs("train").encode("utf-8")))
    val = torch.tensor(list(python_docs("validation").encode("utf-8")))
    fields = {k: s[k] for k in DeepSeekV3Config.__dataclass_fields__ if k in s}
    config = DeepSeekV3Config(
        vocab_size=256, max_position_embeddings=s["block_size"] + s["n_new"] + s["prompt_len"],
        num_nextn_predict_layers=1, first_k_dense_replace=1, **fields,
    )  # fmt: skip
    out = {"config": dict(config.__dict__), "state_dicts": {}, "results": {}}
    for name, weight in (("plain", 0.0), ("mtp", s["mtp_weight"])):
        torch.manual_seed(s["seed"])
        model = DeepSeekV3(config)
        if not weight:  # the plain model never uses its MTP module: freeze it
            model.mtp.requires_grad_(False)
        g = torch.Generator().manual_seed(s["seed"])
        history = fit(
            model,
            lambda step, g=g: get_batch(train, s["batch_size"], s["block_size"], generator=g),
            lambda m, batch, w=weight: mtp_lm_loss(m, batch, w),
            s["steps"],
            lr=lambda step: cosine_schedule(
                step, s["warmup"], s["steps"], s["lr_max"], s["lr_min"]
            ),
            after_step=lambda m: m.update_routing_biases(s["bias_update_rate"]),
            seed=s["seed"],
        )
        model.eval()
        with torch.no_grad():
            result = _mtp_eval(model, val, s, with_mtp=bool(weight))
        result["loss"] = history["loss"]
        out["state_dicts"][name] = model.state_dict()
        out["results"][name] = result
    return out
