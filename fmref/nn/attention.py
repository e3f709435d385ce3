"""Scaled dot-product attention, causal masks, a key/value cache and multi-head attention.

The readable reference for Chapter V: every step of
``softmax(Q K^T / √d) V`` is written out, and tests check it against
:func:`torch.nn.functional.scaled_dot_product_attention` and
:class:`torch.nn.MultiheadAttention`.

*The mask convention, one for the whole package.* A mask is broadcastable to
``(..., Tq, Tk)``; a bool mask marks the keys a query may attend to
(``True`` = attend), a float mask is added to the scores. A causal mask is
aligned *bottom-right*: with ``Tq`` queries and ``Tk`` keys, query ``i`` sits at
absolute position ``Tk - Tq + i`` and sees keys ``0 .. Tk - Tq + i``, which is
right when the queries are the newest tokens after a cache. :func:`causal_mask`
builds it, and every ``is_causal=True`` in fmref (:func:`attention_weights`,
:func:`scaled_dot_product_attention`, :class:`MultiHeadAttention`,
:func:`fmref.nn.efficient.tiled_attention`) uses it: the convention of
FlashAttention 2.1 and later and of torch's ``causal_lower_right``. PyTorch's
own ``is_causal=True`` is aligned *top-left* (``torch.ones(Tq, Tk).tril()``);
the two agree when ``Tq == Tk``, the only case where fmref's functions and
torch's are compared with ``is_causal``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import check_tensor
from fmref.nn.position import apply_rope

__all__ = [
    "scaled_dot_product_attention",
    "attention_weights",
    "causal_mask",
    "KVCache",
    "MultiHeadAttention",
]


def _check_mask(attn_mask, scores_shape, name="attn_mask"):
    """Raise ValueError unless ``attn_mask`` broadcasts to ``scores_shape``."""
    try:
        shape = torch.broadcast_shapes(attn_mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape != torch.Size(scores_shape):
        raise ValueError(
            f"{name} must be broadcastable to {tuple(scores_shape)} "
            f"(..., Tq, Tk), got shape {tuple(attn_mask.shape)}"
        )


def attention_weights(q, k, attn_mask=None, is_causal=False, *, scale=None):
    """Attention weights ``softmax(q k^T · scale + mask)``.

    Parameters
    ----------
    q : torch.Tensor
        Queries of shape ``(..., Tq, d)``.
    k : torch.Tensor
        Keys of shape ``(..., Tk, d)``; leading dimensions broadcast with ``q``.
    attn_mask : torch.Tensor, optional
        Broadcastable to ``(..., Tq, Tk)``. A bool mask marks the keys a query may
        attend to (``True`` = attend); a float mask is added to the scores.
    is_causal : bool, default False
        Apply :func:`causal_mask` (bottom-right aligned, the module's convention;
        torch's top-left ``is_causal`` agrees when ``Tq == Tk``). Cannot be
        combined with ``attn_mask``.
    scale : float, optional
        Multiplier of the scores; defaults to ``1 / sqrt(d)``.

    Returns
    -------
    torch.Tensor
        Weights of shape ``(..., Tq, Tk)``. Each row with at least one allowed key
        sums to 1; a fully masked row is all zeros (as torch returns, not NaN).

    Raises
    ------
    ValueError
        If the head dimensions of ``q`` and ``k`` differ, if ``attn_mask`` does not
        broadcast to ``(..., Tq, Tk)``, or if both ``attn_mask`` and ``is_causal``
        are given.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import attention_weights
    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> w = attention_weights(q, k)
    >>> w.shape
    torch.Size([2, 3])
    >>> [round(s, 4) for s in w.sum(-1).tolist()]
    [1.0, 1.0]
    >>> attention_weights(q, k, is_causal=True)  # bottom-right: query 0 is at position 1
    tensor([[0.6698, 0.3302, 0.0000],
            [0.1978, 0.4011, 0.4011]])
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k must have the head dimension of q ({q.shape[-1]}), got {k.shape[-1]}")
    if attn_mask is not None and is_causal:
        raise ValueError("attn_mask must be None when is_causal=True (torch's rule)")
    d = q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk)
    t_q, t_k = scores.shape[-2:]
    if is_causal:
        attn_mask = causal_mask(t_q, t_k, device=q.device)  # bottom-right aligned
    if attn_mask is not None:
        _check_mask(attn_mask, scores.shape)
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = torch.softmax(scores, dim=-1)
    # A row whose scores are all -inf gives NaN (0/0); torch returns zeros.
    fully_masked = scores.amax(dim=-1, keepdim=True) == float("-inf")
    return weights.masked_fill(fully_masked, 0.0)


def scaled_dot_product_attention(
    q, k, v, attn_mask=None, is_causal=False, *, scale=None, dropout_p=0.0
):
    """Scaled dot-product attention, ``softmax(q k^T / √d + mask) v``.

    Same semantics as :func:`torch.nn.functional.scaled_dot_product_attention`,
    written out step by step, except that ``is_causal`` follows the module's
    bottom-right convention when ``Tq != Tk``.

    Parameters
    ----------
    q : torch.Tensor
        Queries ``(..., Tq, d)``.
    k : torch.Tensor
        Keys ``(..., Tk, d)``.
    v : torch.Tensor
        Values ``(..., Tk, d_v)``.
    attn_mask : torch.Tensor, optional
        Bool (``True`` = attend) or float (added to the scores) mask,
        broadcastable to ``(..., Tq, Tk)``.
    is_causal : bool, default False
        Causal mask aligned bottom-right (:func:`causal_mask`, the module's
        convention); equal to torch's ``is_causal`` when ``Tq == Tk``.
    scale : float, optional
        Score multiplier, default ``1 / sqrt(d)``.
    dropout_p : float, default 0.0
        Dropout probability applied to the weights.

    Returns
    -------
    torch.Tensor
        Output ``(..., Tq, d_v)``; a query with no allowed key gets zeros.

    Raises
    ------
    ValueError
        If ``k`` and ``v`` disagree on ``Tk``, or as :func:`attention_weights`.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import scaled_dot_product_attention
    >>> q = torch.randn(2, 4, 5, 8)  # (B, heads, Tq, d)
    >>> k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8)
    >>> out = scaled_dot_product_attention(q, k, v)
    >>> out.shape
    torch.Size([2, 4, 5, 8])
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    >>> torch.allclose(out, ref, atol=1e-6)
    True
    """
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"v must have as many positions as k ({k.shape[-2]}), got {v.shape[-2]}")
    weights = attention_weights(q, k, attn_mask, is_causal, scale=scale)  # (..., Tq, Tk)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v  # (..., Tq, d_v)


def causal_mask(t_q, t_k, offset=None, *, window=None, device=None):
    """Bool causal mask aligned bottom-right, for decoding with a cache.

    Query ``i`` sits at absolute position ``offset + i`` and may attend to keys
    ``0 .. offset + i`` (with ``window``, only the last ``window`` of them).

    Parameters
    ----------
    t_q : int
        Number of queries.
    t_k : int
        Number of keys.
    offset : int, optional
        Absolute position of the first query; defaults to ``t_k - t_q`` (the
        queries are the last ``t_q`` positions, as with a KV cache).
    window : int, optional
        Sliding-window size: key ``j`` is allowed only if
        ``offset + i - window < j <= offset + i``.
    device : torch.device, optional
        Device of the mask.

    Returns
    -------
    torch.Tensor
        Bool mask ``(t_q, t_k)``, ``True`` = attend.

    Raises
    ------
    ValueError
        If ``t_q``/``t_k`` are negative, or ``window`` is not a positive int.

    Examples
    --------
    >>> from fmref.nn.attention import causal_mask
    >>> causal_mask(2, 4).int()  # two new queries after two cached keys
    tensor([[1, 1, 1, 0],
            [1, 1, 1, 1]], dtype=torch.int32)
    >>> causal_mask(4, 4, window=2).int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 1, 1]], dtype=torch.int32)
    """
    if t_q < 0 or t_k < 0:
        raise ValueError(f"t_q and t_k must be >= 0, got t_q={t_q}, t_k={t_k}")
    if window is not None and (not isinstance(window, int) or window < 1):
        raise ValueError(f"window must be a positive int or None, got {window!r}")
    offset = t_k - t_q if offset is None else offset
    i = torch.arange(t_q, device=device).unsqueeze(-1) + offset  # (Tq, 1) absolute
    j = torch.arange(t_k, device=device).unsqueeze(0)  # (1, Tk)
    mask = j <= i
    if window is not None:
        mask &= j > i - window
    return mask


class KVCache:
    """Keys and values of past tokens, one entry per layer.

    Keys and values are stored as ``(B, n_kv_heads, T, d_head)`` (before any
    grouped-query repetition) and grow along the time axis ``-2``.

    Parameters
    ----------
    n_layers : int
        Number of attention layers that share this cache.

    Attributes
    ----------
    keys, values : list of torch.Tensor or None
        Per-layer tensors, ``None`` while a layer is empty.

    Raises
    ------
    ValueError
        If ``n_layers`` is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import KVCache
    >>> cache = KVCache(n_layers=2)
    >>> for layer in range(2):
    ...     k_all, v_all = cache.update(layer, torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4))
    >>> cache.length, tuple(k_all.shape)
    (3, (1, 1, 3, 4))
    >>> for layer in range(2):
    ...     k_all, v_all = cache.update(layer, torch.ones(1, 1, 1, 4), torch.ones(1, 1, 1, 4))
    >>> cache.length
    4
    >>> cache.crop(2)
    >>> cache.length, cache.seq_len(1)
    (2, 2)
    >>> cache.reset()
    >>> cache.length
    0
    """

    def __init__(self, n_layers):
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
        self.n_layers = n_layers
        self.keys = [None] * n_layers
        self.values = [None] * n_layers

    def _check_layer(self, layer):
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer must be in [0, {self.n_layers}), got {layer}")

    def seq_len(self, layer):
        """Number of tokens cached for ``layer``."""
        self._check_layer(layer)
        k = self.keys[layer]
        return 0 if k is None else k.shape[-2]

    @property
    def length(self):
        """Tokens cached in every layer (the minimum over layers).

        Inside a forward pass the first layers are updated before the last, so
        this only changes once the whole forward pass has run.
        """
        return min(self.seq_len(layer) for layer in range(self.n_layers))

    def update(self, layer, k, v):
        """Append ``k`` and ``v`` of shape ``(B, n_kv_heads, T_new, d_head)``.

        Returns
        -------
        tuple of torch.Tensor
            All keys and values of ``layer``, ``(B, n_kv_heads, T_cached + T_new, d_head)``.
        """
        self._check_layer(layer)
        if k.shape != v.shape:
            raise ValueError(f"v must have the shape of k {tuple(k.shape)}, got {tuple(v.shape)}")
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = k, v
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=-2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=-2)
        return self.keys[layer], self.values[layer]

    def crop(self, length):
        """Keep the first ``length`` tokens of every layer (roll back rejected tokens)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"length must be in [0, {self.length}], got {length}")
        for layer in range(self.n_layers):
            if self.keys[layer] is not None:
                self.keys[layer] = self.keys[layer][..., :length, :]
                self.values[layer] = self.values[layer][..., :length, :]

    def reset(self):
        """Empty every layer."""
        self.keys = [None] * self.n_layers
        self.values = [None] * self.n_layers

    def __repr__(self):
        return f"KVCache(n_layers={self.n_layers}, length={self.length})"


class MultiHeadAttention(nn.Module):
    """Multi-head attention, with grouped-query (GQA) and multi-query (MQA) variants.

    Parameters
    ----------
    d_model : int
        Model width ``C``.
    n_heads : int
        Number of query heads; ``d_head = d_model // n_heads``.
    n_kv_heads : int, optional
        Number of key/value heads; default ``n_heads`` (multi-head attention).
        ``1 < n_kv_heads < n_heads`` is grouped-query attention, ``1`` multi-query.
    bias : bool, default True
        Biases in the four projections.
    dropout : float, default 0.0
        Dropout on the attention weights while training.

    Attributes
    ----------
    q_proj, k_proj, v_proj, out_proj : torch.nn.Linear
        Projections; ``k_proj`` and ``v_proj`` map to ``n_kv_heads * d_head``.

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads`` or ``n_heads`` by ``n_kv_heads``.

    References
    ----------
    .. [1] Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    .. [2] Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need", 2019.
    .. [3] Ainslie et al., "GQA: Training Generalized Multi-Query Transformer
       Models from Multi-Head Checkpoints", EMNLP 2023.

    Examples
    --------
    >>> import torch
    >>> from fmref.nn.attention import MultiHeadAttention
    >>> mha = MultiHeadAttention(d_model=16, n_heads=4, n_kv_heads=2)  # GQA
    >>> mha.k_proj.weight.shape  # 2 kv heads of size 4
    torch.Size([8, 16])
    >>> x = torch.randn(2, 5, 16)  # (B, T, C)
    >>> mha(x, is_causal=True).shape
    torch.Size([2, 5, 16])
    >>> mha(x, context=torch.randn(2, 7, 16)).shape  # cross-attention
    torch.Size([2, 5, 16])
    """

    def __init__(self, d_model, n_heads, n_kv_heads=None, bias=True, dropout=0.0):
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model must be divisible by n_heads={n_heads}, got d_model={d_model}"
            )
        if n_heads % n_kv_heads != 0:
            raise ValueError(
                f"n_heads must be divisible by n_kv_heads={n_kv_heads}, got n_heads={n_heads}"
            )
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.d_head = d_model // n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, n_heads * self.d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_heads * self.d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_heads * self.d_head, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x, n):
        B, T, _ = x.shape
        return x.view(B, T, n, self.d_head).transpose(1, 2)  # (B, n, T, d_head)

    def forward(
        self,
        x,
        context=None,
        attn_mask=None,
        is_causal=False,
        kv_cache=None,
        layer_idx=0,
        rope=None,
        need_weights=False,
    ):
        """Attend from ``x`` to itself, or to ``context`` (cross-attention).

        Parameters
        ----------
        x : torch.Tensor
            Queries' input ``(B, Tq, C)``.
        context : torch.Tensor, optional
            Keys'/values' input ``(B, Tk, C)``; default ``x`` (self-attention).
        attn_mask : torch.Tensor, optional
            Bool or float mask broadcastable to ``(B, n_heads, Tq, Tk)``, where
            ``Tk`` counts cached keys too (e.g. ``(B, 1, 1, Tk)`` for padding).
        is_causal : bool, default False
            Causal mask aligned bottom-right (:func:`causal_mask`, the module's
            convention), combined with ``attn_mask`` if both are given.
        kv_cache : KVCache, optional
            Self-attention only: new keys/values are appended for ``layer_idx``
            and attention runs over all cached keys.
        layer_idx : int, default 0
            This layer's slot in ``kv_cache``.
        rope : torch.Tensor, optional
            RoPE angles ``(max_len, d_head // 2)`` (:func:`fmref.nn.position.rope_angles`),
            applied to q and k at their absolute positions (after the cache).
        need_weights : bool, default False
            Also return the weights ``(B, n_heads, Tq, Tk)``.

        Returns
        -------
        torch.Tensor or tuple of torch.Tensor
            Output ``(B, Tq, C)``, and the weights if ``need_weights``.

        Raises
        ------
        ValueError
            If ``x`` is not ``(B, T, d_model)``, ``attn_mask`` has the wrong shape,
            ``rope`` is too short, or ``context`` is combined with ``kv_cache`` or ``rope``.
        """
        past = self._check_inputs(x, context, attn_mask, kv_cache, layer_idx, rope)
        q, k, v = self._project(x, x if context is None else context)  # (B, H | Hkv, T, d_head)
        if rope is not None:
            angles = rope[past : past + x.shape[1]]  # (Tq, d_head // 2) absolute positions
            q, k = apply_rope(q, angles), apply_rope(k, angles)
        if kv_cache is not None:
            k, v = kv_cache.update(layer_idx, k, v)  # (B, Hkv, past + Tq, d_head)
        k, v = self._share_kv_heads(k), self._share_kv_heads(v)  # (B, H, Tk, d_head)
        mask = _with_causal(attn_mask, is_causal, q.shape[-2], k.shape[-2], x.device)
        weights = attention_weights(q, k, mask)  # (B, H, Tq, Tk)
        if self.training and self.dropout > 0.0:
            weights = F.dropout(weights, p=self.dropout)
        y = (weights @ v).transpose(1, 2).reshape(x.shape[0], -1, self.d_model)  # (B, Tq, C)
        out = self.out_proj(y)
        return (out, weights) if need_weights else out

    def _check_inputs(self, x, context, attn_mask, kv_cache, layer_idx, rope):
        """The checks of :meth:`forward`, done once; returns the number of cached tokens."""
        check_tensor("x", x, dtype="float", ndim=3, shape=f"(B, T, {self.d_model})")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (B, T, {self.d_model}), got {tuple(x.shape)}")
        source = x
        if context is not None:
            if kv_cache is not None or rope is not None:
                raise ValueError(
                    "context (cross-attention) cannot be combined with kv_cache or rope"
                )
            source = check_tensor("context", context, dtype="float", ndim=3, shape="(B, Tk, C)")
            if context.shape[-1] != self.d_model:
                raise ValueError(
                    f"context must have shape (B, Tk, {self.d_model}), got {tuple(context.shape)}"
                )
        past = 0 if kv_cache is None else kv_cache.seq_len(layer_idx)
        t_q, t_k = x.shape[1], past + source.shape[1]
        if rope is not None and rope.shape[0] < past + t_q:
            raise ValueError(f"rope must cover {past + t_q} positions, got {rope.shape[0]}")
        if attn_mask is not None:
            _check_mask(attn_mask, (x.shape[0], self.n_heads, t_q, t_k))
        return past

    def _project(self, x, source):
        """Queries from ``x``; keys and values from ``source`` (``x`` itself, or the context)."""
        q = self._heads(self.q_proj(x), self.n_heads)  # (B, H, Tq, d_head)
        k = self._heads(self.k_proj(source), self.n_kv_heads)  # (B, Hkv, Tk_new, d_head)
        v = self._heads(self.v_proj(source), self.n_kv_heads)  # (B, Hkv, Tk_new, d_head)
        return q, k, v

    def _share_kv_heads(self, t):
        """GQA / MQA: repeat each key/value head for the ``n_heads // n_kv_heads`` queries."""
        if self.n_kv_heads == self.n_heads:
            return t
        return t.repeat_interleave(self.n_heads // self.n_kv_heads, dim=1)  # (B, H, Tk, d_head)


def _with_causal(attn_mask, is_causal, t_q, t_k, device):
    """``attn_mask`` combined with the bottom-right causal mask when ``is_causal``."""
    if not is_causal:
        return attn_mask
    causal = causal_mask(t_q, t_k, device=device)  # (Tq, Tk)
    if attn_mask is None:
        return causal
    if attn_mask.dtype == torch.bool:
        return attn_mask & causal
    return attn_mask.masked_fill(~causal, float("-inf"))
