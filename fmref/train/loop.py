"""The training loop of fmref: :func:`fit`, and :func:`train` for language models.

:func:`fit` is the one optimiser loop of the package: every model that fmref
trains (the tiny GPT, the digit ViT and CNN, the denoiser, the tiny CLIP and
LMM, the in-context learner, the ReAct policy) is trained by it. Each step
sets the learning rate (a constant or a schedule such as
:func:`cosine_schedule`), computes the loss of the next batch, backpropagates,
clips the global gradient norm and takes an AdamW step; an evaluation hook
runs now and then, and a history of every step comes back for plotting.

:func:`train` is :func:`fit` as a pretraining run does it at toy scale: random
windows of a token stream, AdamW with decoupled weight decay on the weight
matrices only, warm-up + cosine decay, validation on fixed windows. Given the
same seed, two runs give the same history.

:func:`minimize_lbfgs` is the other way fmref fits parameters: a full-batch
quasi-Newton solve of a smooth objective (a convex classifier such as the
injection detector of :mod:`fmref.agents.guard`), not a loop over batches.

References
----------
.. [1] Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
.. [2] Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm
   Restarts", ICLR 2017.
.. [3] Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent
   neural networks", ICML 2013 (gradient clipping).
.. [4] Liu and Nocedal, "On the limited memory BFGS method for large scale
   optimization", Mathematical Programming 45, 1989 (L-BFGS).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from fmref._validate import (
    check_instance,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
    check_tensor,
)
from fmref.train.objectives import causal_lm_loss

__all__ = [
    "TrainConfig",
    "cosine_schedule",
    "configure_optimizer",
    "get_batch",
    "evaluate",
    "fit",
    "epoch_batches",
    "chunk_means",
    "minimize_lbfgs",
    "train",
]


@dataclass
class TrainConfig:
    """Settings of :func:`train`.

    Parameters
    ----------
    steps : int, default 200
        Optimiser steps.
    batch_size : int, default 16
        Sequences per step.
    block_size : int, default 64
        Tokens per sequence (the model's context length or less).
    lr_max : float, default 3e-3
        Peak learning rate, reached at the end of warm-up.
    lr_min : float, default 3e-4
        Learning rate at the end of the cosine decay.
    warmup : int, default 20
        Steps of linear warm-up.
    weight_decay : float, default 0.1
        Decoupled weight decay, applied to weight matrices and embeddings only.
    beta1, beta2 : float, default 0.9, 0.95
        AdamW's moment decay rates (0.95 as in GPT-3 and LLaMA).
    grad_clip : float, default 1.0
        Largest global gradient norm; 0 turns clipping off.
    eval_interval : int, default 50
        Validate every this many steps, and after the last.
    eval_batches : int, default 8
        Batches per validation.
    seed : int, default 0
        Seeds the batch sampler and dropout.
    log_interval : int, default 0
        Print a progress line every this many steps; 0 is silent.

    Raises
    ------
    ValueError
        If a count is not positive, ``lr_min > lr_max`` or ``warmup > steps``.

    Examples
    --------
    >>> from fmref.train.loop import TrainConfig
    >>> TrainConfig(steps=100, warmup=10).lr_max
    0.003
    """

    steps: int = 200  # optimiser steps
    batch_size: int = 16  # sequences per step
    block_size: int = 64  # tokens per sequence
    lr_max: float = 3e-3  # peak learning rate (small models tolerate a large one)
    lr_min: float = 3e-4  # floor of the cosine, lr_max / 10 as in Chinchilla
    warmup: int = 20  # linear warm-up steps
    weight_decay: float = 0.1  # on matrices only, as GPT-3
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.95  # second-moment decay; 0.95 is steadier than 0.999 for LMs
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    eval_interval: int = 50  # steps between validations
    eval_batches: int = 8  # batches per validation
    seed: int = 0  # batches and dropout
    log_interval: int = 0  # steps between progress lines; 0 = silent

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "block_size", "eval_interval", "eval_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0 <= self.warmup <= self.steps:
            raise ValueError(f"warmup must be in [0, steps={self.steps}], got {self.warmup}")
        if not 0 <= self.lr_min <= self.lr_max:
            raise ValueError(f"lr_min must be in [0, lr_max={self.lr_max}], got {self.lr_min}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> TrainConfig:
        """The config of a recipe's settings: its keys that name a field, then ``overrides``.

        A recipe keeps model and training settings in one dict (hashed as its
        cache key, e.g. :data:`fmref.zoo.TINY_GPT_SETTINGS`); the keys that are
        not fields of this class (``n_layer``, ``vocab_size``, ...) are left out.

        Parameters
        ----------
        settings : mapping
            The recipe's settings.
        **overrides
            Fields to set whatever ``settings`` says (e.g. a seed per run).

        Returns
        -------
        TrainConfig

        Raises
        ------
        TypeError
            If ``settings`` is not a mapping or an override is not a field.

        Examples
        --------
        >>> from fmref.train.loop import TrainConfig
        >>> config = TrainConfig.from_settings({"n_layer": 2, "steps": 40, "warmup": 4}, seed=3)
        >>> config.steps, config.warmup, config.seed
        (40, 4, 3)
        """
        check_instance("settings", settings, Mapping)
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in settings.items() if k in names}, **overrides})


def cosine_schedule(step: int, warmup: int, total: int, lr_max: float, lr_min: float) -> float:
    r"""Learning rate at ``step``: linear warm-up, then cosine decay to ``lr_min``.

    .. math::
       \eta(s) = \begin{cases}
       \eta_{\max} \frac{s + 1}{w} & s < w \\
       \eta_{\min} + \tfrac12 (\eta_{\max} - \eta_{\min})
       \left(1 + \cos \pi \frac{s - w}{S - w}\right) & w \le s < S \\
       \eta_{\min} & s \ge S
       \end{cases}

    Parameters
    ----------
    step : int
        Current step, from 0.
    warmup : int
        Warm-up steps ``w`` (0 for none).
    total : int
        Step ``S`` at which the decay reaches ``lr_min``.
    lr_max, lr_min : float
        Peak and final learning rates.

    Returns
    -------
    float
        The learning rate.

    Raises
    ------
    ValueError
        If ``step`` is negative, ``warmup > total`` or ``lr_min > lr_max``.

    References
    ----------
    .. [1] Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm
       Restarts", ICLR 2017.

    Examples
    --------
    >>> from fmref.train.loop import cosine_schedule
    >>> [round(cosine_schedule(s, 2, 10, 1.0, 0.1), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.55, 0.1]
    >>> cosine_schedule(0, 2, 10, lr_max=0.1, lr_min=1.0)
    Traceback (most recent call last):
    ...
    ValueError: lr_min must be <= lr_max=0.1, got 1.0
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not 0 <= warmup <= total:
        raise ValueError(f"warmup must be in [0, total={total}], got {warmup}")
    if lr_min > lr_max:
        raise ValueError(f"lr_min must be <= lr_max={lr_max}, got {lr_min}")
    if step < warmup:
        return lr_max * (step + 1) / warmup
    if step >= total:
        return lr_min
    progress = (step - warmup) / (total - warmup)  # 0 -> 1
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * progress))


def configure_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings, none on biases and norms.

    Decay pulls weights towards 0; on a bias or a normalisation gain (1-D
    parameters) it only hurts. The rule is nanoGPT's: a parameter decays if
    it has two or more dimensions. Tied parameters are counted once.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    lr : float
        Learning rate.
    weight_decay : float, optional
        Decoupled decay for the decayed group (default 0.1).
    betas : (float, float), optional
        Adam's moment decay rates.

    Returns
    -------
    torch.optim.AdamW
        With two parameter groups: decayed first, then not decayed.

    References
    ----------
    .. [1] Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    Examples
    --------
    >>> from torch import nn
    >>> from fmref.train.loop import configure_optimizer
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    >>> opt = configure_optimizer(model, lr=1e-3)
    >>> [len(g["params"]) for g in opt.param_groups]  # 2 weights | 2 biases + LayerNorm
    [2, 4]
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.1, 0.0]
    """
    check_positive("lr", lr)
    check_number("weight_decay", weight_decay, low=0)
    params = [p for p in model.parameters() if p.requires_grad]  # tied ones once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random windows of a token stream: ``(batch_size, block_size)``.

    Parameters
    ----------
    data : torch.Tensor
        1-D integer token ids, longer than ``block_size``.
    batch_size, block_size : int
        Number and length of windows.
    generator : torch.Generator, optional
        Chooses the start positions.

    Returns
    -------
    torch.Tensor
        ``(batch_size, block_size)`` int64.

    Raises
    ------
    ValueError
        If ``data`` is not 1-D or not longer than ``block_size``.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.loop import get_batch
    >>> g = torch.Generator().manual_seed(0)
    >>> get_batch(torch.arange(100), batch_size=2, block_size=4, generator=g)
    tensor([[57, 58, 59, 60],
            [82, 83, 84, 85]])
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("block_size", block_size)
    if not isinstance(data, torch.Tensor) or data.dim() != 1 or len(data) <= block_size:
        raise ValueError(f"data must be a 1-D tensor longer than block_size={block_size}")
    starts = torch.randint(len(data) - block_size + 1, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    return data[starts[:, None] + offsets].long()  # (B, T)


LossFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _lm_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return causal_lm_loss(model(batch), batch)  # (B, T, V) against (B, T)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    batches: int,
    loss_fn: LossFn | None = None,
) -> float:
    """Mean loss over fixed, evenly spaced windows of ``data`` (the same every call).

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in eval mode; its mode is restored afterwards.
    data : torch.Tensor
        1-D token ids, longer than ``block_size``.
    batch_size, block_size, batches : int
        ``batches`` batches of ``batch_size`` windows of ``block_size`` tokens.
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar``; default the causal LM loss.

    Returns
    -------
    float
        Mean loss (nats per token for the default loss).

    Raises
    ------
    ValueError
        If ``data`` is not 1-D or not longer than ``block_size``.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.train.loop import evaluate
    >>> class Uniform(torch.nn.Module):  # same score for each of 10 tokens
    ...     def forward(self, idx):
    ...         return torch.zeros(*idx.shape, 10)
    >>> loss = evaluate(Uniform(), torch.arange(100) % 10, 4, 8, batches=2)
    >>> round(loss, 4) == round(math.log(10), 4)
    True
    """
    check_positive_int("batches", batches)
    if not isinstance(data, torch.Tensor) or data.dim() != 1 or len(data) <= block_size:
        raise ValueError(f"data must be a 1-D tensor longer than block_size={block_size}")
    loss_fn = loss_fn or _lm_loss
    was_training = model.training
    model.eval()
    n = batch_size * batches
    starts = torch.linspace(0, len(data) - block_size, n).long()  # (n,) evenly spaced
    windows = data[starts[:, None] + torch.arange(block_size)].long()  # (n, T)
    total = sum(loss_fn(model, w).item() for w in windows.split(batch_size))
    model.train(was_training)
    return total / batches


def _next_batch(batches) -> Callable[[int], object]:
    """``batches`` as a function of the step: itself if callable, else its iterator's next."""
    if callable(batches):
        return batches
    iterator = iter(batches)

    def next_batch(step):
        try:
            return next(iterator)
        except StopIteration:
            raise ValueError(f"batches ran out after {step} steps") from None

    return next_batch


def fit(
    model: nn.Module,
    batches,
    loss_fn: LossFn,
    steps: int,
    lr: float | Callable[[int], float] = 1e-3,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    decay: str = "all",
    grad_clip: float = 0.0,
    eval_fn: Callable[[nn.Module], object] | None = None,
    eval_every: int = 0,
    after_step: Callable[[nn.Module], None] | None = None,
    seed: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    fused: bool = False,
    log_every: int = 0,
) -> dict:
    """Train ``model`` for ``steps`` optimiser steps; return the history.

    Each step: set the learning rate, take the next batch, compute
    ``loss_fn(model, batch)``, backpropagate, clip the global gradient norm,
    take an optimiser step (AdamW unless ``optimizer`` is given), call
    ``after_step``. Every ``eval_every`` steps and after the last,
    ``eval_fn(model)`` runs in eval mode without gradients and its result is
    recorded. The model trains in train mode and gets its mode back at the end.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place: its parameters that require a gradient.
    batches : iterable or callable
        The batches, in order, or ``batches(step) -> batch`` (step from 0).
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``.
    steps : int
        Optimiser steps.
    lr : float or callable, default 1e-3
        The learning rate, or ``lr(step) -> float`` (a schedule, e.g. built on
        :func:`cosine_schedule`), read before each step.
    weight_decay : float, default 0.0
        AdamW's decoupled weight decay.
    betas : (float, float), default (0.9, 0.999)
        AdamW's moment decay rates.
    decay : {"all", "matrices"}, default "all"
        Decay every parameter, or only those with two or more dimensions
        (:func:`configure_optimizer`).
    grad_clip : float, default 0.0
        Largest global gradient norm; 0 turns clipping off (the norm is still
        recorded).
    eval_fn : callable, optional
        ``eval_fn(model) -> value``, recorded in ``history["eval"]``.
    eval_every : int, default 0
        Evaluate every this many steps; 0 evaluates after the last step only.
    after_step : callable, optional
        ``after_step(model)``, called without gradients after every optimiser
        step (e.g. to clamp a parameter).
    seed : int, optional
        Seeds torch's global RNG (dropout and any draw without a generator)
        inside a fork, so the caller's random state is untouched; ``None``
        uses the caller's RNG as it is.
    optimizer : torch.optim.Optimizer, optional
        Use this optimiser instead of building AdamW from ``lr``,
        ``weight_decay``, ``betas`` and ``decay``; ``lr`` still sets its
        learning rate each step.
    fused : bool, default False
        Build the AdamW with ``fused=True``: one kernel updates every parameter,
        instead of a Python loop over them (a small model's step is then about
        1 ms shorter on a CPU; the update agrees with the loop's to rounding).
    log_every : int, default 0
        Print a progress line every this many steps and after the last; 0 is silent.

    Returns
    -------
    dict
        ``step``, ``lr``, ``loss``, ``grad_norm`` (one entry per step),
        ``eval_step``, ``eval`` (one per evaluation), and ``seconds``, the
        wall time of the run (the only entry that varies between runs).

    Raises
    ------
    ValueError
        If ``steps`` is not a positive int, ``eval_every`` or ``log_every`` is
        negative, ``decay`` is unknown, or ``batches`` runs out early.

    Examples
    --------
    A linear model learns ``y = 2x`` from a batch function, with warm-up and
    cosine decay:

    >>> import torch
    >>> from fmref.train.loop import cosine_schedule, fit
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> def batch(step):
    ...     x = torch.linspace(-1, 1, 8)[:, None]
    ...     return x, 2 * x
    >>> def mse(model, batch):
    ...     x, y = batch
    ...     return ((model(x) - y) ** 2).mean()
    >>> history = fit(model, batch, mse, steps=60, eval_every=15,
    ...               lr=lambda s: cosine_schedule(s, 5, 60, 0.1, 0.0),
    ...               eval_fn=lambda m: round(m.weight.item(), 3))
    >>> history["eval_step"], history["eval"]
    ([15, 30, 45, 60], [1.207, 1.96, 2.084, 2.084])
    >>> [round(lr, 3) for lr in history["lr"][:6]]  # warm-up, then decay
    [0.02, 0.04, 0.06, 0.08, 0.1, 0.1]
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    for name, value in (("eval_every", eval_every), ("log_every", log_every)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if decay not in ("all", "matrices"):
        raise ValueError(f"decay must be 'all' or 'matrices', got {decay!r}")
    if not isinstance(fused, bool):
        raise TypeError(f"fused must be a bool, got {type(fused).__name__}")
    schedule = lr if callable(lr) else lambda step: lr
    if optimizer is None and decay == "matrices":
        optimizer = configure_optimizer(model, schedule(0), weight_decay, betas)
    elif optimizer is None:
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params, lr=schedule(0), betas=betas, weight_decay=weight_decay, fused=fused
        )
    next_batch = _next_batch(batches)
    history: dict = {k: [] for k in ("step", "lr", "loss", "grad_norm", "eval_step", "eval")}
    start = time.perf_counter()
    was_training = model.training
    with torch.random.fork_rng(devices=[], enabled=seed is not None), torch.enable_grad():
        if seed is not None:
            torch.manual_seed(seed)  # dropout
        model.train()
        for step in range(steps):
            rate = schedule(step)
            for group in optimizer.param_groups:
                group["lr"] = rate
            loss = loss_fn(model, next_batch(step))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip or math.inf)
            optimizer.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step(model)
            done = step + 1
            for key, value in (
                ("step", done),
                ("lr", rate),
                ("loss", loss.item()),
                ("grad_norm", grad_norm.item()),
            ):
                history[key].append(value)
            line = f"step {done:>5}/{steps}  loss {loss.item():.4f}  lr {rate:.2e}"
            if eval_fn is not None and ((eval_every and done % eval_every == 0) or done == steps):
                model.eval()
                with torch.no_grad():
                    result = eval_fn(model)
                model.train()
                history["eval_step"].append(done)
                history["eval"].append(result)
                line += f"  eval {result:.4f}" if isinstance(result, float) else ""
            if log_every and (done % log_every == 0 or done == steps):
                print(line, flush=True)
    model.train(was_training)
    history["seconds"] = time.perf_counter() - start
    return history


def epoch_batches(
    n: int, batch_size: int, epochs: int, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Index batches of ``epochs`` passes over ``n`` examples, shuffled anew each epoch.

    The shuffle of an epoch is drawn when its first batch is taken, so draws
    that the loss makes from the same ``generator`` interleave with it.

    Parameters
    ----------
    n : int
        Examples.
    batch_size : int
        Indices per batch; an epoch's last batch may be smaller.
    epochs : int
        Passes.
    generator : torch.Generator, optional
        Draws the permutations.

    Yields
    ------
    torch.Tensor
        int64 indices, ``ceil(n / batch_size)`` batches per epoch.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.loop import epoch_batches
    >>> g = torch.Generator().manual_seed(0)
    >>> [b.tolist() for b in epoch_batches(5, 2, epochs=2, generator=g)]
    [[4, 0], [1, 3], [2], [3, 4], [0, 1], [2]]
    """
    check_positive_int("n", n)
    check_positive_int("batch_size", batch_size)
    check_int("epochs", epochs, low=0)
    for _ in range(epochs):
        yield from torch.randperm(n, generator=generator).split(batch_size)


def chunk_means(values: list[float], size: int) -> list[float]:
    """Means of consecutive chunks of ``size`` values (a last, shorter chunk is dropped).

    Turns :func:`fit`'s per-step losses into a per-epoch curve, or one point
    per ``size`` steps.

    Parameters
    ----------
    values : list of float
        E.g. ``fit(...)["loss"]``.
    size : int
        Values per chunk (steps per epoch).

    Returns
    -------
    list of float
        ``len(values) // size`` means.

    Raises
    ------
    ValueError
        If ``size`` is not a positive int.

    Examples
    --------
    >>> from fmref.train.loop import chunk_means
    >>> chunk_means([4.0, 2.0, 1.0, 1.0, 0.5], 2)
    [3.0, 1.0]
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return [sum(values[i : i + size]) / size for i in range(0, len(values) - size + 1, size)]


def minimize_lbfgs(
    objective: Callable[[], torch.Tensor],
    params: list[torch.Tensor],
    steps: int = 50,
    *,
    history_size: int = 100,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
) -> float:
    """Minimise a smooth full-batch objective over ``params`` with L-BFGS.

    Where :func:`fit` takes many noisy steps on mini-batches, this solves a
    small deterministic problem (every example in every evaluation) with
    :class:`torch.optim.LBFGS` and a strong-Wolfe line search: a quasi-Newton
    method that builds a curvature estimate from the last ``history_size``
    gradient differences. On a convex objective the optimum it reaches does not
    depend on the solver, so it can be checked against another library's.

    Parameters
    ----------
    objective : callable
        ``objective()`` returns the scalar loss computed from ``params`` (it may
        be called several times per iteration by the line search).
    params : list of torch.Tensor
        Floating-point leaf tensors with ``requires_grad=True``, updated in place.
    steps : int, default 50
        Iterations at most (``max_iter`` of :class:`torch.optim.LBFGS`).
    history_size : int, default 100
        Curvature pairs kept.
    tolerance_grad : float, default 1e-7
        Stop when the largest gradient entry falls to this.
    tolerance_change : float, default 1e-9
        Stop when the loss or the step changes by less than this.

    Returns
    -------
    float
        The objective at the final parameters.

    Raises
    ------
    TypeError
        If ``objective`` is not callable or ``params`` is not a list of tensors.
    ValueError
        If ``params`` is empty or holds a tensor that is not a floating-point
        leaf requiring gradients, or a size or tolerance is not positive.

    Examples
    --------
    Rosenbrock's function :math:`(1 - x)^2 + 100 (y - x^2)^2` has its minimum
    0 at (1, 1):

    >>> import torch
    >>> from fmref.train.loop import minimize_lbfgs
    >>> xy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    >>> def rosenbrock():
    ...     return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
    >>> loss = minimize_lbfgs(rosenbrock, [xy], steps=100, tolerance_grad=1e-12,
    ...                       tolerance_change=1e-15)
    >>> print(f"minimum {loss:.1e} at ({xy[0]:.6f}, {xy[1]:.6f})")
    minimum 2.6e-18 at (1.000000, 1.000000)
    """
    if not callable(objective):
        raise TypeError(f"objective must be a callable returning the loss, "
                        f"got {type(objective).__name__}")
    check_instance("params", params, (list, tuple))
    if not params:
        raise ValueError("params must hold at least one tensor, got none")
    for i, p in enumerate(params):
        check_tensor(f"params[{i}]", p, dtype="float")
        if not (p.is_leaf and p.requires_grad):
            raise ValueError(f"params[{i}] must be a leaf tensor with requires_grad=True")
    check_positive_int("steps", steps)
    check_positive_int("history_size", history_size)
    check_positive("tolerance_grad", tolerance_grad)
    check_positive("tolerance_change", tolerance_change)
    optimizer = torch.optim.LBFGS(
        params,
        max_iter=steps,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        history_size=history_size,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(objective())


def train(
    model: nn.Module,
    train_data: torch.Tensor,
    config: TrainConfig | None = None,
    val_data: torch.Tensor | None = None,
    loss_fn: LossFn | None = None,
) -> dict:
    """Train ``model`` on random windows of ``train_data``; return the history.

    :func:`fit` with a pretraining recipe: each step draws a batch of random
    windows (:func:`get_batch`), the learning rate follows
    :func:`cosine_schedule`, the global gradient norm is clipped, and AdamW
    decays the weight matrices only (:func:`configure_optimizer`). Every
    ``eval_interval`` steps and after the last, the loss on ``val_data``
    (fixed windows, see :func:`evaluate`) is recorded. The global RNG is
    seeded from ``config.seed`` inside a fork, so the caller's random state is
    untouched and the same seed gives the same history.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, T)`` ids to ``(B, T, V)`` logits for the default loss.
    train_data : torch.Tensor
        1-D token ids.
    config : TrainConfig, optional
        Settings (default ``TrainConfig()``).
    val_data : torch.Tensor, optional
        1-D token ids for validation; none if omitted.
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar loss``; default the causal LM loss.

    Returns
    -------
    dict
        ``step``, ``lr``, ``train_loss``, ``grad_norm`` (one entry per step),
        ``val_step``, ``val_loss`` (one per validation), and ``seconds``, the
        wall time of the run (the only entry that varies between runs).

    Raises
    ------
    ValueError
        If ``train_data`` or ``val_data`` is not a 1-D tensor longer than ``block_size``.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.train.loop import TrainConfig, train
    >>> data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7] * 64)  # a pattern to learn
    >>> model = GPT(GPTConfig(vocab_size=8, block_size=16, n_layer=1, n_head=2, n_embd=32))
    >>> config = TrainConfig(steps=30, batch_size=8, block_size=16, lr_max=1e-2,
    ...                      warmup=5, eval_interval=10, eval_batches=2)
    >>> history = train(model, data, config, val_data=data)
    >>> history["val_step"]
    [10, 20, 30]
    >>> history["val_loss"][-1] < 0.1 < history["train_loss"][0]
    True
    """
    config = config or TrainConfig()
    loss_fn = loss_fn or _lm_loss
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data is not None and (
            not isinstance(data, torch.Tensor) or data.dim() != 1 or len(data) <= config.block_size
        ):
            raise ValueError(
                f"{name} must be a 1-D tensor longer than block_size={config.block_size}"
            )
    c = config
    generator = torch.Generator().manual_seed(c.seed)

    def validate(model):
        return evaluate(model, val_data, c.batch_size, c.block_size, c.eval_batches, loss_fn)

    history = fit(
        model,
        lambda step: get_batch(train_data, c.batch_size, c.block_size, generator),
        loss_fn,
        c.steps,
        lr=lambda step: cosine_schedule(step, c.warmup, c.steps, c.lr_max, c.lr_min),
        weight_decay=c.weight_decay,
        betas=(c.beta1, c.beta2),
        decay="matrices",
        grad_clip=c.grad_clip,
        eval_fn=None if val_data is None else validate,
        eval_every=c.eval_interval,
        seed=c.seed,
        log_every=c.log_interval,
    )
    return {
        "step": history["step"],
        "lr": history["lr"],
        "train_loss": history["loss"],
        "grad_norm": history["grad_norm"],
        "val_step": history["eval_step"],
        "val_loss": history["eval"],
        "config": asdict(config),
        "seconds": history["seconds"],
    }
