"""The first-stage retrievers on the manual's evaluation corpus.

Chapter XXII compares retrievers on the chunks of
:func:`fmref.rag.evalset.corpus_chunks` and the questions of
:func:`fmref.rag.evalset.load_evalset`. :func:`first_stage_rankings` ranks every
chunk for every question three ways, the *first stage* that later stages
(reranking, :mod:`fmref.rag.rerank`; the agent, :mod:`fmref.rag.agentic`) start
from:

- ``"BM25"``: Okapi BM25 over :func:`fmref.rag.bm25.tokenize` words;
- ``"MiniLM"``: exact inner-product search over the cached all-MiniLM-L6-v2
  chunk embeddings (:func:`fmref.rag.evalset.corpus_embeddings`);
- ``"hybrid"``: reciprocal rank fusion of the two (``k = 60``).
"""

from __future__ import annotations

__all__ = ["FIRST_STAGES", "first_stage_rankings"]

#: The names of the first-stage retrievers, in the order of the chapter's table.
FIRST_STAGES = ("BM25", "MiniLM", "hybrid")


def first_stage_rankings(questions, encoder=None):
    """Every chunk ranked for every question by BM25, MiniLM and their fusion.

    Parameters
    ----------
    questions : list of str
        Non-empty questions.
    encoder : fmref.rag.minilm.SentenceEncoder, optional
        Embeds the questions; default :func:`fmref.rag.minilm.load_minilm`.

    Returns
    -------
    dict of str to list of list of int
        For each name of :data:`FIRST_STAGES`, one ranking of all chunk indices
        per question, best first.

    Raises
    ------
    ValueError
        If ``questions`` is empty or holds an empty question.
    TypeError
        If ``questions`` is a str.

    Examples
    --------
    >>> from fmref.rag.baselines import first_stage_rankings
    >>> from fmref.rag.evalset import corpus_chunks
    >>> texts, topics = corpus_chunks()
    >>> runs = first_stage_rankings(["How do I leave a loop early?"])
    >>> {name: topics[r[0][0]] for name, r in runs.items()}  # the topic of each best chunk
    {'BM25': 'for', 'MiniLM': 'break', 'hybrid': 'for'}
    """
    from fmref.rag.bm25 import BM25, tokenize
    from fmref.rag.dense import DenseIndex, reciprocal_rank_fusion
    from fmref.rag.evalset import corpus_chunks, corpus_embeddings

    if isinstance(questions, str):
        raise TypeError("questions must be a list of str, not a str: wrap it as [question]")
    if len(questions) == 0:
        raise ValueError("questions must hold at least one question")
    for i, q in enumerate(questions):
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"questions[{i}] must be a non-empty str")
    if encoder is None:
        from fmref.rag.minilm import load_minilm

        encoder = load_minilm()
    texts, _ = corpus_chunks()
    n = len(texts)
    bm25 = BM25([tokenize(t) for t in texts])
    runs = {
        "BM25": [[i for i, _ in bm25.top_k(tokenize(q), n)] for q in questions],
        "MiniLM": DenseIndex(corpus_embeddings())
        .search(encoder.embed(list(questions)), n)[1]
        .tolist(),
    }
    runs["hybrid"] = [
        [d for d, _ in reciprocal_rank_fusion([a, b])] for a, b in zip(runs["BM25"], runs["MiniLM"])
    ]
    return runs
