"""Retrieval augmentation: find passages, then let a model read them.

The code of Chapter XXII. Import from this package or from its modules, for example
``from fmref.rag.bm25 import BM25``:

- :mod:`fmref.rag.chunk`: splitting documents into overlapping chunks of tokens;
- :mod:`fmref.rag.bm25`: Okapi BM25 sparse retrieval (scores identical to ``rank_bm25``);
- :mod:`fmref.rag.minilm`: the real all-MiniLM-L6-v2 sentence encoder loaded into
  :class:`fmref.models.bert.Bert`;
- :mod:`fmref.rag.dense`: exact inner-product search and reciprocal rank fusion;
- :mod:`fmref.rag.late`: late interaction (ColBERT's MaxSim) over MiniLM's token vectors;
- :mod:`fmref.rag.ivf`: an inverted-file index, approximate search in a few k-means cells;
- :mod:`fmref.rag.metrics`: recall@k, mean reciprocal rank and nDCG@k;
- :mod:`fmref.rag.prompt`: a retrieval-augmented prompt with numbered citations;
- :mod:`fmref.rag.evalset`: the manual's questions about the Python docs, with their
  relevant topics, in a training and a held-out half;
- :mod:`fmref.rag.baselines`: BM25, MiniLM and hybrid rankings of the evaluation corpus;
- :mod:`fmref.rag.rerank`: a cross-encoder reranker fine-tuned from MiniLM;
- :mod:`fmref.rag.agentic`: query rewriting and multi-hop search with the agent loop, and
  the recall of a prompt's token budget (long context against retrieval);
- :mod:`fmref.rag.faithfulness`: checking that every cited sentence is supported by its
  passage, against hand labels;
- :mod:`fmref.rag.compare`: every retriever on the held-out questions, one cached table.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
