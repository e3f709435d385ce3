"""The recipe of fmref's tiny GPTs trained from scratch on a masked next-token loss.

The sums base model (:func:`fmref.align.verifiable.train_base_model`) and the
ReAct policy (:func:`fmref.agents.policy.train_react_policy`) are trained the
same way: a seeded :class:`~fmref.models.gpt.GPT`, AdamW through
:func:`fmref.train.loop.fit` on one thread, a linear warm-up then a cosine decay
to a tenth of the peak, weight decay 0.01, gradients clipped at norm 1. Only
their batches and losses differ. :func:`load_gpt` loads a run's weights back,
fresh or from :mod:`fmref.zoo`'s cache (each recipe calls
:func:`fmref.zoo.cached` itself, so that its own module's code enters the key).
"""

from __future__ import annotations

import random

import torch

from fmref.models.gpt import GPT
from fmref.train.loop import cosine_schedule, fit


def fit_gpt(config, batch, loss, s):
    """Train ``GPT(config)`` from ``s["seed"]`` for ``s["steps"]`` steps.

    ``batch(rng)`` draws a batch with ``rng = random.Random(s["seed"])``;
    ``loss(model, batch)`` is the loss; ``s`` also gives ``lr`` (the peak) and
    ``warmup``. Returns ``{"state_dict", "history"}``, the loss at every step.
    """
    from fmref.zoo import one_thread

    torch.manual_seed(s["seed"])
    rng = random.Random(s["seed"])
    model = GPT(config)
    with one_thread():  # the same weights bit for bit whatever the caller's thread count
        history = fit(
            model,
            lambda step: batch(rng),
            loss,
            s["steps"],
            lr=lambda step: cosine_schedule(
                step, min(s["warmup"], s["steps"]), s["steps"], s["lr"], s["lr"] / 10
            ),
            weight_decay=0.01,
            grad_clip=1.0,
        )["loss"]
    return {"state_dict": model.state_dict(), "history": history}


def load_gpt(config, stored):
    """``GPT(config)`` with a run's weights, in eval mode, and the run's history.

    ``stored`` holds ``state_dict`` and ``history``: what :func:`fit_gpt` returns,
    or any recipe's result of that shape, fresh or from :func:`fmref.zoo.cached`.
    """
    model = GPT(config)
    model.load_state_dict(stored["state_dict"])
    return model.eval(), stored["history"]
