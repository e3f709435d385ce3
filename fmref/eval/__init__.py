"""Evaluation of models, one measure per module.

Import from the modules, e.g. ``from fmref.eval.perplexity import perplexity``
(the sliding-window perplexity of a causal language model, Chapter VIII); the
other modules hold the measures of Appendix C.
"""
