"""Multi-head latent attention (MLA): DeepSeek-V2/V3's compressed key/value cache.

Grouped-query and multi-query attention shrink the KV cache by sharing key and
value heads. MLA instead caches one low-rank *latent* per token,
``c = RMSNorm(W_DKV x)`` of width ``kv_lora_rank``, from which every head's key
and value are re-expanded (``kv_b_proj``). RoPE cannot sit on those keys (a
rotation between the latent and the query would stop the up-projection from
being folded into the query), so a small extra key of width
``qk_rope_head_dim``, shared by all heads, carries the positions: it is the
only other thing cached. A token therefore costs ``kv_lora_rank +
qk_rope_head_dim`` numbers per layer (576 in DeepSeek-V3) where multi-head
attention with 128 heads of 128 stores ``2 * 128 * 128 = 32,768``.

At decoding time the up-projections can be *absorbed*: the key projection into
the query (``q_nope · (W_UK c) = (W_UK^T q_nope) · c``) and the value
projection after the weighted sum (``sum w (W_UV c) = W_UV (sum w c)``), so
attention runs on the latent directly without materialising per-head keys and
values (:meth:`MultiHeadLatentAttention.forward` with ``absorb=True``).

Names follow transformers' ``DeepseekV3Attention`` (``q_a_proj``,
``q_a_layernorm``, ``q_b_proj``, ``kv_a_proj_with_mqa``, ``kv_a_layernorm``,
``kv_b_proj``, ``o_proj``).

References
----------
.. [1] DeepSeek-AI, "DeepSeek-V2: A strong, economical, and efficient
   mixture-of-experts language model", 2024, section 2.1.
.. [2] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, section 2.1.1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fmref._validate import check_int, check_positive, check_positive_int
from fmref.nn.attention import KVCache
from fmref.nn.norm import RMSNorm
from fmref.nn.position import apply_rope

__all__ = ["MLACache", "MultiHeadLatentAttention"]


class MLACache(KVCache):
    """A KV cache that holds MLA's latent and its shared RoPE key, not keys and values.

    Per layer it stores ``latent`` ``(B, 1, T, kv_lora_rank)`` in ``keys``
    and the rotated RoPE key ``(B, 1, T, qk_rope_head_dim)`` in ``values``
    (the slots of :class:`~fmref.nn.attention.KVCache`, whose ``crop``,
    ``reset`` and ``length`` it inherits).

    Parameters
    ----------
    n_layers : int
        Attention layers.

    Raises
    ------
    ValueError
        If ``n_layers`` is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.mla import MLACache
    >>> cache = MLACache(n_layers=1)
    >>> c, k = cache.update(0, torch.zeros(2, 1, 3, 16), torch.zeros(2, 1, 3, 4))
    >>> tuple(c.shape), tuple(k.shape), cache.length
    ((2, 1, 3, 16), (2, 1, 3, 4), 3)
    >>> cache.nbytes()  # 2 sequences x 3 tokens x (16 + 4) float32 numbers
    480
    """

    def update(self, layer, latent, k_rope):
        """Append ``latent`` ``(B, 1, T_new, r)`` and ``k_rope`` ``(B, 1, T_new, d_rope)``.

        Returns
        -------
        tuple of torch.Tensor
            All latents and RoPE keys of ``layer``.
        """
        self._check_layer(layer)
        if latent.shape[:-1] != k_rope.shape[:-1]:
            raise ValueError(
                f"k_rope must match latent {tuple(latent.shape[:-1])} except in its last "
                f"dimension, got {tuple(k_rope.shape)}"
            )
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = latent, k_rope
        else:
            self.keys[layer] = torch.cat([self.keys[layer], latent], dim=-2)
            self.values[layer] = torch.cat([self.values[layer], k_rope], dim=-2)
        return self.keys[layer], self.values[layer]

    def nbytes(self):
        """Bytes held by the cached latents and RoPE keys."""
        tensors = self.keys + self.values
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def __repr__(self):
        return f"MLACache(n_layers={self.n_layers}, length={self.length})"


def _rope_interleaved_as_half(x, angles):
    """DeepSeek's interleaved RoPE, laid out as transformers' ``apply_rotary_pos_emb_interleave``:
    the pairs ``(x0, x1), (x2, x3) ...`` are de-interleaved, then rotated half against half."""
    return apply_rope(torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1), angles)


class MultiHeadLatentAttention(nn.Module):
    r"""Causal multi-head latent attention with decoupled RoPE (DeepSeek-V2/V3).

    For a token :math:`x` (DeepSeek-V2, eq. 9-19):

    .. math::

       c^Q = \mathrm{RMSNorm}(W^{DQ} x),\quad
       [q^C_h; q^R_h] = W^{UQ}_h c^Q,\quad q^R_h \leftarrow \mathrm{RoPE}(q^R_h)

       c^{KV} = \mathrm{RMSNorm}(W^{DKV} x),\quad
       k^R = \mathrm{RoPE}(W^{KR} x),\quad
       [k^C_h; v_h] = W^{UKV}_h c^{KV}

       o_h = \mathrm{softmax}_j\Big(\frac{q^C_h \cdot k^C_{h,j} + q^R_h \cdot k^R_j}
       {\sqrt{d_\text{nope} + d_\text{rope}}}\Big) v_{h,j},\qquad
       y = W^O [o_1; \dots; o_H].

    Only :math:`c^{KV}` and :math:`k^R` are cached (:class:`MLACache`).

    Parameters
    ----------
    d_model : int
        Model width.
    n_heads : int
        Attention heads.
    kv_lora_rank : int
        Width of the cached key/value latent :math:`c^{KV}` (512 in DeepSeek-V3).
    qk_rope_head_dim : int
        Width of the RoPE part of each query and of the shared RoPE key; even (64).
    qk_nope_head_dim : int
        Width of the position-free part of each query and key head (128).
    v_head_dim : int
        Width of each value head (128).
    q_lora_rank : int or None, default None
        Width of the query latent :math:`c^Q` (1,536 in DeepSeek-V3); None
        projects queries directly (``q_proj``, DeepSeek-V2-Lite).
    layer_idx : int, default 0
        Slot of this layer in an :class:`MLACache`.
    norm_eps : float, default 1e-6
        Epsilon of the two latent RMSNorms.
    rope_interleave : bool, default True
        DeepSeek's checkpoints pair RoPE features ``(2i, 2i+1)``; False pairs
        ``i`` with ``i + d/2`` (transformers' ``rope_interleave``).
    softmax_scale : float, optional
        Multiplies the scores; default ``1 / sqrt(qk_nope_head_dim + qk_rope_head_dim)``
        (YaRN-scaled models multiply it by ``mscale**2``).

    Attributes
    ----------
    q_proj : torch.nn.Linear
        Only when ``q_lora_rank`` is None.
    q_a_proj, q_a_layernorm, q_b_proj
        The query down-projection, its RMSNorm and the up-projection (with ``q_lora_rank``).
    kv_a_proj_with_mqa : torch.nn.Linear
        ``d_model -> kv_lora_rank + qk_rope_head_dim``: the latent and the shared RoPE key.
    kv_a_layernorm : fmref.nn.norm.RMSNorm
    kv_b_proj : torch.nn.Linear
        ``kv_lora_rank -> n_heads * (qk_nope_head_dim + v_head_dim)``: :math:`W^{UK}`
        and :math:`W^{UV}` of every head.
    o_proj : torch.nn.Linear

    Raises
    ------
    ValueError
        If a size is not a positive int, ``qk_rope_head_dim`` is odd, or
        ``q_lora_rank`` is neither None nor a positive int.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-V2", 2024, section 2.1 (eq. 9-19) and
       Appendix C (the absorbed form).
    .. [2] DeepSeek-AI, "DeepSeek-V3 technical report", 2024, eq. (1)-(11).

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import causal_mask
    >>> from fmref.nn.mla import MLACache, MultiHeadLatentAttention
    >>> from fmref.nn.position import rope_angles
    >>> attn = MultiHeadLatentAttention(d_model=32, n_heads=4, kv_lora_rank=16,
    ...     qk_rope_head_dim=4, qk_nope_head_dim=8, v_head_dim=8, q_lora_rank=24).eval()
    >>> x, rope = torch.randn(2, 6, 32), rope_angles(4, 16)
    >>> y = attn(x, rope, causal_mask(6, 6))
    >>> y.shape
    torch.Size([2, 6, 32])

    The absorbed form gives the same output from the latent alone:

    >>> torch.allclose(attn(x, rope, causal_mask(6, 6), absorb=True), y, atol=1e-5)
    True

    Decoding the last token from a cache of the first five:

    >>> cache = MLACache(n_layers=1)
    >>> _ = attn(x[:, :5], rope, causal_mask(5, 5), kv_cache=cache)
    >>> last = attn(x[:, 5:], rope, causal_mask(1, 6), kv_cache=cache, absorb=True)
    >>> torch.allclose(last[:, 0], y[:, 5], atol=1e-5), tuple(cache.keys[0].shape)
    (True, (2, 1, 6, 16))
    """

    def __init__(
        self,
        d_model,
        n_heads,
        kv_lora_rank,
        qk_rope_head_dim,
        qk_nope_head_dim,
        v_head_dim,
        q_lora_rank=None,
        layer_idx=0,
        norm_eps=1e-6,
        rope_interleave=True,
        softmax_scale=None,
    ):
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("n_heads", n_heads),
            ("kv_lora_rank", kv_lora_rank),
            ("qk_rope_head_dim", qk_rope_head_dim),
            ("qk_nope_head_dim", qk_nope_head_dim),
            ("v_head_dim", v_head_dim),
        ):
            check_positive_int(name, value)
        if qk_rope_head_dim % 2:
            raise ValueError(f"qk_rope_head_dim must be even for RoPE, got {qk_rope_head_dim}")
        if q_lora_rank is not None:
            check_positive_int("q_lora_rank", q_lora_rank)
        check_int("layer_idx", layer_idx, low=0)
        qk_head_dim = qk_nope_head_dim + qk_rope_head_dim
        if softmax_scale is None:
            softmax_scale = 1.0 / math.sqrt(qk_head_dim)
        check_positive("softmax_scale", softmax_scale)
        self.n_heads, self.layer_idx, self.rope_interleave = n_heads, layer_idx, rope_interleave
        self.kv_lora_rank, self.d_rope, self.d_nope, self.d_v = (
            kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim
        )  # fmt: skip
        self.softmax_scale = softmax_scale
        if q_lora_rank is None:
            self.q_proj = nn.Linear(d_model, n_heads * qk_head_dim, bias=False)
        else:
            self.q_a_proj = nn.Linear(d_model, q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(q_lora_rank, eps=norm_eps)
            self.q_b_proj = nn.Linear(q_lora_rank, n_heads * qk_head_dim, bias=False)
        self.q_lora_rank = q_lora_rank
        self.kv_a_proj_with_mqa = nn.Linear(d_model, kv_lora_rank + qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(kv_lora_rank, eps=norm_eps)
        self.kv_b_proj = nn.Linear(
            kv_lora_rank, n_heads * (qk_nope_head_dim + v_head_dim), bias=False
        )
        self.o_proj = nn.Linear(n_heads * v_head_dim, d_model, bias=False)

    def _rope(self, x, angles):
        if self.rope_interleave:
            return _rope_interleaved_as_half(x, angles)
        return apply_rope(x, angles)

    def forward(self, x, rope, attn_mask, kv_cache=None, rope_scale=1.0, absorb=False):
        """Attend causally from ``x`` to itself and the cached tokens.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, T, d_model)``.
        rope : torch.Tensor
            RoPE angles ``(>= past + T, qk_rope_head_dim // 2)`` from position 0.
        attn_mask : torch.Tensor
            Bool ``(T, past + T)``, True where a query may attend.
        kv_cache : MLACache, optional
            Latents and RoPE keys of earlier tokens; the new ones are appended.
        rope_scale : float, default 1.0
            YaRN's attention factor, multiplying the rotated query and key parts.
        absorb : bool, default False
            Fold ``W_UK`` into the queries and ``W_UV`` after the weighted sum,
            attending over the cached latents without expanding them into
            per-head keys and values (the decoding form).

        Returns
        -------
        torch.Tensor
            ``(B, T, d_model)``.
        """
        B, T, _ = x.shape
        H = self.n_heads
        if self.q_lora_rank is None:
            q = self.q_proj(x)
        else:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q = q.view(B, T, H, self.d_nope + self.d_rope).transpose(1, 2)  # (B, H, T, d_qk)
        q_nope, q_rot = q.split([self.d_nope, self.d_rope], dim=-1)
        latent, k_rot = self.kv_a_proj_with_mqa(x).split([self.kv_lora_rank, self.d_rope], dim=-1)
        latent = self.kv_a_layernorm(latent).unsqueeze(1)  # (B, 1, T, r) c^KV
        k_rot = k_rot.unsqueeze(1)  # (B, 1, T, d_rope) one key for all heads
        past = 0 if kv_cache is None else kv_cache.seq_len(self.layer_idx)
        angles = rope[past : past + T]  # (T, d_rope // 2)
        q_rot = self._rope(q_rot, angles) * rope_scale
        k_rot = self._rope(k_rot, angles) * rope_scale
        if kv_cache is not None:
            latent, k_rot = kv_cache.update(self.layer_idx, latent, k_rot)  # (B, 1, Tk, .)
        w = self.kv_b_proj.weight.view(H, self.d_nope + self.d_v, self.kv_lora_rank)
        w_uk, w_uv = w.split([self.d_nope, self.d_v], dim=1)  # (H, d_nope, r), (H, d_v, r)
        rope_scores = q_rot @ k_rot.transpose(-2, -1)  # (B, H, T, Tk)
        if absorb:
            q_latent = torch.einsum("bhtd,hdr->bhtr", q_nope, w_uk)  # (B, H, T, r)
            scores = q_latent @ latent.transpose(-2, -1) + rope_scores  # (B, H, T, Tk)
        else:
            kv = torch.einsum("bxsr,hdr->bhsd", latent, w)  # (B, H, Tk, d_nope + d_v)
            k_nope, v = kv.split([self.d_nope, self.d_v], dim=-1)
            scores = q_nope @ k_nope.transpose(-2, -1) + rope_scores
        scores = (scores * self.softmax_scale).masked_fill(~attn_mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, H, T, Tk)
        if absorb:
            o_latent = weights @ latent  # (B, H, T, r): the weighted latent
            o = torch.einsum("bhtr,hvr->bhtv", o_latent, w_uv)  # (B, H, T, d_v)
        else:
            o = weights @ v  # (B, H, T, d_v)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, H * self.d_v))  # (B, T, d_model)
