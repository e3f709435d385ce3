"""Evaluation of models.

Modules
-------
:mod:`fmref.eval.perplexity`
    Sliding-window perplexity of a causal language model.
"""
