"""Aligning a language model with instructions and preferences.

The code of Chapter XI. Import from this package or from its modules, for example
``from fmref.align.dpo import dpo_loss``:

- :mod:`fmref.align.sft`: chat templates, the supervised fine-tuning loss on
  response tokens only, and summed sequence log-probabilities;
- :mod:`fmref.align.reward`: the Bradley–Terry loss of a reward model;
- :mod:`fmref.align.ppo`: generalised advantage estimation, PPO's clipped
  surrogate and the per-token KL penalty to a reference model;
- :mod:`fmref.align.dpo`: direct preference optimisation;
- :mod:`fmref.align.grpo`: group-normalised advantages of GRPO.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
