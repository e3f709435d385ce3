"""The data pipeline before pretraining (Appendix B).

Import from this package or from its modules:

- :mod:`fmref.data.dedup`: text normalisation, exact deduplication by hash, and
  controlled perturbations to measure deduplication with;
- :mod:`fmref.data.minhash`: MinHash signatures and locality-sensitive hashing
  for near-duplicate detection;
- :mod:`fmref.data.filters`: heuristic quality filters in the style of Gopher and C4;
- :mod:`fmref.data.quality`: model-based quality filters (an n-gram classifier as in
  DCLM and FineWeb-Edu, language-model perplexity as in CCNet) and what they buy;
- :mod:`fmref.data.synthetic`: Self-Instruct's generate-and-filter loop and ROUGE-L;
- :mod:`fmref.data.mixing`: mixture weights (temperature sampling, DoReMi's update);
- :mod:`fmref.data.packing`: sequence packing with document boundaries;
- :mod:`fmref.data.contamination`: benchmark contamination by n-gram overlap.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
