"""Prompting: templates, few-shot prompts, self-consistency, constrained decoding, ICL.

The code of Chapter XV. Import from this package or from its modules, for example
``from fmref.prompting.constrained import constrained_generate``:

- :mod:`fmref.prompting.templates`: prompt templates and few-shot
  prompts within a token budget;
- :mod:`fmref.prompting.consistency`: answer extraction and self-consistency voting;
- :mod:`fmref.prompting.constrained`: a small regular-expression automaton, JSON
  schemas as regular expressions, and decoding that can only produce matching text;
- :mod:`fmref.prompting.icl`: in-context learning of random functions by a tiny GPT.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
