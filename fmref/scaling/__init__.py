"""Scaling: how parameters, data and compute relate.

- :func:`count_parameters`, :func:`parameter_breakdown` and
  :func:`active_parameters` (from :mod:`fmref.scaling.params`): the parameter
  count of a GPT, LLaMA or DeepSeek-V3 configuration, and the part a
  mixture-of-experts model uses per token, computed without allocating weights.
- :func:`training_flops` and :func:`flops_per_token` (from
  :mod:`fmref.scaling.flops`): compute per token and per training run.
- :func:`kaplan_loss`, :func:`chinchilla_loss`, :func:`compute_optimal` and their
  published constants (from :mod:`fmref.scaling.laws`).
- :func:`fit_scaling_law` and :func:`fit_power_law` (from
  :mod:`fmref.scaling.fit`): fitting those laws to your own runs, and
  :func:`mini_scaling_run`, one cached run of the gallery's small study.

Every name is importable from this package as well as from its module.
"""

from fmref.scaling.fit import (
    PowerLawFit,
    ScalingLawFit,
    fit_power_law,
    fit_scaling_law,
    huber,
    mini_scaling_run,
)
from fmref.scaling.flops import flops_per_token, training_flops
from fmref.scaling.laws import (
    BESIROGLU,
    CHINCHILLA,
    KAPLAN,
    PF_DAY,
    chinchilla_loss,
    compute_optimal,
    kaplan_compute_optimal,
    kaplan_loss,
    tokens_per_parameter_allocation,
)
from fmref.scaling.params import active_parameters, count_parameters, parameter_breakdown

__all__ = [
    "count_parameters",
    "active_parameters",
    "parameter_breakdown",
    "training_flops",
    "flops_per_token",
    "kaplan_loss",
    "kaplan_compute_optimal",
    "chinchilla_loss",
    "compute_optimal",
    "tokens_per_parameter_allocation",
    "KAPLAN",
    "CHINCHILLA",
    "BESIROGLU",
    "PF_DAY",
    "fit_scaling_law",
    "fit_power_law",
    "ScalingLawFit",
    "PowerLawFit",
    "huber",
    "mini_scaling_run",
]
