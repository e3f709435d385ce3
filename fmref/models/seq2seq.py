"""RNN encoder-decoder with additive (Bahdanau) attention.

The encoder is a bidirectional GRU whose states ("annotations") ``h_j`` cover
the whole source; at each output step the decoder scores every annotation
against its previous state ``s_{i-1}`` with a one-hidden-layer network,

.. math::

    e_{ij} = v^\\top \\tanh(W s_{i-1} + U h_j), \\quad
    \\alpha_{ij} = \\mathrm{softmax}_j(e_{ij}), \\quad c_i = \\sum_j \\alpha_{ij} h_j,

and feeds the context ``c_i`` into its GRU. The alignment ``alpha`` is the
ancestor of the Transformer's attention weights.

References
----------
.. [1] Bahdanau, Cho and Bengio, "Neural machine translation by jointly
   learning to align and translate", ICLR 2015.
.. [2] Sutskever, Vinyals and Le, "Sequence to sequence learning with neural
   networks", NeurIPS 2014.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fmref._validate import check_instance, check_positive_int
from fmref.nn.recurrent import GRU, GRUCell

__all__ = ["AdditiveAttention", "Seq2SeqConfig", "Seq2Seq"]


class AdditiveAttention(nn.Module):
    r"""Additive attention :math:`e_j = v^\top \tanh(W q + U k_j)`.

    Parameters
    ----------
    query_dim : int
        Width of the query (the decoder state).
    key_dim : int
        Width of each key (an encoder annotation); the keys are also the values.
    attn_dim : int
        Hidden width of the scoring network.

    Raises
    ------
    ValueError
        In ``forward``, if ``mask`` does not have shape ``(B, S)``.

    References
    ----------
    .. [1] Bahdanau et al., "Neural machine translation by jointly learning to
       align and translate", ICLR 2015, appendix A.1.2.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.seq2seq import AdditiveAttention
    >>> attn = AdditiveAttention(query_dim=4, key_dim=6, attn_dim=5)
    >>> context, weights = attn(torch.randn(2, 4), torch.randn(2, 7, 6))
    >>> context.shape, weights.shape, [round(s, 4) for s in weights.sum(-1).tolist()]
    (torch.Size([2, 6]), torch.Size([2, 7]), [1.0, 1.0])
    """

    def __init__(self, query_dim, key_dim, attn_dim):
        super().__init__()
        check_positive_int("query_dim", query_dim)
        check_positive_int("key_dim", key_dim)
        check_positive_int("attn_dim", attn_dim)
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query, keys, mask=None):
        """Score ``keys`` ``(B, S, key_dim)`` against ``query`` ``(B, query_dim)``.

        ``mask`` ``(B, S)`` is True at real (non-padding) positions. Returns the
        context ``(B, key_dim)`` and the weights ``(B, S)``.
        """
        scores = self.v(torch.tanh(self.W(query).unsqueeze(1) + self.U(keys))).squeeze(-1)  # (B, S)
        if mask is not None:
            if mask.shape != scores.shape:
                raise ValueError(
                    f"mask must have shape (B, S) = {tuple(scores.shape)}, got {tuple(mask.shape)}"
                )
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, S)
        context = (weights.unsqueeze(-1) * keys).sum(dim=1)  # (B, key_dim)
        return context, weights


@dataclass
class Seq2SeqConfig:
    """Sizes of :class:`Seq2Seq`.

    Examples
    --------
    >>> from fmref.models.seq2seq import Seq2SeqConfig
    >>> Seq2SeqConfig(src_vocab=12, tgt_vocab=12).hidden_size
    64
    """

    src_vocab: int  # source vocabulary size
    tgt_vocab: int  # target vocabulary size
    emb_dim: int = 32  # token embedding width (620 in Bahdanau et al.)
    hidden_size: int = 64  # GRU width per direction (1000 in Bahdanau et al.)
    attn_dim: int = 64  # hidden width of the alignment model (1000 in Bahdanau et al.)

    def __post_init__(self):
        for name in ("src_vocab", "tgt_vocab", "emb_dim", "hidden_size", "attn_dim"):
            check_positive_int(name, getattr(self, name))


class Seq2Seq(nn.Module):
    """Bidirectional-GRU encoder, GRU decoder with additive attention (RNNsearch).

    Parameters
    ----------
    config : Seq2SeqConfig
        Vocabulary and layer sizes.

    Raises
    ------
    ValueError
        If ``src`` or ``tgt_in`` is not a ``(B, T)`` tensor of token ids, or
        ``max_len`` is not positive.

    References
    ----------
    .. [1] Bahdanau et al., "Neural machine translation by jointly learning to
       align and translate", ICLR 2015.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.seq2seq import Seq2Seq, Seq2SeqConfig
    >>> model = Seq2Seq(Seq2SeqConfig(src_vocab=10, tgt_vocab=11))
    >>> src, tgt_in = torch.randint(10, (2, 6)), torch.randint(11, (2, 4))
    >>> logits, alignment = model(src, tgt_in)
    >>> logits.shape, alignment.shape  # (B, T, V), (B, T, S)
    (torch.Size([2, 4, 11]), torch.Size([2, 4, 6]))
    >>> tokens, _ = model.greedy_decode(src, bos=0, max_len=5)
    >>> tokens.shape
    torch.Size([2, 5])
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        check_instance("config", config, Seq2SeqConfig)
        c = self.config = config
        H = c.hidden_size
        self.src_emb = nn.Embedding(c.src_vocab, c.emb_dim)
        self.tgt_emb = nn.Embedding(c.tgt_vocab, c.emb_dim)
        self.enc_fwd = GRU(c.emb_dim, H)
        self.enc_bwd = GRU(c.emb_dim, H)
        self.init_state = nn.Linear(H, H)  # s_0 = tanh(W_s h_1^backward)
        self.attention = AdditiveAttention(H, 2 * H, c.attn_dim)
        self.decoder = GRUCell(c.emb_dim + 2 * H, H)
        self.out = nn.Linear(H + 2 * H + c.emb_dim, c.tgt_vocab)  # from [s_i; c_i; y_{i-1}]

    @staticmethod
    def _check_ids(ids, name):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"{name} must be a (B, T) tensor of token ids (torch.long)")

    def encode(self, src, src_mask=None):
        """Annotations ``(B, S, 2H)`` and the initial decoder state ``(B, H)``."""
        self._check_ids(src, "src")
        e = self.src_emb(src)  # (B, S, E)
        fwd, _ = self.enc_fwd(e)  # (B, S, H)
        bwd, _ = self.enc_bwd(e.flip(1))
        bwd = bwd.flip(1)  # (B, S, H): bwd[:, j] has read positions j..S-1
        annotations = torch.cat([fwd, bwd], dim=-1)  # (B, S, 2H)
        return annotations, torch.tanh(self.init_state(bwd[:, 0]))

    def _step(self, y_prev, s, annotations, src_mask):
        emb = self.tgt_emb(y_prev)  # (B, E)
        context, weights = self.attention(s, annotations, src_mask)  # (B, 2H), (B, S)
        s = self.decoder(torch.cat([emb, context], dim=-1), s)  # (B, H)
        logits = self.out(torch.cat([s, context, emb], dim=-1))  # (B, V)
        return logits, s, weights

    def forward(self, src, tgt_in, src_mask=None):
        """Teacher forcing: logits ``(B, T, V)`` and alignment ``(B, T, S)``.

        ``tgt_in`` is the target shifted right (starting with the BOS id);
        ``src_mask`` ``(B, S)`` is True at real source tokens.
        """
        self._check_ids(tgt_in, "tgt_in")
        annotations, s = self.encode(src, src_mask)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, s, w = self._step(tgt_in[:, t], s, annotations, src_mask)
            logits.append(step_logits)
            weights.append(w)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    @torch.no_grad()
    def greedy_decode(self, src, bos, max_len, src_mask=None):
        """Generate ``max_len`` tokens greedily; returns tokens ``(B, max_len)`` and alignment."""
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        annotations, s = self.encode(src, src_mask)
        y = torch.full((src.shape[0],), bos, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, s, w = self._step(y, s, annotations, src_mask)
            y = logits.argmax(-1)
            tokens.append(y)
            weights.append(w)
        return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)
