"""Run-to-run variance: the same tiny GPT trained with different random seeds.

Two training runs that differ only in their seed (the initial weights and the
order of the batches) end at different losses. Before crediting a change with
an improvement, compare it with this spread: a difference smaller than the
seed-to-seed standard deviation is not evidence of anything. :func:`seed_runs`
trains a byte-level GPT on :func:`fmref.text.corpus.python_docs` once per seed
(a few seconds each on a CPU) and caches each run with :func:`fmref.zoo.cached`;
:func:`spread` summarises the final losses.
"""

from __future__ import annotations

import math
from typing import Any

from fmref._validate import check_overrides

__all__ = ["SEED_RUN_SETTINGS", "seed_runs", "spread"]

#: Model and training settings of :func:`seed_runs` (bytes as tokens: no tokenizer to train).
SEED_RUN_SETTINGS: dict[str, Any] = {
    "block_size": 32,  # context length in bytes
    "n_layer": 2,
    "n_head": 2,
    "n_embd": 32,
    "steps": 100,  # a few seconds per run on one CPU core
    "batch_size": 16,
    "lr_max": 3e-3,
    "lr_min": 3e-4,
    "warmup": 10,
    "eval_interval": 25,
    "eval_batches": 4,
}


def _train_one(settings, seed):
    import torch

    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.corpus import python_docs
    from fmref.train.loop import TrainConfig, train
    from fmref.zoo import one_thread

    s = settings
    train_ids = torch.tensor(list(python_docs("train").encode("utf-8")), dtype=torch.long)
    val_ids = torch.tensor(list(python_docs("validation").encode("utf-8")), dtype=torch.long)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the initial weights
        model = GPT(
            GPTConfig(
                vocab_size=256,
                block_size=s["block_size"],
                n_layer=s["n_layer"],
                n_head=s["n_head"],
                n_embd=s["n_embd"],
            )
        )
    config = TrainConfig.from_settings(s, seed=seed)  # the seed also sets the batch order
    with one_thread():  # a model this small gains nothing from threads, and loses when shared
        history = train(model, train_ids, config, val_data=val_ids)
    return {k: history[k] for k in ("step", "train_loss", "val_step", "val_loss")}


def seed_runs(seeds=(0, 1, 2, 3, 4), **overrides):
    """Train the same tiny GPT once per seed; return each run's loss curves.

    Parameters
    ----------
    seeds : sequence of int, default (0, 1, 2, 3, 4)
        One run per seed; the seed sets both the initial weights and the batches.
    **overrides
        Settings to change from :data:`SEED_RUN_SETTINGS` (e.g. ``steps=10``).

    Returns
    -------
    dict of int to dict
        ``{seed: history}`` with ``"step"``, ``"train_loss"``, ``"val_step"``
        and ``"val_loss"`` lists (losses in nats per byte).

    Raises
    ------
    ValueError
        If ``seeds`` is empty or an override names an unknown setting.

    Examples
    --------
    >>> from fmref.eval.seeds import seed_runs
    >>> runs = seed_runs(seeds=(0, 1), steps=4, warmup=1, eval_interval=2, eval_batches=1)
    >>> sorted(runs), runs[0]["val_step"]
    ([0, 1], [2, 4])
    >>> runs[0]["val_loss"] != runs[1]["val_loss"]
    True
    """
    from fmref.zoo import cached

    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed, got none")
    settings = check_overrides("overrides", overrides, SEED_RUN_SETTINGS)
    return {
        int(seed): cached(
            "tiny-gpt-seed",
            {**settings, "seed": int(seed)},
            lambda seed=seed: _train_one(settings, int(seed)),
        )
        for seed in seeds
    }


def spread(values):
    """Mean, sample standard deviation, minimum, maximum and range of a few numbers.

    Parameters
    ----------
    values : sequence of float
        E.g. the final validation loss of each seed; at least two.

    Returns
    -------
    dict of str to float
        ``"mean"``, ``"std"`` (with Bessel's correction, ``n - 1``), ``"min"``,
        ``"max"`` and ``"range"``.

    Raises
    ------
    ValueError
        If fewer than two values are given.

    Examples
    --------
    >>> from fmref.eval.seeds import spread
    >>> s = spread([2.0, 2.1, 1.9, 2.0])
    >>> round(s["mean"], 4), round(s["std"], 4), round(s["range"], 4)
    (2.0, 0.0816, 0.2)
    """
    values = [float(v) for v in values]
    if len(values) < 2:
        raise ValueError(f"values must hold at least two numbers, got {len(values)}")
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return {
        "mean": mean,
        "std": std,
        "min": min(values),
        "max": max(values),
        "range": max(values) - min(values),
    }
