"""Scaling: how parameters, data and compute relate.

- :func:`count_parameters` and :func:`parameter_breakdown` (from
  :mod:`fmref.scaling.params`): the parameter count of a GPT or LLaMA
  configuration, computed without allocating weights.
"""

from fmref.scaling.params import count_parameters, parameter_breakdown

__all__ = ["count_parameters", "parameter_breakdown"]
