"""The original encoder-decoder Transformer, post-norm or pre-norm, and two early add-ons.

:class:`EncoderLayer` and :class:`DecoderLayer` use the submodule names of
:class:`torch.nn.TransformerEncoderLayer`/:class:`torch.nn.TransformerDecoderLayer`
(``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``, ``norm1`` ...) and
``from_torch`` copies a torch layer's weights. ``norm_first=False`` is the 2017
post-norm layout ``x = LN(x + f(x))``; ``norm_first=True`` is the pre-norm
layout ``x = x + f(LN(x))`` that later models adopted because it trains
stably without a learning-rate warm-up. ``share_layers=True`` in
:class:`TransformerConfig` reuses one layer at every depth, as the Universal
Transformer does (without its adaptive halting).

Two small, separate pieces cover ideas of the years after 2017:
:class:`RelativePositionBias` (T5's bucketed relative position bias) and
:class:`MemoryAttention` (Transformer-XL's segment-level recurrence).

References
----------
.. [1] Vaswani et al., "Attention is all you need", NeurIPS 2017.
.. [2] Xiong et al., "On layer normalization in the Transformer architecture", ICML 2020.
.. [3] Raffel et al., "Exploring the limits of transfer learning with a unified
   text-to-text Transformer", JMLR 2020.
.. [4] Dai et al., "Transformer-XL: Attentive language models beyond a
   fixed-length context", ACL 2019.
.. [5] Dehghani et al., "Universal Transformers", ICLR 2019.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_instance, check_number, check_positive_int
from fmref.nn.attention import MultiHeadAttention
from fmref.nn.norm import LayerNorm
from fmref.nn.position import sinusoidal_positions

__all__ = [
    "EncoderLayer",
    "DecoderLayer",
    "TransformerConfig",
    "Transformer",
    "relative_position_bucket",
    "RelativePositionBias",
    "MemoryAttention",
]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _copy_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    d = ours.d_model
    w, b = theirs.in_proj_weight, theirs.in_proj_bias  # (3C, C), (3C,): q, k, v stacked
    for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
        proj.weight.copy_(w[i * d : (i + 1) * d])
        proj.bias.copy_(b[i * d : (i + 1) * d])
    ours.out_proj.load_state_dict(theirs.out_proj.state_dict())


class _Layer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout, norm_first, activation, n_sublayers):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n_heads", n_heads)
        check_positive_int("d_ff", d_ff)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        self.norm_first, self.activation = norm_first, activation
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        for i in range(1, n_sublayers + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model))

    def _ff(self, x):
        return self.linear2(self.dropout(_ACTIVATIONS[self.activation](self.linear1(x))))

    def _sublayer(self, x, norm, f):
        if self.norm_first:
            return x + self.dropout(f(norm(x)))  # pre-norm: the residual path is never normalised
        return norm(x + self.dropout(f(x)))  # post-norm (2017)

    @classmethod
    def _from_torch(cls, layer, n_heads, **kwargs):
        ours = cls(
            layer.linear1.in_features,
            n_heads,
            layer.linear1.out_features,
            norm_first=layer.norm_first,
            **kwargs,
        )
        with torch.no_grad():
            _copy_mha(ours.self_attn, layer.self_attn)
            if hasattr(layer, "multihead_attn"):
                _copy_mha(ours.multihead_attn, layer.multihead_attn)
            for name in ("linear1", "linear2", "norm1", "norm2", "norm3"):
                if hasattr(ours, name):
                    getattr(ours, name).load_state_dict(getattr(layer, name).state_dict())
        return ours


class EncoderLayer(_Layer):
    """Self-attention and a feed-forward network, each in a residual sub-layer.

    Parameters
    ----------
    d_model : int
        Model width.
    n_heads : int
        Attention heads.
    d_ff : int
        Hidden width of the feed-forward network.
    dropout : float
        Dropout on attention weights and sub-layer outputs (default 0.0).
    norm_first : bool
        Pre-norm if True, post-norm (the 2017 layout) if False (default False).
    activation : {"relu", "gelu"}
        Feed-forward activation (default "relu").

    Raises
    ------
    ValueError
        If ``activation`` is unknown, or as :class:`fmref.nn.attention.MultiHeadAttention`.

    References
    ----------
    .. [1] Vaswani et al., "Attention is all you need", 2017, section 3.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import EncoderLayer
    >>> theirs = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    >>> ours = EncoderLayer.from_torch(theirs, n_heads=4)
    >>> x = torch.randn(2, 5, 16)
    >>> torch.allclose(ours(x), theirs(x), atol=1e-5)
    True
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__(d_model, n_heads, d_ff, dropout, norm_first, activation, n_sublayers=2)

    def forward(self, x, attn_mask=None, position_bias=None):
        """``x`` ``(B, S, C)``; ``attn_mask`` broadcastable to ``(B, H, S, S)``
        (e.g. a padding mask ``(B, 1, 1, S)``, True = real token); ``position_bias``
        a float bias added to the scores (e.g. :class:`RelativePositionBias`)."""
        mask = _merge(attn_mask, position_bias)
        x = self._sublayer(x, self.norm1, lambda h: self.self_attn(h, attn_mask=mask))
        return self._sublayer(x, self.norm2, self._ff)

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer, n_heads: int) -> EncoderLayer:
        """Copy the weights of a ``batch_first`` :class:`torch.nn.TransformerEncoderLayer`."""
        return cls._from_torch(layer, n_heads)


class DecoderLayer(_Layer):
    """Causal self-attention, cross-attention over the encoder output, and a feed-forward network.

    Parameters
    ----------
    d_model : int
        Model width.
    n_heads : int
        Attention heads.
    d_ff : int
        Hidden width of the feed-forward network.
    dropout : float
        Dropout (default 0.0).
    norm_first : bool
        Pre-norm if True, post-norm if False (default False).
    activation : {"relu", "gelu"}
        Feed-forward activation (default "relu").

    Raises
    ------
    ValueError
        If ``activation`` is unknown.

    References
    ----------
    .. [1] Vaswani et al., "Attention is all you need", 2017, section 3.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import DecoderLayer
    >>> theirs = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    >>> ours = DecoderLayer.from_torch(theirs, n_heads=4)
    >>> y, memory = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    >>> causal = torch.nn.Transformer.generate_square_subsequent_mask(3)
    >>> torch.allclose(ours(y, memory), theirs(y, memory, tgt_mask=causal), atol=1e-5)
    True
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__(d_model, n_heads, d_ff, dropout, norm_first, activation, n_sublayers=3)
        self.multihead_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)

    def forward(self, y, memory, memory_mask=None):
        """``y`` ``(B, T, C)`` target so far, ``memory`` ``(B, S, C)`` encoder output,
        ``memory_mask`` broadcastable to ``(B, H, T, S)`` (True = real source token)."""
        y = self._sublayer(y, self.norm1, lambda h: self.self_attn(h, is_causal=True))
        y = self._sublayer(
            y, self.norm2, lambda h: self.multihead_attn(h, context=memory, attn_mask=memory_mask)
        )
        return self._sublayer(y, self.norm3, self._ff)

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer, n_heads: int) -> DecoderLayer:
        """Copy the weights of a ``batch_first`` :class:`torch.nn.TransformerDecoderLayer`."""
        return cls._from_torch(layer, n_heads)


def _merge(attn_mask, position_bias):
    if position_bias is None:
        return attn_mask
    if attn_mask is None:
        return position_bias
    return (
        position_bias.masked_fill(~attn_mask, float("-inf"))
        if attn_mask.dtype == torch.bool
        else position_bias + attn_mask
    )


@dataclass
class TransformerConfig:
    """Sizes of :class:`Transformer`; the defaults are the base model of Vaswani et al. (2017).

    Examples
    --------
    >>> from fmref.models.transformer import TransformerConfig
    >>> c = TransformerConfig(src_vocab=37000, tgt_vocab=37000)
    >>> c.d_model, c.n_heads, c.d_ff, c.n_layers
    (512, 8, 2048, 6)
    """

    src_vocab: int  # source vocabulary size
    tgt_vocab: int  # target vocabulary size (37,000 shared BPE tokens for WMT En-De)
    d_model: int = 512  # model width
    n_heads: int = 8  # attention heads (d_head = 64)
    n_layers: int = 6  # encoder layers = decoder layers
    d_ff: int = 2048  # feed-forward width (4 x d_model)
    dropout: float = 0.1  # P_drop of the base model
    max_len: int = 512  # longest sequence the sinusoidal table covers
    norm_first: bool = False  # False: post-norm as in 2017; True: pre-norm
    share_layers: bool = False  # True: one layer reused at every depth (Universal Transformer)
    tie_embeddings: bool = True  # share target embedding and output projection (section 3.4)

    def __post_init__(self):
        for name in ("src_vocab", "tgt_vocab", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            check_positive_int(name, getattr(self, name))
        check_number("dropout", self.dropout, 0.0, 1.0, high_open=True)


class Transformer(nn.Module):
    """Encoder-decoder Transformer with sinusoidal positions.

    Parameters
    ----------
    config : TransformerConfig
        Sizes and layout.

    Raises
    ------
    ValueError
        If a sequence is longer than ``config.max_len`` or not a ``(B, T)`` id tensor.

    References
    ----------
    .. [1] Vaswani et al., "Attention is all you need", NeurIPS 2017.
    .. [2] Dehghani et al., "Universal Transformers", ICLR 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import Transformer, TransformerConfig
    >>> cfg = TransformerConfig(
    ...     src_vocab=20, tgt_vocab=20, d_model=32, n_heads=4, n_layers=2, d_ff=64
    ... )
    >>> model = Transformer(cfg)
    >>> src, tgt_in = torch.randint(20, (2, 7)), torch.randint(20, (2, 5))
    >>> model(src, tgt_in).shape  # (B, T, V)
    torch.Size([2, 5, 20])
    >>> model.greedy_decode(src, bos=0, max_len=4).shape
    torch.Size([2, 4])
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        check_instance("config", config, TransformerConfig)
        c = self.config = config
        self.src_emb = nn.Embedding(c.src_vocab, c.d_model)
        self.tgt_emb = nn.Embedding(c.tgt_vocab, c.d_model)
        self.register_buffer("pe", sinusoidal_positions(c.max_len, c.d_model), persistent=False)
        args = (c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first)
        if c.share_layers:
            enc, dec = EncoderLayer(*args), DecoderLayer(*args)
            self.encoder = nn.ModuleList([enc] * c.n_layers)
            self.decoder = nn.ModuleList([dec] * c.n_layers)
        else:
            self.encoder = nn.ModuleList(EncoderLayer(*args) for _ in range(c.n_layers))
            self.decoder = nn.ModuleList(DecoderLayer(*args) for _ in range(c.n_layers))
        # pre-norm leaves the residual stream unnormalised: one final LayerNorm per stack
        self.enc_norm = LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.dec_norm = LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.tgt_vocab, bias=False)
        if c.tie_embeddings:
            self.lm_head.weight = self.tgt_emb.weight
        self.drop = nn.Dropout(c.dropout)

    def _embed(self, ids, emb, name):
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"{name} must be a (B, T) tensor of token ids (torch.long)")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(
                f"{name} must have at most max_len={self.config.max_len} tokens, got {ids.shape[1]}"
            )
        # section 3.4: embeddings are multiplied by sqrt(d_model) before adding positions
        return self.drop(
            emb(ids) * math.sqrt(self.config.d_model) + self.pe[: ids.shape[1]]
        )  # (B, T, C)

    def encode(self, src, src_mask=None):
        """Encoder output ``(B, S, C)``; ``src_mask`` ``(B, S)`` is True at real tokens."""
        x = self._embed(src, self.src_emb, "src")
        mask = None if src_mask is None else src_mask[:, None, None, :]  # (B, 1, 1, S)
        for layer in self.encoder:
            x = layer(x, attn_mask=mask)
        return self.enc_norm(x)

    def decode(self, tgt_in, memory, src_mask=None):
        """Logits ``(B, T, tgt_vocab)`` given the encoder output ``memory``."""
        y = self._embed(tgt_in, self.tgt_emb, "tgt_in")
        mask = None if src_mask is None else src_mask[:, None, None, :]
        for layer in self.decoder:
            y = layer(y, memory, memory_mask=mask)
        return self.lm_head(self.dec_norm(y))

    def forward(self, src, tgt_in, src_mask=None):
        """Teacher-forced logits ``(B, T, tgt_vocab)``."""
        return self.decode(tgt_in, self.encode(src, src_mask), src_mask)

    @torch.no_grad()
    def greedy_decode(self, src, bos, max_len, src_mask=None):
        """Generate ``max_len`` tokens greedily (recomputing the prefix each step)."""
        memory = self.encode(src, src_mask)
        out = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        for _ in range(max_len):
            nxt = self.decode(out, memory, src_mask)[:, -1].argmax(-1, keepdim=True)
            out = torch.cat([out, nxt], dim=1)
        return out[:, 1:]


def relative_position_bucket(
    relative_position, bidirectional=True, num_buckets=32, max_distance=128
):
    """T5's bucket of a relative position ``key - query``: exact when small, logarithmic when large.

    Half of the buckets (per direction) hold the distances ``0 .. max_exact - 1``
    one by one; the other half cover ``max_exact .. max_distance`` on a log
    scale; farther distances share the last bucket.

    Parameters
    ----------
    relative_position : torch.Tensor
        Integer tensor of ``key_position - query_position``.
    bidirectional : bool
        Separate buckets for keys after the query (encoder) or not (decoder).
    num_buckets : int
        Buckets in total (default 32, as in T5).
    max_distance : int
        Distance from which every position shares a bucket (default 128).

    Returns
    -------
    torch.Tensor
        Bucket ids in ``[0, num_buckets)``, same shape.

    Raises
    ------
    ValueError
        If ``num_buckets`` is too small (< 2, or < 4 when bidirectional) or
        ``max_distance`` is not larger than the exact range.

    References
    ----------
    .. [1] Raffel et al., "Exploring the limits of transfer learning with a
       unified text-to-text Transformer", JMLR 2020, section 2.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import relative_position_bucket
    >>> rel = torch.tensor([-200, -20, -3, 0, 3, 20, 200])
    >>> relative_position_bucket(rel).tolist()
    [15, 10, 3, 0, 19, 26, 31]
    """
    n = num_buckets // 2 if bidirectional else num_buckets
    max_exact = n // 2
    if max_exact < 1:
        raise ValueError(f"num_buckets must be >= {4 if bidirectional else 2}, got {num_buckets}")
    if max_distance <= max_exact:
        raise ValueError(f"max_distance must be > {max_exact}, got {max_distance}")
    rel = relative_position.long()
    buckets = torch.zeros_like(rel)
    if bidirectional:
        buckets = buckets + (rel > 0).long() * n  # keys after the query get the upper half
        dist = rel.abs()
    else:
        dist = (-rel).clamp_min(0)  # only the past counts in a decoder
    log_ratio = torch.log(dist.float().clamp_min(1) / max_exact) / math.log(
        max_distance / max_exact
    )
    large = (max_exact + (log_ratio * (n - max_exact)).long()).clamp_max(n - 1)
    return buckets + torch.where(dist < max_exact, dist, large)


class RelativePositionBias(nn.Module):
    """A learned scalar per (bucket, head), added to the attention scores (T5).

    Parameters
    ----------
    n_heads : int
        Attention heads.
    num_buckets : int
        Buckets (default 32).
    max_distance : int
        See :func:`relative_position_bucket` (default 128).
    bidirectional : bool
        True for an encoder, False for a causal decoder (default True).

    References
    ----------
    .. [1] Raffel et al., "Exploring the limits of transfer learning with a
       unified text-to-text Transformer", JMLR 2020, section 2.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import RelativePositionBias
    >>> bias = RelativePositionBias(n_heads=4)(5, 5)
    >>> bias.shape  # (1, H, Tq, Tk): pass it as a float attn_mask
    torch.Size([1, 4, 5, 5])
    >>> torch.equal(bias[0, :, 0, 1], bias[0, :, 3, 4])  # depends only on key - query
    True
    """

    def __init__(self, n_heads, num_buckets=32, max_distance=128, bidirectional=True):
        super().__init__()
        check_positive_int("n_heads", n_heads)
        check_positive_int("num_buckets", num_buckets)
        check_positive_int("max_distance", max_distance)
        self.num_buckets, self.max_distance, self.bidirectional = (
            num_buckets,
            max_distance,
            bidirectional,
        )
        self.relative_attention_bias = nn.Embedding(num_buckets, n_heads)  # T5's name

    def forward(self, t_q, t_k, offset=0):
        """Bias ``(1, n_heads, t_q, t_k)``; query ``i`` sits at position ``offset + i``."""
        device = self.relative_attention_bias.weight.device
        q_pos = torch.arange(t_q, device=device)[:, None] + offset
        k_pos = torch.arange(t_k, device=device)[None, :]
        buckets = relative_position_bucket(
            k_pos - q_pos, self.bidirectional, self.num_buckets, self.max_distance
        )
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, H, Tq, Tk)


class MemoryAttention(nn.Module):
    """Causal self-attention that also reads a cached segment (Transformer-XL recurrence).

    The hidden states of the previous segment are kept, without gradient, and
    prepended to the keys and values of the current segment, so information
    flows across segment boundaries: with ``L`` layers and memory ``M`` the
    context reaches about ``L * M`` tokens back. (Transformer-XL pairs this with
    relative position encodings; this piece has no positions.)

    Parameters
    ----------
    d_model : int
        Model width.
    n_heads : int
        Attention heads.
    mem_len : int
        Hidden states kept for the next segment.

    Raises
    ------
    ValueError
        If ``mem_len`` is negative.

    References
    ----------
    .. [1] Dai et al., "Transformer-XL: Attentive language models beyond a
       fixed-length context", ACL 2019, section 3.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.transformer import MemoryAttention
    >>> layer = MemoryAttention(d_model=8, n_heads=2, mem_len=4)
    >>> memory = None
    >>> for segment in torch.randn(1, 12, 8).split(4, dim=1):
    ...     out, memory = layer(segment, memory)
    >>> out.shape, memory.shape, memory.requires_grad
    (torch.Size([1, 4, 8]), torch.Size([1, 4, 8]), False)
    """

    def __init__(self, d_model, n_heads, mem_len):
        super().__init__()
        if mem_len < 0:
            raise ValueError(f"mem_len must be >= 0, got {mem_len}")
        self.mem_len = mem_len
        self.attn = MultiHeadAttention(d_model, n_heads)

    def forward(self, x, memory=None):
        """``x`` ``(B, T, C)``, ``memory`` ``(B, M, C)`` or None; returns output and new memory."""
        context = x if memory is None else torch.cat([memory.detach(), x], dim=1)  # (B, M + T, C)
        out = self.attn(
            x, context=context, is_causal=True
        )  # bottom-right: query i sees M + i + 1 keys
        new_memory = (
            context[:, max(0, context.shape[1] - self.mem_len) :].detach() if self.mem_len else None
        )
        return out, new_memory
