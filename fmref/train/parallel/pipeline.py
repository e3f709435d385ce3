"""Pipeline parallelism of a Llama with ``torch.distributed.pipelining``.

The layers are cut into ``p`` consecutive stages, one per rank
(:class:`LlamaStage`); the first also holds the embedding, the last the
final norm and output head. Each global batch is cut into ``m``
micro-batches; a stage receives a micro-batch's activations from the
previous stage, runs its layers and sends the result on, and the gradients
come back the same way. torch's schedules decide the order:
``ScheduleGPipe`` runs all forward passes, then all backward passes
(Huang et al. 2019); ``Schedule1F1B`` alternates one forward and one
backward once the pipeline is full (Narayanan et al. 2021), which keeps at
most ``p`` micro-batches' activations alive instead of ``m``. Both leave each
stage idle for ``(p - 1)/(m + p - 1)`` of the step
(:func:`fmref.train.parallel.formulas.pipeline_bubble`); :func:`record_schedule`
times what each stage actually did.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist
from torch import nn

from fmref._validate import check_in, check_instance, check_int, check_positive_int
from fmref.nn.attention import causal_mask

__all__ = ["SCHEDULES", "LlamaStage", "record_schedule", "idle_fraction"]

SCHEDULES = ("gpipe", "1f1b")


class LlamaStage(nn.Module):
    """Consecutive blocks of a :class:`~fmref.models.llama.Llama`, as one pipeline stage.

    The modules are the model's own (not copies) and keep their names
    (``layers.2.attention.q_proj.weight``), so the stages' state dicts
    together are the model's.

    Parameters
    ----------
    model : fmref.models.llama.Llama
        A plain Llama (no sliding window, no RoPE scaling).
    stage : int
        This stage, ``0 <= stage < n_stages``.
    n_stages : int
        Stages; it must divide ``n_layers``.

    Attributes
    ----------
    layers : torch.nn.ModuleDict
        The stage's blocks, keyed by their index in the model.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`~fmref.models.llama.Llama`.
    ValueError
        If ``n_stages`` does not divide the layers or ``stage`` is out of range.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.llama import Llama, LlamaConfig
    >>> from fmref.train.parallel.pipeline import LlamaStage
    >>> model = Llama(LlamaConfig(256, 32, 4, 4, 2, 64, 16))
    >>> stages = [LlamaStage(model, s, 2) for s in range(2)]
    >>> sorted(stages[1].layers), hasattr(stages[0], "tok_embeddings")
    (['2', '3'], True)
    >>> idx = torch.randint(256, (2, 16))
    >>> torch.equal(stages[1](stages[0](idx)), model(idx))
    True
    """

    def __init__(self, model, stage, n_stages):
        super().__init__()
        from fmref.models.llama import Llama

        check_instance("model", model, Llama)
        n_layers = len(model.layers)
        p = check_positive_int("n_stages", n_stages)
        check_int("stage", stage, low=0, high=p - 1)
        if n_layers % p:
            raise ValueError(f"n_stages must divide the {n_layers} layers, got {p}")
        per = n_layers // p
        self.first, self.last = stage == 0, stage == p - 1
        self.layers = nn.ModuleDict(
            {str(i): model.layers[i] for i in range(stage * per, (stage + 1) * per)}
        )
        if self.first:
            self.tok_embeddings = model.tok_embeddings
        if self.last:
            self.norm, self.output = model.norm, model.output
        self.register_buffer("rope", model.rope, persistent=False)

    def forward(self, x):
        if self.first:
            x = self.tok_embeddings(x)  # (B, T) ids -> (B, T, C)
        T = x.shape[1]
        mask = causal_mask(T, T, device=x.device)
        for block in self.layers.values():
            x = block(x, self.rope, mask)  # (B, T, C)
        return self.output(self.norm(x)) if self.last else x


def record_schedule(stage, events):
    """Time every forward and backward pass that a ``PipelineStage`` runs.

    Wraps the stage's ``forward_one_chunk`` and ``backward_one_chunk`` so
    that each call appends ``(kind, micro_batch, start, end)`` to ``events``
    (``kind`` is ``"F"`` or ``"B"``, times from ``time.perf_counter()``).

    Parameters
    ----------
    stage : torch.distributed.pipelining.PipelineStage
        The stage (any object with those two methods).
    events : list
        Where the records go.

    Returns
    -------
    object
        ``stage``, wrapped in place.

    Raises
    ------
    TypeError
        If ``stage`` lacks those methods or ``events`` is not a list.

    Examples
    --------
    >>> from fmref.train.parallel.pipeline import record_schedule
    >>> class Stage:
    ...     def forward_one_chunk(self, i, *args, **kwargs): return i
    ...     def backward_one_chunk(self, i, *args, **kwargs): return None
    >>> events = []
    >>> stage = record_schedule(Stage(), events)
    >>> stage.forward_one_chunk(0, ()), stage.backward_one_chunk(0)
    (0, None)
    >>> [(kind, mb) for kind, mb, t0, t1 in events]
    [('F', 0), ('B', 0)]
    """
    if not all(hasattr(stage, n) for n in ("forward_one_chunk", "backward_one_chunk")):
        raise TypeError(f"stage must be a pipeline stage, got {type(stage).__name__}")
    check_instance("events", events, list)
    for kind, name in (("F", "forward_one_chunk"), ("B", "backward_one_chunk")):
        original = getattr(stage, name)

        def timed(chunk, *args, _original=original, _kind=kind, **kwargs):
            start = time.perf_counter()
            out = _original(chunk, *args, **kwargs)
            events.append((_kind, chunk, start, time.perf_counter()))
            return out

        setattr(stage, name, timed)
    return stage


def idle_fraction(events, start, end):
    """Fraction of ``[start, end]`` that no recorded pass covers.

    Parameters
    ----------
    events : list of tuple
        ``(kind, micro_batch, start, end)`` records (:func:`record_schedule`).
    start, end : float
        The step's span.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``end <= start``.

    Examples
    --------
    >>> from fmref.train.parallel.pipeline import idle_fraction
    >>> idle_fraction([("F", 0, 1.0, 2.0), ("B", 0, 3.0, 4.0)], 0.0, 4.0)
    0.5
    """
    if not end > start:
        raise ValueError(f"end must be after start, got start={start}, end={end}")
    busy = sum(min(t1, end) - max(t0, start) for _, _, t0, t1 in events if t1 > start and t0 < end)
    return 1.0 - busy / (end - start)


class _PrecomputedGrads(torch.autograd.Function):
    """A loss whose backward pass hands the parameters gradients computed already.

    The schedule runs the forward and backward passes itself; :func:`fit`
    then calls ``backward()`` on the loss it is given. This function makes
    that call deliver the schedule's gradients, unchanged (times 1.0).
    """

    @staticmethod
    def forward(ctx, loss, grads, *params):
        ctx.grads = grads
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        return (None, None, *(grad * g for g in ctx.grads))


def _run_pipeline(settings):
    """Train the tiny Llama as a pipeline of one stage per rank; record the schedule."""
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

    from fmref.train.objectives import causal_lm_loss
    from fmref.train.parallel.common import _device, _fit, global_batch, tiny_llama

    check_in("schedule", settings.schedule, SCHEDULES)
    p, r, device = dist.get_world_size(), dist.get_rank(), _device()
    model = tiny_llama(settings.n_layers, 0, settings.seq_len, **settings.shape()).to(device)
    module = LlamaStage(model, r, p)
    # static shapes: each stage is told what it receives and sends, so the schedule does
    # not infer them by exchanging objects at its first step
    mb, c = settings.batch_size // settings.micro_batches, model.config
    act = torch.empty(mb, settings.seq_len, c.dim, device=device, requires_grad=True)
    ids = torch.zeros(mb, settings.seq_len, dtype=torch.long, device=device)  # (B/m, T)
    logits = torch.empty(mb, settings.seq_len, c.vocab_size, device=device, requires_grad=True)
    stage = PipelineStage(
        module, r, p, device, input_args=ids if module.first else act,
        output_args=logits if module.last else act,
    )  # fmt: skip
    events = []
    record_schedule(stage, events)
    kind = ScheduleGPipe if settings.schedule == "gpipe" else Schedule1F1B
    schedule = kind(stage, settings.micro_batches, loss_fn=causal_lm_loss)  # mean per micro-batch
    params = list(module.parameters())
    spans = []

    def loss_fn(module, batch):
        for q in params:
            q.grad = None
        losses = []
        dist.barrier()  # every stage starts the step together
        start = time.perf_counter()
        inputs = (batch,) if module.first else ()  # the first stage reads the tokens
        targets = dict(target=batch, losses=losses) if module.last else {}  # the last, the loss
        schedule.step(*inputs, **targets)  # the schedule divides the gradients by m
        spans.append((start, time.perf_counter(), len(events)))
        grads = tuple(q.grad if q.grad is not None else torch.zeros_like(q) for q in params)
        for q in params:
            q.grad = None
        loss = torch.stack(losses).mean() if losses else torch.zeros((), device=device)
        return _PrecomputedGrads.apply(loss.detach(), grads, *params)

    def batch(step):  # every stage reads the batch; only the first and last use it
        return global_batch(step, settings.batch_size, settings.seq_len).to(device)

    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    history = _fit(module, batch, loss_fn, settings, optimizer)
    # the timeline and idle fraction of each step after the first (which infers shapes)
    steps, first = [], 0
    for start, end, n_events in spans:
        mine = events[first:n_events]
        steps.append({
            "idle_fraction": idle_fraction(mine, start, end),
            "events": [(k, mb, t0 - start, t1 - start) for k, mb, t0, t1 in mine],
            "seconds": end - start,
        })  # fmt: skip
        first = n_events
    return dict(model=module, optimizer=optimizer, history=history, owned=module.state_dict(),
                loss_reduce="last", pipeline=steps)  # fmt: skip
