"""Every retriever of Chapter XXII on the same held-out questions.

:func:`heldout_comparison` ranks the chunks of
:func:`fmref.rag.evalset.corpus_chunks` for the 48 held-out questions
(``load_evalset("test")``) with each retriever of the chapter:

- ``BM25``, ``MiniLM`` (dense) and ``hybrid`` (their reciprocal rank fusion),
  from :func:`fmref.rag.baselines.first_stage_rankings`;
- ``late interaction``: MaxSim over MiniLM's token vectors
  (:mod:`fmref.rag.late`);
- ``hybrid + reranker``: the hybrid's top 10 chunks reordered by the
  cross-encoder of :func:`fmref.rag.rerank.train_reranker`, trained on the other
  48 questions; ``reranker fused``: the same 10 reordered by the reciprocal rank
  fusion of the hybrid's order and the cross-encoder's;
- ``agentic``: the scripted agent of :mod:`fmref.rag.agentic` searching the
  hybrid retriever twice (rewritten query, then pseudo-relevance feedback).

It scores each with recall@5, MRR and nDCG@10 of the induced topic rankings
(:func:`fmref.rag.evalset.evaluate`), adds a paired bootstrap interval for the
reranker's gain, and caches the whole computation in :mod:`fmref.zoo` (it runs
two MiniLM passes over the corpus and a training run when nothing is cached).
:func:`format_table` prints the result.
"""

from __future__ import annotations

import time

from fmref._validate import check_overrides

__all__ = ["COMPARISON_SETTINGS", "RETRIEVERS", "heldout_comparison", "format_table"]

#: Settings of :func:`heldout_comparison` (its cache key, with the code).
COMPARISON_SETTINGS = {
    "rerank_k": 10,  # chunks of the hybrid ranking the cross-encoder reorders
    "agent_hops": 2,  # searches of the agent before it answers
    "feedback_terms": 5,  # words the agent adds from what it read
    "agent_shown": 3,  # passages per search result the agent reads
    "keep": 50,  # chunks kept per stored ranking
    "budgets": [256, 512, 1024, 2048, 4096, 8192, 16384],  # prompt tokens for passages
}

#: The retrievers of the table, in its order.
RETRIEVERS = (
    "BM25",
    "MiniLM",
    "late interaction",
    "hybrid",
    "hybrid + reranker",
    "reranker fused",
    "agentic",
)


def _per_question_ndcg(rankings, questions, topics, k=10):
    from fmref.rag.evalset import topic_ranking
    from fmref.rag.metrics import ndcg_at_k

    return [
        ndcg_at_k(topic_ranking(r, topics), q["relevant"], k) for r, q in zip(rankings, questions)
    ]


def _recall_curve(rankings, questions, topics, k_max=20):
    from fmref.rag.evalset import topic_ranking
    from fmref.rag.metrics import recall_at_k

    ranked = [topic_ranking(r, topics) for r in rankings]
    n = len(questions)
    return [
        round(sum(recall_at_k(t, q["relevant"], k) for t, q in zip(ranked, questions)) / n, 4)
        for k in range(1, k_max + 1)
    ]


def _long_context(runs, questions, texts, topics, tokenizer, s):
    """Recall of the passages that fit a prompt budget: stuffing in corpus order vs retrieval."""
    from fmref.rag.agentic import recall_within_budget
    from fmref.text.corpus import python_docs

    tokens = [len(tokenizer.tokenize(t)) for t in texts]
    stuffed = [list(range(len(texts)))] * len(questions)  # every question gets the corpus order
    rows = {}
    for budget in s["budgets"] + [sum(tokens)]:
        rows[budget] = {
            "stuffing": recall_within_budget(stuffed, questions, tokens, topics, budget)[0],
            **{name: recall_within_budget(runs[name], questions, tokens, topics, budget)[0]
               for name in ("hybrid", "hybrid + reranker")},  # fmt: skip
        }
    return {
        "chunk_tokens": sum(tokens),  # the index, overlaps counted twice
        "corpus_tokens": len(tokenizer.tokenize(python_docs())),  # every topic, whole
        "recall": rows,
    }


def heldout_comparison(use_cache=True, **overrides):
    """Rankings and scores of every retriever on the held-out questions, cached.

    Parameters
    ----------
    use_cache : bool, default True
        Read the result from :mod:`fmref.zoo`'s cache if present.
    **overrides
        Settings to change from :data:`COMPARISON_SETTINGS`.

    Returns
    -------
    dict
        ``metrics``: for each name of :data:`RETRIEVERS`, ``{"recall@5", "mrr",
        "ndcg@10"}``; ``recall_curve``: its mean recall@k of topics for ``k`` from 1
        to 20; ``rankings``: the first ``keep`` chunks per question;
        ``rerank_gain``: for the two reranked rows, the nDCG@10 gain over the
        hybrid with its 95% paired bootstrap interval and p-value; ``agent_cost``: searches,
        model calls and transcript words per question; ``long_context``: the
        WordPiece tokens of the indexed chunks and of the whole corpus, and for
        each prompt budget in ``budgets`` (and the whole index) the recall of
        topics within it when the chunks are stuffed in corpus order and when
        they come from the hybrid and the reranker (:func:`fmref.rag.agentic.recall_within_budget`);
        ``seconds``: wall time
        of each retriever over the 48 questions (the reranker's training
        excluded) and of the reranker's training; ``n_questions``.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> from fmref.rag.compare import heldout_comparison
    >>> result = heldout_comparison()
    >>> result["n_questions"], list(result["metrics"]["BM25"])
    (48, ['recall@5', 'mrr', 'ndcg@10'])
    """
    s = check_overrides("overrides", overrides, COMPARISON_SETTINGS)

    def compute():
        from fmref.eval.bootstrap import paired_bootstrap
        from fmref.rag.agentic import FeedbackPolicy, agentic_rankings
        from fmref.rag.baselines import first_stage_rankings
        from fmref.rag.bm25 import BM25, tokenize
        from fmref.rag.dense import DenseIndex, reciprocal_rank_fusion
        from fmref.rag.evalset import corpus_chunks, corpus_embeddings, evaluate, load_evalset
        from fmref.rag.late import (
            LateInteractionIndex,
            corpus_token_vectors,
            late_interaction_rankings,
        )
        from fmref.rag.minilm import load_minilm
        from fmref.rag.rerank import RERANK_SETTINGS, cross_encoder_rankings, train_reranker
        from fmref.zoo import one_thread

        with one_thread():
            encoder = load_minilm()
            texts, topics = corpus_chunks()
            questions = load_evalset("test")
            asked = [q["question"] for q in questions]
            seconds = {}
            start = time.perf_counter()
            runs = first_stage_rankings(asked, encoder)
            seconds["first stages"] = time.perf_counter() - start

            index = LateInteractionIndex(corpus_token_vectors())
            start = time.perf_counter()
            runs["late interaction"] = late_interaction_rankings(encoder, asked, index, len(texts))
            seconds["late interaction"] = time.perf_counter() - start

            model, history = train_reranker()
            seconds["reranker training"] = history["seconds"]
            start = time.perf_counter()
            runs["hybrid + reranker"] = cross_encoder_rankings(
                model, encoder.tokenizer, asked, runs["hybrid"], texts, s["rerank_k"],
                max_length=RERANK_SETTINGS["max_length"],
                max_query_tokens=RERANK_SETTINGS["max_query_tokens"],
            )  # fmt: skip
            seconds["hybrid + reranker"] = time.perf_counter() - start
            k = s["rerank_k"]
            runs["reranker fused"] = [
                [d for d, _ in reciprocal_rank_fusion([a[:k], b[:k]])] + a[k:]
                for a, b in zip(runs["hybrid"], runs["hybrid + reranker"])
            ]  # the same k chunks: the fusion of two orders of them

            bm25, dense = BM25([tokenize(t) for t in texts]), DenseIndex(corpus_embeddings())

            def hybrid(query):
                sparse = [i for i, _ in bm25.top_k(tokenize(query), len(texts))]
                vector = dense.search(encoder.embed([query]), len(texts))[1][0].tolist()
                return [d for d, _ in reciprocal_rank_fusion([sparse, vector])]

            start = time.perf_counter()
            policy = FeedbackPolicy(s["agent_hops"], s["feedback_terms"])
            runs["agentic"], cost = agentic_rankings(
                hybrid, texts, topics, asked, policy, k=s["agent_shown"]
            )
            seconds["agentic"] = time.perf_counter() - start

        metrics = {name: evaluate(runs[name], questions, topics) for name in RETRIEVERS}
        long_context = _long_context(runs, questions, texts, topics, encoder.tokenizer, s)
        curves = {name: _recall_curve(runs[name], questions, topics) for name in RETRIEVERS}
        hybrid_ndcg = _per_question_ndcg(runs["hybrid"], questions, topics)
        gains = {}
        for name in ("hybrid + reranker", "reranker fused"):
            g = paired_bootstrap(_per_question_ndcg(runs[name], questions, topics), hybrid_ndcg)
            gains[name] = {"ndcg@10": round(g.difference, 4), "low": round(g.low, 4),
                           "high": round(g.high, 4), "p_value": round(g.p_value, 4)}  # fmt: skip
        return {
            "n_questions": len(questions),
            "metrics": metrics,
            "rankings": {name: [r[: s["keep"]] for r in runs[name]] for name in RETRIEVERS},
            "recall_curve": curves,
            "rerank_gain": gains,
            "agent_cost": {k: round(v, 2) for k, v in cost.items()},
            "long_context": long_context,
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        }

    if not use_cache:
        return compute()
    from fmref.zoo import cached

    return cached("rag-heldout-comparison", s, compute)


def format_table(result):
    """The comparison as a text table: one row per retriever.

    Parameters
    ----------
    result : dict
        What :func:`heldout_comparison` returns (its ``metrics`` are used).

    Returns
    -------
    str
        A header and one line per retriever with recall@5, MRR and nDCG@10.

    Raises
    ------
    ValueError
        If ``result`` has no ``metrics``.

    Examples
    --------
    >>> from fmref.rag.compare import format_table
    >>> print(format_table({"metrics": {"BM25": {"recall@5": 0.7, "mrr": 0.6, "ndcg@10": 0.65}}}))
    retriever          recall@5    MRR  nDCG@10
    BM25                  0.700  0.600    0.650
    """
    if not isinstance(result, dict) or "metrics" not in result:
        raise ValueError("result must be the dict of heldout_comparison(), with 'metrics'")
    lines = [f"{'retriever':<17} {'recall@5':>9} {'MRR':>6} {'nDCG@10':>8}"]
    for name, m in result["metrics"].items():
        lines.append(f"{name:<17} {m['recall@5']:>9.3f} {m['mrr']:>6.3f} {m['ndcg@10']:>8.3f}")
    return "\n".join(lines)
