"""Evaluation of models, one measure per module.

Each name is importable from its module (``from fmref.eval.passk import pass_at_k``)
or from this package (``from fmref.eval import pass_at_k``):

- :mod:`fmref.eval.perplexity`: the sliding-window perplexity of a causal language
  model (Chapter VIII);
- :mod:`fmref.eval.long_context`: perplexity past the training length under each
  RoPE scaling (Chapter VI);
- :mod:`fmref.eval.passk`: the unbiased pass@k estimator (Appendix C);
- :mod:`fmref.eval.multiple_choice`: multiple-choice scoring by log-likelihood, as MMLU
  and HellaSwag are scored;
- :mod:`fmref.eval.calibration`: reliability diagrams and the expected calibration error;
- :mod:`fmref.eval.bootstrap`: bootstrap intervals, paired tests and sample sizes;
- :mod:`fmref.eval.seeds`: run-to-run variance of a tiny GPT over random seeds;
- :mod:`fmref.eval.judge`: LLM-as-a-judge pairwise comparisons and their biases;
- :mod:`fmref.eval.testtime`: best-of-N and (weighted) majority voting, and their
  accuracy against the number of samples (Chapters XI and XV).
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
