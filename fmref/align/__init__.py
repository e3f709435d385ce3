"""Aligning a language model with instructions and preferences.

The code of Chapter XI. Import from this package or from its modules, for example
``from fmref.align.dpo import dpo_loss``:

- :mod:`fmref.align.sft`: chat templates, the supervised fine-tuning loss on
  response tokens only, and summed sequence log-probabilities;
- :mod:`fmref.align.reward`: the Bradley–Terry loss of a reward model;
- :mod:`fmref.align.ppo`: generalised advantage estimation, PPO's clipped
  surrogate and the per-token KL penalty to a reference model;
- :mod:`fmref.align.dpo`: direct preference optimisation;
- :mod:`fmref.align.grpo`: group-normalised advantages and the loss of GRPO;
- :mod:`fmref.align.verifiable`: a task with checkable answers (sums of digits), its
  rule-based reward and step labels, and the base model RL starts from;
- :mod:`fmref.align.rlvr`: reinforcement learning with verifiable rewards (GRPO from the
  base model, the R1-Zero recipe in miniature);
- :mod:`fmref.align.prm`: outcome and process reward models.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
