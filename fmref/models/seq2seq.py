"""RNN encoder-decoder with additive (Bahdanau) or multiplicative (Luong) attention.

The encoder is a bidirectional GRU whose states ("annotations") ``h_j`` cover
the whole source; at each output step the decoder scores every annotation
against its previous state ``s_{i-1}`` with a one-hidden-layer network,

.. math::

    e_{ij} = v^\\top \\tanh(W s_{i-1} + U h_j), \\quad
    \\alpha_{ij} = \\mathrm{softmax}_j(e_{ij}), \\quad c_i = \\sum_j \\alpha_{ij} h_j,

and feeds the context ``c_i`` into its GRU. The alignment ``alpha`` is the
ancestor of the Transformer's attention weights. Luong et al. (2015) replaced the
scoring network by a product, ``e_ij = s^T h_j`` ("dot") or ``s^T W_a h_j``
("general", for a state and annotations of different widths):
:class:`MultiplicativeAttention`, chosen by ``Seq2SeqConfig(score="general")``.
Only the score changes; the decoder around it stays Bahdanau's, so the two
models differ in nothing else. :func:`train_reversal` teaches either to
reverse a sequence, whose alignment is an anti-diagonal.

References
----------
.. [1] Bahdanau, Cho and Bengio, "Neural machine translation by jointly
   learning to align and translate", ICLR 2015.
.. [2] Sutskever, Vinyals and Le, "Sequence to sequence learning with neural
   networks", NeurIPS 2014.
.. [3] Luong, Pham and Manning, "Effective approaches to attention-based neural
   machine translation", EMNLP 2015, section 3.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_in, check_instance, check_int, check_positive, check_positive_int
from fmref.nn.recurrent import GRU, GRUCell

__all__ = [
    "AdditiveAttention",
    "MultiplicativeAttention",
    "Seq2SeqConfig",
    "Seq2Seq",
    "reversal_batch",
    "train_reversal",
]


def _attend(scores, keys, mask):
    """Softmax over the ``(B, S)`` scores (masked) and the weighted sum of the keys."""
    if mask is not None:
        if mask.shape != scores.shape:
            raise ValueError(
                f"mask must have shape (B, S) = {tuple(scores.shape)}, got {tuple(mask.shape)}"
            )
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, S)
    context = (weights.unsqueeze(-1) * keys).sum(dim=1)  # (B, key_dim)
    return context, weights


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
        return _attend(scores, keys, mask)


class MultiplicativeAttention(nn.Module):
    r"""Luong's multiplicative (dot-product) attention score.

    The score is :math:`e_j = q^\top k_j` ("dot") or :math:`e_j = q^\top W_a k_j`
    ("general"); the weights and the context are those of :class:`AdditiveAttention`.

    Parameters
    ----------
    query_dim : int
        Width of the query (the decoder state).
    key_dim : int
        Width of each key (an encoder annotation); the keys are also the values.
    score : {"general", "dot"}, default "general"
        ``"dot"`` scores with the plain dot product (no parameters; needs
        ``query_dim == key_dim``), ``"general"`` with a learned bilinear form
        :math:`W_a` of shape ``(query_dim, key_dim)``.

    Raises
    ------
    ValueError
        If ``score`` is unknown, a width is not a positive int, ``"dot"`` is
        asked for with different widths, or (in ``forward``) ``mask`` does not
        have shape ``(B, S)``.

    References
    ----------
    .. [1] Luong, Pham and Manning, "Effective approaches to attention-based
       neural machine translation", EMNLP 2015, equation (8).

    Examples
    --------
    The dot score of a query against two keys, by hand: ``(1, 0) . (2, 0) = 2``
    and ``(1, 0) . (0, 3) = 0``, so the weights are ``softmax(2, 0)``:

    >>> import torch
    >>> from fmref.models.seq2seq import MultiplicativeAttention
    >>> attn = MultiplicativeAttention(2, 2, score="dot")
    >>> query, keys = torch.tensor([[1.0, 0.0]]), torch.tensor([[[2.0, 0.0], [0.0, 3.0]]])
    >>> context, weights = attn(query, keys)
    >>> [round(w, 4) for w in weights[0].tolist()], round(1 / (1 + torch.e**-2), 4)
    ([0.8808, 0.1192], 0.8808)
    >>> MultiplicativeAttention(4, 6).W_a.weight.shape  # "general": (query_dim, key_dim)
    torch.Size([4, 6])
    """

    def __init__(self, query_dim, key_dim, score="general"):
        super().__init__()
        check_positive_int("query_dim", query_dim)
        check_positive_int("key_dim", key_dim)
        self.score = check_in("score", score, ("general", "dot"))
        if score == "dot":
            if query_dim != key_dim:
                raise ValueError(
                    f"score='dot' needs query_dim == key_dim, got {query_dim} and {key_dim}"
                )
            self.W_a = None
        else:
            self.W_a = nn.Linear(key_dim, query_dim, bias=False)  # W_a k_j, (B, S, query_dim)

    def forward(self, query, keys, mask=None):
        """Score ``keys`` ``(B, S, key_dim)`` against ``query`` ``(B, query_dim)``.

        ``mask`` ``(B, S)`` is True at real (non-padding) positions. Returns the
        context ``(B, key_dim)`` and the weights ``(B, S)``.
        """
        projected = keys if self.W_a is None else self.W_a(keys)  # (B, S, query_dim)
        scores = (projected @ query.unsqueeze(-1)).squeeze(-1)  # (B, S)
        return _attend(scores, keys, mask)


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
    score: str = "additive"  # or "general": Luong's s^T W_a h_j (attn_dim unused)

    def __post_init__(self):
        for name in ("src_vocab", "tgt_vocab", "emb_dim", "hidden_size", "attn_dim"):
            check_positive_int(name, getattr(self, name))
        check_in("score", self.score, ("additive", "general"))


class Seq2Seq(nn.Module):
    """Bidirectional-GRU encoder, GRU decoder with additive attention (RNNsearch).

    With ``config.score = "general"`` the alignment is scored by
    :class:`MultiplicativeAttention` instead of :class:`AdditiveAttention`.

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
        if c.score == "additive":
            self.attention = AdditiveAttention(H, 2 * H, c.attn_dim)
        else:
            self.attention = MultiplicativeAttention(H, 2 * H, "general")
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


# ---------------------------------------------------------------------------
# The toy task of Chapter IV's alignment figure: reverse a sequence.
# ---------------------------------------------------------------------------
def reversal_batch(batch, seq_len, vocab, generator=None):
    """Random sources of the symbols 1 to ``vocab - 1`` and their reversals (id 0 is BOS).

    Parameters
    ----------
    batch, seq_len : int
        Sequences and their length.
    vocab : int
        Vocabulary size, BOS included (at least 3).
    generator : torch.Generator, optional
        Source of the draws.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``src`` and ``tgt = src.flip(1)``, both ``(batch, seq_len)`` longs.

    Raises
    ------
    ValueError
        If a size is not a positive int or ``vocab`` is below 3.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.seq2seq import reversal_batch
    >>> src, tgt = reversal_batch(2, 4, 6, torch.Generator().manual_seed(0))
    >>> src.tolist(), tgt.tolist()
    ([[5, 5, 4, 1], [4, 5, 3, 4]], [[1, 4, 5, 5], [4, 3, 5, 4]])
    """
    check_positive_int("batch", batch)
    check_positive_int("seq_len", seq_len)
    check_int("vocab", vocab, low=3)  # BOS and at least two symbols
    src = torch.randint(1, vocab, (batch, seq_len), generator=generator)  # (B, S)
    return src, src.flip(1)


def train_reversal(model, steps=150, batch=32, lr=1e-2, seq_len=6, examples=None,
                   eval_every=0, eval_batch=256, seed=0):  # fmt: skip
    """Train a :class:`Seq2Seq` to reverse sequences, through :func:`fmref.train.loop.fit`.

    Teacher forcing with the cross-entropy of every target token; AdamW at a
    constant ``lr``. Every ``eval_every`` steps (and after the last) the model
    decodes ``examples`` greedily and records their outputs and alignments,
    and the token accuracy on ``eval_batch`` fresh sequences (drawn once).

    Parameters
    ----------
    model : Seq2Seq
        With ``src_vocab == tgt_vocab``; trained in place.
    steps, batch : int
        Optimiser steps and sequences per step.
    lr : float
        AdamW's learning rate.
    seq_len : int
        Length of every source.
    examples : torch.Tensor, optional
        ``(E, seq_len)`` sources whose alignments are recorded.
    eval_every : int
        Steps between snapshots; 0 takes one after the last step.
    eval_batch : int
        Held-out sequences of the accuracy.
    seed : int
        Seeds the batches.

    Returns
    -------
    dict
        ``loss`` (one per step); ``snapshots``, one dict per evaluation with
        ``step``, ``accuracy`` (the fraction of held-out target tokens
        decoded right), ``tokens`` ``(E, seq_len)`` and ``alignment``
        ``(E, seq_len, seq_len)`` (output step by source position) of the
        examples; ``accuracy``, the last snapshot's.

    Raises
    ------
    ValueError
        If ``model`` is not a Seq2Seq with equal vocabularies, a size is not a
        positive int, ``lr`` is not positive or ``examples`` has the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.seq2seq import Seq2Seq, Seq2SeqConfig, train_reversal
    >>> _ = torch.manual_seed(0)
    >>> model = Seq2Seq(Seq2SeqConfig(6, 6, emb_dim=8, hidden_size=8, score="general"))
    >>> history = train_reversal(model, steps=4, seq_len=3, examples=torch.tensor([[1, 2, 3]]),
    ...                          eval_every=2, eval_batch=8)
    >>> [s["step"] for s in history["snapshots"]], len(history["loss"])
    ([2, 4], 4)
    >>> torch.tensor(history["snapshots"][-1]["alignment"]).sum(-1).tolist()  # rows sum to 1
    [[1.0, 1.0, 1.0]]
    """
    from fmref.train.loop import fit

    check_instance("model", model, Seq2Seq)
    vocab = model.config.src_vocab
    if model.config.tgt_vocab != vocab:
        raise ValueError(
            f"model must have src_vocab == tgt_vocab, got {vocab} and {model.config.tgt_vocab}"
        )
    for name, value in (("steps", steps), ("batch", batch), ("seq_len", seq_len),
                        ("eval_batch", eval_batch)):  # fmt: skip
        check_positive_int(name, value)
    check_positive("lr", lr)
    check_int("eval_every", eval_every, low=0)
    if examples is None:
        examples = torch.empty(0, seq_len, dtype=torch.long)
    if not isinstance(examples, torch.Tensor) or examples.shape[1:] != (seq_len,):
        raise ValueError(f"examples must be an (E, seq_len={seq_len}) tensor of token ids")
    g = torch.Generator().manual_seed(seed)
    held_src, held_tgt = reversal_batch(eval_batch, seq_len, vocab, g)

    def loss_fn(model, pair):
        src, tgt = pair
        tgt_in = torch.cat([torch.zeros_like(tgt[:, :1]), tgt[:, :-1]], dim=1)  # BOS, shifted
        logits, _ = model(src, tgt_in)  # (B, T, V)
        return F.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1))

    def snapshot(model):
        tokens, _ = model.greedy_decode(held_src, bos=0, max_len=seq_len)
        out = {"accuracy": (tokens == held_tgt).float().mean().item()}
        tokens, alignment = model.greedy_decode(examples, bos=0, max_len=seq_len)
        return {**out, "tokens": tokens.tolist(), "alignment": alignment.tolist()}

    history = fit(model, lambda step: reversal_batch(batch, seq_len, vocab, g), loss_fn, steps,
                  lr=lr, eval_fn=snapshot, eval_every=eval_every)  # fmt: skip
    model.eval()
    snapshots = [{"step": s, **e} for s, e in zip(history["eval_step"], history["eval"])]
    return {"loss": history["loss"], "snapshots": snapshots,
            "accuracy": snapshots[-1]["accuracy"]}  # fmt: skip
