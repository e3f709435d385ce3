"""Reranking: a cross-encoder reads question and passage together.

A first-stage retriever (BM25, a bi-encoder, their fusion) must score the whole
corpus, so it encodes question and passage apart. A *cross-encoder* reads the
pair as one input, ``[CLS] question [SEP] passage [SEP]``, so that every
question token attends to every passage token, and maps it to one relevance
score (Nogueira and Cho, 2019). That costs a forward pass per candidate, so it
only *reranks* the first stage's top ``k``: it can reorder them but never
bring in a passage the first stage missed.

:class:`CrossEncoder` is fmref's :class:`~fmref.models.bert.Bert` with a linear
head on the pooled states of the query and passage segments, started at their
cosine. :func:`train_reranker` initialises it from all-MiniLM-L6-v2 and
fine-tunes it with :func:`fmref.train.loop.fit` on the *training* half of the
evaluation questions (:func:`fmref.rag.evalset.load_evalset` with
``split="train"``): for each, the first stage's top candidates with the grades
of their topics, and a listwise softmax loss that pushes the relevant
candidates above the others. The held-out half is never seen. On one CPU
thread only the head (and optionally the top blocks) is trained, on states of
the frozen blocks computed once per pair. :func:`rerank` applies a scorer to a
ranking.
"""

from __future__ import annotations

import random

import torch
from torch import nn
from torch.nn import functional as F

from fmref._validate import (
    check_instance,
    check_int,
    check_overrides,
    check_positive,
    check_positive_int,
)
from fmref.models.bert import Bert
from fmref.train.loop import cosine_schedule, fit

__all__ = [
    "RERANK_SETTINGS",
    "CrossEncoder",
    "encode_pairs",
    "rerank",
    "train_reranker",
    "cross_encoder_rankings",
]

#: Settings of :func:`train_reranker` (the cache key of the ``minilm-reranker`` recipe).
RERANK_SETTINGS = {
    "first_stage": "hybrid",  # the candidates come from BM25 + MiniLM fusion
    "candidates": 8,  # chunks per training question (the hybrid's first 8)
    "max_length": 64,  # tokens of a pair, [CLS] q [SEP] p [SEP]: the passage's first ~45
    "max_query_tokens": 32,  # the question's share at most
    "trained_layers": 0,  # encoder blocks fine-tuned from the top (0: the head only)
    "steps": 200,  # AdamW steps over the cached states of the 48 training questions
    "questions_per_step": 2,  # 2 x candidates pairs per step
    "lr": 1e-4,  # peak learning rate
    "warmup": 10,  # linear warm-up steps
    "scale": 20.0,  # score = scale * head(features): sentence-transformers' softmax scale
    "seed": 0,
}


def encode_pairs(tokenizer, query, passages, max_length=128, max_query_tokens=32):
    """Token ids of ``[CLS] query [SEP] passage [SEP]`` for each passage, padded.

    The query keeps at most ``max_query_tokens`` WordPiece tokens; the passage
    fills the rest of ``max_length``. Segment ids are 0 for ``[CLS]``, the query
    and its ``[SEP]``, and 1 for the passage and the last ``[SEP]``, as in BERT's
    sentence-pair input.

    Parameters
    ----------
    tokenizer : fmref.text.wordpiece.WordPieceTokenizer
        The encoder's tokenizer.
    query : str
        A non-empty query.
    passages : list of str
        The candidates.
    max_length : int, default 128
        Longest pair, special tokens included.
    max_query_tokens : int, default 32
        Longest query part (without specials).

    Returns
    -------
    input_ids, attention_mask, token_type_ids : torch.Tensor
        Each ``(len(passages), T)`` long, ``T`` the longest pair.

    Raises
    ------
    ValueError
        If ``query`` is empty, ``passages`` is empty, or the lengths leave no
        room for a passage token.

    Examples
    --------
    >>> from fmref.rag.rerank import encode_pairs
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "copy", "a", "list"])
    >>> ids, mask, types = encode_pairs(tok, "copy", ["a list", "list"])
    >>> ids.tolist()  # [CLS] copy [SEP] a list [SEP], padded with [PAD] = 0
    [[2, 4, 3, 5, 6, 3], [2, 4, 3, 6, 3, 0]]
    >>> types.tolist(), mask[1].tolist()
    ([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]], [1, 1, 1, 1, 1, 0])
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must be a non-empty str")
    if isinstance(passages, str) or len(passages) == 0:
        raise ValueError("passages must be a non-empty list of str")
    check_positive_int("max_query_tokens", max_query_tokens)
    check_int("max_length", max_length, low=max_query_tokens + 4)
    q = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(query))[:max_query_tokens]
    rows = []
    for p in passages:
        room = max_length - len(q) - 3
        d = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(p))[:room]
        rows.append(([tokenizer.cls_id, *q, tokenizer.sep_id], [*d, tokenizer.sep_id]))
    T = max(len(a) + len(b) for a, b in rows)
    ids = torch.full((len(rows), T), tokenizer.pad_id)
    mask = torch.zeros(len(rows), T, dtype=torch.long)
    types = torch.zeros(len(rows), T, dtype=torch.long)
    for i, (a, b) in enumerate(rows):
        ids[i, : len(a) + len(b)] = torch.tensor(a + b)
        mask[i, : len(a) + len(b)] = 1
        types[i, len(a) : len(a) + len(b)] = 1
    return ids, mask, types


class CrossEncoder(nn.Module):
    """BERT over a (query, passage) pair, then one relevance score.

    The pair is encoded jointly (every query token attends to every passage
    token). The last states are mean-pooled per segment into ``u`` (``[CLS]``,
    the query, its ``[SEP]``) and ``v`` (the passage and the last ``[SEP]``),
    each divided by its norm, and a linear head reads ``[u * v, |u - v|]``, the
    features of Sentence-BERT's classification objective (Reimers and Gurevych,
    2019). The head starts with weight 1 on ``u * v`` and 0 elsewhere, so that
    an untrained model scores a pair by the cosine of its two segments, the
    score all-MiniLM-L6-v2 was trained to give, computed here inside the joint
    encoding; the score is ``scale`` times the head's output (the inverse
    temperature of sentence-transformers' ranking loss, 20).

    Parameters
    ----------
    bert : fmref.models.bert.Bert
        The encoder (for the manual's reranker, all-MiniLM-L6-v2's weights).
    scale : float, default 20.0
        Multiplies the head's output.

    Attributes
    ----------
    bert : fmref.models.bert.Bert
    head : torch.nn.Linear
        ``2 * hidden_size -> 1``.

    Raises
    ------
    TypeError
        If ``bert`` is not a :class:`~fmref.models.bert.Bert`.
    ValueError
        If ``scale`` is not a positive number.

    References
    ----------
    .. [1] Nogueira and Cho, "Passage Re-ranking with BERT", arXiv:1901.04085, 2019.
    .. [2] Reimers and Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
       BERT-Networks", EMNLP 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import Bert, BertConfig
    >>> from fmref.rag.rerank import CrossEncoder
    >>> _ = torch.manual_seed(0)
    >>> model = CrossEncoder(Bert(BertConfig(vocab_size=10, hidden_size=8,
    ...     num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))).eval()
    >>> ids = torch.tensor([[2, 5, 3, 6, 3], [2, 5, 3, 5, 3]])
    >>> types = torch.tensor([[0, 0, 0, 1, 1]] * 2)
    >>> scores = model(ids, torch.ones_like(ids), types)
    >>> scores.shape, bool(scores.abs().max() <= 20.0)  # 20 x a cosine at the start
    (torch.Size([2]), True)
    """

    def __init__(self, bert, scale=20.0):
        super().__init__()
        check_instance("bert", bert, Bert)
        self.scale = check_positive("scale", scale)
        self.bert = bert
        C = bert.config.hidden_size
        self.head = nn.Linear(2 * C, 1)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[0, :C] = 1.0  # sum of u * v: the cosine of the two segments
            self.head.bias.zero_()

    def forward(self, input_ids, attention_mask, token_type_ids):
        """Relevance scores ``(B,)`` of ``B`` encoded pairs (see :func:`encode_pairs`)."""
        hidden = self.bert(input_ids, attention_mask, token_type_ids)  # (B, T, C)
        return self.score_states(hidden, attention_mask, token_type_ids, len(self.bert.layers))

    def score_states(self, hidden, attention_mask, token_type_ids, first_layer):
        """Scores from the hidden states after ``first_layer`` encoder blocks.

        Runs the blocks from ``first_layer`` on, then the pooling and the head:
        with ``first_layer = 0`` and the embeddings' output it is :meth:`forward`.
        Training caches the states below the fine-tuned blocks and calls this.

        Parameters
        ----------
        hidden : torch.Tensor
            ``(B, T, C)`` states entering block ``first_layer``.
        attention_mask : torch.Tensor
            ``(B, T)`` of 1 (token) and 0 (padding).
        token_type_ids : torch.Tensor
            ``(B, T)`` segment ids: 0 for the query, 1 for the passage.
        first_layer : int
            Index of the first block to run (the number of blocks: none).

        Returns
        -------
        torch.Tensor
            ``(B,)`` scores.
        """
        keys = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, T)
        for layer in self.bert.layers[first_layer:]:
            hidden = layer(hidden, attn_mask=keys)
        real = attention_mask.to(hidden.dtype)  # (B, T)
        passage = real * (token_type_ids == 1).to(hidden.dtype)
        pooled = []
        for m in (real - passage, passage):  # query segment, passage segment
            m = m.unsqueeze(-1)  # (B, T, 1)
            mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, C)
            pooled.append(F.normalize(mean, dim=-1, eps=1e-12))
        u, v = pooled
        features = torch.cat([u * v, (u - v).abs()], dim=-1)  # (B, 2C)
        return self.scale * self.head(features).squeeze(-1)  # (B,)


def rerank(score, ranking, k):
    """Reorder the first ``k`` items of a ranking by a scorer; leave the rest.

    Parameters
    ----------
    score : callable
        ``score(items) -> sequence of float``, one score per item (larger is
        better), e.g. a cross-encoder over the items' passages.
    ranking : sequence
        The first stage's ranking, best first.
    k : int
        How many of its first items to rescore (all if fewer).

    Returns
    -------
    list
        The first ``k`` items sorted by score (ties keep the first stage's
        order), then the rest of ``ranking`` unchanged: the same items, so
        nothing outside the first stage's top ``k`` can enter it.

    Raises
    ------
    ValueError
        If ``k`` is not a positive int, ``ranking`` is empty, or ``score``
        returns the wrong number of scores.

    Examples
    --------
    >>> from fmref.rag.rerank import rerank
    >>> lengths = lambda items: [len(w) for w in items]
    >>> rerank(lengths, ["a", "bbb", "cc", "dddd"], k=3)  # "dddd" stays out of the top 3
    ['bbb', 'cc', 'a', 'dddd']
    """
    check_positive_int("k", k)
    ranking = list(ranking)
    if not ranking:
        raise ValueError("ranking must hold at least one item")
    head = ranking[:k]
    scores = [float(s) for s in score(head)]
    if len(scores) != len(head):
        raise ValueError(f"score must return {len(head)} scores, got {len(scores)}")
    order = sorted(range(len(head)), key=lambda i: -scores[i])  # stable
    return [head[i] for i in order] + ranking[k:]


def _training_lists(s, encoder, topics, rng):
    """(question, candidate chunk ids, grades) for every training question."""
    from fmref.rag.baselines import first_stage_rankings
    from fmref.rag.evalset import load_evalset

    questions = load_evalset("train")  # never the held-out half
    runs = first_stage_rankings([q["question"] for q in questions], encoder)[s["first_stage"]]
    lists = []
    for q, ranking in zip(questions, runs):
        grades = [q["relevant"].get(t, 0) for t in topics]  # of every chunk
        cand = ranking[: s["candidates"]]
        if not any(grades[i] for i in cand):  # no positive to learn from: add the best one
            cand[rng.randrange(len(cand))] = next(i for i in ranking if grades[i])
        lists.append((q["question"], cand, [grades[i] for i in cand]))
    return lists


def train_reranker(use_cache=True, **overrides):
    """Train (or load from :mod:`fmref.zoo`'s cache) the MiniLM cross-encoder.

    The encoder starts from all-MiniLM-L6-v2; the embeddings and the blocks
    below the top ``trained_layers`` stay frozen. Each step takes
    ``questions_per_step`` training questions, their first ``candidates``
    first-stage chunks (a relevant chunk replaces a random one where the first
    stage found none) and minimises the cross-entropy between the softmax of the
    candidates' scores and their topic grades, normalised to sum to 1.

    Parameters
    ----------
    use_cache : bool, default True
        Load the weights from the cache if present; train and store them otherwise.
    **overrides
        Settings to change from :data:`RERANK_SETTINGS`.

    Returns
    -------
    model : CrossEncoder
        In eval mode.
    history : dict
        ``loss`` (every step) and ``seconds`` (wall time of the whole training,
        the frozen blocks' pass over the pairs included).

    Raises
    ------
    ValueError
        If an override names an unknown setting.
    ImportError
        If the ``fmref[rag]`` extra is missing.

    References
    ----------
    .. [1] Nogueira and Cho, "Passage Re-ranking with BERT", arXiv:1901.04085, 2019.

    Examples
    --------
    >>> from fmref.rag.rerank import train_reranker
    >>> model, history = train_reranker()
    >>> len(history["loss"]), type(model).__name__
    (200, 'CrossEncoder')
    """
    s = check_overrides("overrides", overrides, RERANK_SETTINGS)

    def train():
        import time

        from fmref.rag.evalset import corpus_chunks
        from fmref.rag.minilm import load_minilm
        from fmref.zoo import one_thread

        start = time.perf_counter()
        with one_thread():
            encoder = load_minilm()
            texts, topics = corpus_chunks()
            rng = random.Random(s["seed"])
            lists = _training_lists(s, encoder, topics, rng)
            torch.manual_seed(s["seed"])
            model = CrossEncoder(encoder.model, s["scale"])
            frozen = len(model.bert.layers) - s["trained_layers"]
            for p in [*model.bert.embeddings.parameters(),
                      *model.bert.layers[:frozen].parameters()]:  # fmt: skip
                p.requires_grad_(False)
            # The frozen part runs once per training pair; fit() then trains the
            # top blocks and the head on the cached states, many steps for little time.
            cached_states = []
            with torch.no_grad():
                model.eval()
                for q, cand, grades in lists:
                    passages = [texts[i] for i in cand]
                    ids, mask, types = encode_pairs(
                        encoder.tokenizer, q, passages, s["max_length"], s["max_query_tokens"]
                    )
                    h = model.bert.embeddings(ids, types)
                    for layer in model.bert.layers[:frozen]:
                        h = layer(h, attn_mask=mask.bool()[:, None, None, :])
                    g = torch.tensor(grades, dtype=torch.float)
                    cached_states.append((h, mask, types, g / g.sum()))
            order = []

            def batch(step):
                while len(order) < s["questions_per_step"]:
                    order.extend(rng.sample(range(len(lists)), len(lists)))  # a new epoch
                picked = [cached_states[order.pop(0)] for _ in range(s["questions_per_step"])]
                T = max(h.shape[1] for h, *_ in picked)
                states = torch.cat([F.pad(h, (0, 0, 0, T - h.shape[1])) for h, *_ in picked])
                mask, types = (torch.cat([F.pad(p[j], (0, T - p[j].shape[1])) for p in picked])
                               for j in (1, 2))  # fmt: skip
                return states, mask, types, torch.stack([p[3] for p in picked])  # (Q, K) targets

            def loss(model, b):
                states, mask, types, target = b
                scores = model.score_states(states, mask, types, frozen).view(target.shape)
                return -(target * F.log_softmax(scores, dim=1)).sum(1).mean()

            warmup = min(s["warmup"], s["steps"])
            history = fit(
                model,
                batch,
                loss,
                s["steps"],
                lr=lambda step: cosine_schedule(step, warmup, s["steps"], s["lr"], 0.0),
                weight_decay=0.01,
                grad_clip=1.0,
                seed=s["seed"],
            )
        trained = {n for n, p in model.named_parameters() if p.requires_grad}
        return {  # the trained tensors only, in float16: the frozen ones are MiniLM's
            "state_dict": {
                n: p.detach().half() for n, p in model.named_parameters() if n in trained
            },
            "history": {"loss": history["loss"], "seconds": time.perf_counter() - start},
        }

    if use_cache:
        from fmref.zoo import cached

        stored = cached("minilm-reranker", s, train)
    else:
        stored = train()
    from fmref.rag.minilm import load_minilm

    model = CrossEncoder(load_minilm().model, s["scale"])
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in stored["state_dict"].items():
            params[name].copy_(value.float())
    return model.eval(), stored["history"]


@torch.no_grad()
def cross_encoder_rankings(model, tokenizer, queries, rankings, texts, k, **encode):
    """Rerank the top ``k`` of each first-stage ranking with a cross-encoder.

    Parameters
    ----------
    model : CrossEncoder
        The scorer (e.g. from :func:`train_reranker`).
    tokenizer : fmref.text.wordpiece.WordPieceTokenizer
        Its tokenizer.
    queries : list of str
        One non-empty query per ranking.
    rankings : list of list of int
        First-stage rankings of passage indices, best first.
    texts : list of str
        The passages.
    k : int
        Candidates reranked per query (:func:`rerank`).
    **encode
        ``max_length`` and ``max_query_tokens`` of :func:`encode_pairs`.

    Returns
    -------
    list of list of int
        The reranked rankings.

    Raises
    ------
    ValueError
        If the numbers of queries and rankings differ, or as :func:`rerank`.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import Bert, BertConfig
    >>> from fmref.rag.rerank import CrossEncoder, cross_encoder_rankings
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c"])
    >>> _ = torch.manual_seed(0)
    >>> model = CrossEncoder(Bert(BertConfig(vocab_size=7, hidden_size=8,
    ...     num_hidden_layers=1, num_attention_heads=2, intermediate_size=16))).eval()
    >>> _ = torch.nn.init.normal_(model.head.weight)
    >>> out = cross_encoder_rankings(model, tok, ["a"], [[0, 1, 2, 3]], ["a", "b", "c", "a b"], k=2)
    >>> sorted(out[0][:2]), out[0][2:]  # only the first two move
    ([0, 1], [2, 3])
    """
    if len(queries) != len(rankings):
        raise ValueError(
            f"rankings must hold one ranking per query ({len(queries)}), got {len(rankings)}"
        )
    model.eval()

    def scorer(query):
        def score(items):
            return model(*encode_pairs(tokenizer, query, [texts[i] for i in items], **encode))

        return score

    return [rerank(scorer(query), r, k) for query, r in zip(queries, rankings)]
