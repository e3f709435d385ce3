"""What each parallelism costs: bytes sent, idle time and memory per device.

* :func:`allreduce_bytes` and :func:`collective_bytes`: the bytes one rank
  sends in a ring all-reduce (``2(n - 1)/n`` of the buffer), an all-gather, a
  reduce-scatter, an all-to-all or a point-to-point send;
* :func:`pipeline_bubble`: the idle fraction of a pipeline step for GPipe,
  1F1B, the interleaved schedule and zero-bubble ZB-H1;
* :func:`parallel_memory`: a planner that adds up, for one device of a
  ``dp × tp × pp × cp`` mesh with ``ep``-way expert parallelism and a ZeRO
  stage, the weights, gradients, optimizer states and activations;
* :func:`fitting_layouts`: every layout of ``n`` devices whose most loaded
  device fits in a memory budget, cheapest communication first.

The activation count is Korthikanti et al.'s
(:func:`fmref.train.efficient.activation_memory`, with its tensor- and
sequence-parallel forms); the model-state count is the ZeRO paper's.
"""

from __future__ import annotations

from fmref._validate import check_in, check_number, check_positive, check_positive_int

__all__ = [
    "allreduce_bytes",
    "collective_bytes",
    "pipeline_bubble",
    "pipeline_schedule",
    "parallel_memory",
    "fitting_layouts",
]

ALLREDUCE_ALGORITHMS = ("ring", "halving_doubling", "direct")
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send")
SCHEDULES = ("gpipe", "1f1b", "interleaved", "zb-h1")
RECOMPUTE = ("none", "selective", "full")


def allreduce_bytes(n_ranks, size, algorithm="ring"):
    """Bytes each rank sends to all-reduce a buffer of ``size`` bytes over ``n_ranks``.

    The ring algorithm (Patarasuk & Yuan) is a reduce-scatter followed by an
    all-gather: each of ``n - 1`` steps passes one ``size / n`` chunk to the
    next rank, twice, so every rank sends ``2 (n - 1) / n × size``, almost
    ``2 × size`` whatever ``n``. Recursive halving and doubling (Thakur et al.)
    sends the same bytes in ``2 log2 n`` steps instead of ``2 (n - 1)``; the
    ``direct`` exchange, where every rank sends its whole buffer to every
    other, sends ``(n - 1) × size``.

    Parameters
    ----------
    n_ranks : int
        Ranks taking part, at least 1.
    size : float
        Bytes of the buffer on each rank.
    algorithm : {"ring", "halving_doubling", "direct"}, default "ring"
        How the reduction travels.

    Returns
    -------
    float
        Bytes sent by each rank (0 for one rank).

    Raises
    ------
    ValueError
        If ``n_ranks`` is not a positive int, ``size`` is negative, or the
        algorithm is unknown (``halving_doubling`` needs a power of two).

    References
    ----------
    .. [1] Patarasuk and Yuan, "Bandwidth Optimal All-reduce Algorithms for
       Clusters of Workstations", JPDC 2009.
    .. [2] Thakur, Rabenseifner and Gropp, "Optimization of Collective
       Communication Operations in MPICH", IJHPCA 2005.

    Examples
    --------
    >>> from fmref.train.parallel.formulas import allreduce_bytes
    >>> [allreduce_bytes(n, 1000) for n in (1, 2, 4, 8, 64)]  # a ring: 2(n-1)/n of the buffer
    [0.0, 1000.0, 1500.0, 1750.0, 1968.75]
    >>> allreduce_bytes(8, 1000, "direct")  # everyone sends everything to everyone
    7000.0
    """
    n = check_positive_int("n_ranks", n_ranks)
    size = check_number("size", size, low=0)
    check_in("algorithm", algorithm, ALLREDUCE_ALGORITHMS)
    if algorithm == "halving_doubling" and n & (n - 1):
        raise ValueError(f"n_ranks must be a power of two for halving_doubling, got {n}")
    if algorithm == "direct":
        return float((n - 1) * size)
    return 2 * (n - 1) / n * size


def collective_bytes(op, n_ranks, size):
    """Bytes each rank sends in one collective, with bandwidth-optimal algorithms.

    ========================  ==========================  =====================
    collective                ``size`` is                 bytes sent per rank
    ========================  ==========================  =====================
    ``all_reduce`` (ring)     the buffer on each rank     ``2 (n-1)/n × size``
    ``all_gather``            the gathered (full) result  ``(n-1)/n × size``
    ``reduce_scatter``        the full input              ``(n-1)/n × size``
    ``all_to_all``            the rank's input            ``(n-1)/n × size``
    ``send``                  the message                 ``size``
    ========================  ==========================  =====================

    An all-reduce is a reduce-scatter plus an all-gather, which is why
    sequence parallelism, which swaps each of tensor parallelism's
    all-reduces for that pair, sends the same bytes. The all-to-all figure
    assumes the tokens leave evenly for every rank (one ``n``-th stays home).

    Parameters
    ----------
    op : {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send"}
        The collective.
    n_ranks : int
        Ranks in the group.
    size : float
        Bytes, as the table says.

    Returns
    -------
    float
        Bytes sent by each rank.

    Raises
    ------
    ValueError
        If ``op`` is unknown, ``n_ranks`` is not a positive int or ``size`` is negative.

    References
    ----------
    .. [1] Chan et al., "Collective Communication: Theory, Practice, and
       Experience", CCPE 2007.

    Examples
    --------
    >>> from fmref.train.parallel.formulas import collective_bytes
    >>> n, size = 4, 1000
    >>> ag = collective_bytes("all_gather", n, size)
    >>> rs = collective_bytes("reduce_scatter", n, size)
    >>> ag, rs, ag + rs == collective_bytes("all_reduce", n, size)
    (750.0, 750.0, True)
    """
    check_in("op", op, COLLECTIVES)
    n = check_positive_int("n_ranks", n_ranks)
    size = float(check_number("size", size, low=0))
    if op == "all_reduce":
        return allreduce_bytes(n, size)
    if op == "send":
        return size
    return (n - 1) / n * size


def pipeline_bubble(p, m, schedule="1f1b", v=1):
    """Fraction of a pipeline step that a stage spends idle.

    With ``p`` stages, ``m`` micro-batches and forward and backward passes
    that take ``t_f`` and ``t_b`` per micro-batch and stage, GPipe (all
    forwards, then all backwards) and 1F1B (one forward, one backward in
    steady state) both leave each stage idle for ``(p - 1)(t_f + t_b)`` of a
    step that lasts ``(m + p - 1)(t_f + t_b)``: an idle fraction
    ``(p - 1)/(m + p - 1)``. 1F1B only lowers the memory, to ``p`` micro-batches
    in flight instead of ``m``. The interleaved schedule gives each device
    ``v`` smaller stages, which divides the bubble's length by ``v``:
    ``(p - 1)/(v m + p - 1)``. Zero-bubble ZB-H1 splits the backward pass into
    the input gradient ``B`` and the weight gradient ``W`` and fills the
    bubble with ``W`` passes; with ``t_f = t_B = t_W`` its bubble is a third
    of 1F1B's, ``(p - 1)/(3 m + p - 1)``.

    Parameters
    ----------
    p : int
        Pipeline stages (devices).
    m : int
        Micro-batches per step.
    schedule : {"gpipe", "1f1b", "interleaved", "zb-h1"}, default "1f1b"
        The schedule.
    v : int, default 1
        Model chunks per device (``"interleaved"`` only).

    Returns
    -------
    float
        Idle fraction in ``[0, 1)``.

    Raises
    ------
    ValueError
        If ``p``, ``m`` or ``v`` is not a positive int, or ``schedule`` is unknown.

    References
    ----------
    .. [1] Huang et al., "GPipe: Efficient Training of Giant Neural Networks
       using Pipeline Parallelism", NeurIPS 2019.
    .. [2] Narayanan et al., "Efficient Large-Scale Language Model Training on
       GPU Clusters Using Megatron-LM", SC 2021, Section 2.2.
    .. [3] Qi et al., "Zero Bubble (Almost) Pipeline Parallelism", ICLR 2024.

    Examples
    --------
    >>> from fmref.train.parallel.formulas import pipeline_bubble
    >>> [round(pipeline_bubble(4, m), 3) for m in (1, 4, 16, 64)]
    [0.75, 0.429, 0.158, 0.045]
    >>> [round(pipeline_bubble(4, 16, s, v=2), 3) for s in ("interleaved", "zb-h1")]
    [0.086, 0.059]
    """
    p, m, v = (check_positive_int(n, x) for n, x in (("p", p), ("m", m), ("v", v)))
    check_in("schedule", schedule, SCHEDULES)
    work = {"gpipe": m, "1f1b": m, "interleaved": v * m, "zb-h1": 3 * m}[schedule]
    return (p - 1) / (work + p - 1)


def _stage_order(p, m, s, schedule):
    """The passes stage ``s`` runs, in order: ``("F", mb)`` and ``("B", mb)``."""
    if schedule == "gpipe":
        return [("F", i) for i in range(m)] + [("B", i) for i in range(m)]
    warmup = min(p - s - 1, m)  # 1F1B: forwards that fill the pipeline below this stage
    order = [("F", i) for i in range(warmup)]
    for i in range(m - warmup):  # steady state: one forward, then the oldest backward
        order += [("F", warmup + i), ("B", i)]
    return order + [("B", i) for i in range(m - warmup, m)]


def pipeline_schedule(p, m, schedule="1f1b", backward_ratio=2.0):
    """Simulate one pipeline step: when each stage runs each pass, and what it costs.

    Every stage runs its passes in the schedule's order (GPipe: all forwards,
    then all backwards; 1F1B: ``p - s - 1`` warm-up forwards on stage ``s``,
    then one forward and one backward in turn, then the remaining backwards),
    each as soon as the stage is free and its input is ready: the forward of
    micro-batch ``i`` on stage ``s`` needs it on stage ``s - 1``, the backward
    needs it on stage ``s + 1`` (on the last stage, its own forward). A forward
    takes 1 time unit and a backward ``backward_ratio``; messages are free.
    This is the idealised timeline whose idle fraction is
    :func:`pipeline_bubble` for both schedules; the recorded order of fmref's
    real pipeline runs (Chapter XII) is the one simulated here.

    Parameters
    ----------
    p : int
        Stages.
    m : int
        Micro-batches per step.
    schedule : {"gpipe", "1f1b"}, default "1f1b"
        The schedule.
    backward_ratio : float, default 2.0
        Time of a backward pass over a forward pass (about 2: two matrix
        products per forward one).

    Returns
    -------
    dict
        ``events``: per stage, ``(kind, micro_batch, start, end)`` in run order;
        ``step_time``: when the last pass ends; ``idle_fraction``: the share of
        ``p × step_time`` no stage computes; ``peak_in_flight``: per stage, the
        most micro-batches whose forward has run and whose backward has not
        (the activations it must keep).

    Raises
    ------
    ValueError
        If ``p`` or ``m`` is not a positive int, ``schedule`` is not one of the
        two, or ``backward_ratio`` is not positive.

    Examples
    --------
    >>> from fmref.train.parallel.formulas import pipeline_bubble, pipeline_schedule
    >>> r = pipeline_schedule(2, 4, "1f1b")
    >>> [" ".join(f"{k}{i}" for k, i, _, _ in stage) for stage in r["events"]]
    ['F0 F1 B0 F2 B1 F3 B2 B3', 'F0 B0 F1 B1 F2 B2 F3 B3']
    >>> r["step_time"], r["idle_fraction"], pipeline_bubble(2, 4)
    (15.0, 0.2, 0.2)
    >>> [pipeline_schedule(4, 8, s)["peak_in_flight"] for s in ("gpipe", "1f1b")]
    [[8, 8, 8, 8], [4, 3, 2, 1]]
    """
    p, m = check_positive_int("p", p), check_positive_int("m", m)
    check_in("schedule", schedule, ("gpipe", "1f1b"))
    check_positive("backward_ratio", backward_ratio)
    cost = {"F": 1.0, "B": float(backward_ratio)}
    orders = [_stage_order(p, m, s, schedule) for s in range(p)]
    done, events = {}, [[] for _ in range(p)]
    free, nxt = [0.0] * p, [0] * p
    while any(nxt[s] < len(orders[s]) for s in range(p)):
        progressed = False
        for s in range(p):
            while nxt[s] < len(orders[s]):
                kind, i = orders[s][nxt[s]]
                dep = ((s - 1, "F", i) if s > 0 else None) if kind == "F" else (
                    (s + 1, "B", i) if s < p - 1 else (s, "F", i))
                if dep is not None and dep not in done:
                    break
                start = max(free[s], done[dep] if dep is not None else 0.0)
                free[s] = done[(s, kind, i)] = start + cost[kind]
                events[s].append((kind, i, start, free[s]))
                nxt[s] += 1
                progressed = True
        if not progressed:  # pragma: no cover - both orders are deadlock-free
            raise RuntimeError("pipeline schedule deadlocked")
    step = max(free)
    busy = p * m * (cost["F"] + cost["B"])
    peaks = []
    for stage in events:
        live = peak = 0
        for kind, _, _, _ in stage:
            live += 1 if kind == "F" else -1
            peak = max(peak, live)
        peaks.append(peak)
    return {"events": events, "step_time": step, "idle_fraction": (p * step - busy) / (p * step),
            "peak_in_flight": peaks}


def _parameter_parts(model):
    """(dense, expert, embedding) parameters and the shape for activations (or None)."""
    from fmref.models.gpt import GPTConfig
    from fmref.models.llama import LlamaConfig
    from fmref.scaling.params import parameter_breakdown

    if isinstance(model, (GPTConfig, LlamaConfig)):
        parts = parameter_breakdown(model)
        expert = 0
        if getattr(model, "n_experts", 0):
            per = 3 * model.dim * model.hidden_dim
            expert = model.n_layers * model.n_experts * per
        dense = parts["attention"] + parts["feed_forward"] - expert + parts["norms"]
        if isinstance(model, LlamaConfig):
            shape = dict(hidden=model.dim, n_layers=model.n_layers, n_heads=model.n_heads)
        else:
            shape = dict(hidden=model.n_embd, n_layers=model.n_layer, n_heads=model.n_head)
        return dense, expert, parts["embeddings"] + parts["head"], shape
    if isinstance(model, bool) or not isinstance(model, (int, float)):
        raise TypeError(
            f"model must be a number of parameters, a GPTConfig or a LlamaConfig, "
            f"got {type(model).__name__}"
        )
    return float(check_positive("model", model)), 0, 0, None


def parallel_memory(
    model,
    dp=1,
    tp=1,
    pp=1,
    cp=1,
    ep=1,
    zero_stage=0,
    micro_batch=1,
    seq_len=None,
    recompute="selective",
    sequence_parallel=True,
    schedule="1f1b",
    micro_batches=None,
    k=12,
    bytes_param=2,
    bytes_grad=2,
):
    """Bytes on the most loaded device of a parallel training run, by kind.

    The model states follow the ZeRO paper: ``bytes_param + bytes_grad + k``
    bytes per parameter (16 for mixed-precision Adam), of which stage 1
    shards the optimizer states, stage 2 also the gradients, stage 3 also the
    weights, over the ``dp × cp`` ranks that hold the same weights (the
    experts' copies over ``dp × cp / ep`` ranks). Tensor parallelism divides
    every weight matrix by ``tp``, pipeline parallelism the layers by ``pp``
    (the embedding and the output head sit on the first and last stage; the
    first stage, which also holds the most activations, is counted), expert
    parallelism the experts by ``ep``.

    Activations follow Korthikanti et al. (:func:`fmref.train.efficient.activation_memory`)
    on the local sequence ``seq_len / cp``. Under 1F1B the first stage keeps
    ``pp`` micro-batches of its ``L / pp`` layers in flight, the activations
    of ``L`` layers of one micro-batch, whatever ``pp``; under GPipe it keeps
    all ``micro_batches``. With a number of parameters instead of a
    configuration the activations are not counted.

    Parameters
    ----------
    model : float or GPTConfig or LlamaConfig
        Parameters ``Ψ``, or the model's shape (counted by
        :func:`fmref.scaling.params.parameter_breakdown`; the experts of a
        mixture of experts are split by ``ep``).
    dp, tp, pp, cp, ep : int, default 1
        Data-, tensor-, pipeline-, context- and expert-parallel degrees; the
        mesh has ``dp × tp × pp × cp`` devices and ``ep`` divides ``dp × cp``.
    zero_stage : int, default 0
        ZeRO stage 0-3 over the ``dp × cp`` replicas.
    micro_batch : int, default 1
        Sequences per micro-batch.
    seq_len : int, optional
        Sequence length; needed for the activations of a configuration.
    recompute : {"none", "selective", "full"}, default "selective"
        Activation recomputation (selective is what FlashAttention gives).
    sequence_parallel : bool, default True
        Split the norms' and dropouts' activations over ``tp`` too.
    schedule : {"1f1b", "gpipe"}, default "1f1b"
        Pipeline schedule (GPipe needs ``micro_batches``).
    micro_batches : int, optional
        Micro-batches per step (GPipe).
    k : float, default 12
        Optimizer bytes per parameter (Adam with fp32 master weights).
    bytes_param, bytes_grad : float, default 2
        Bytes per weight and per gradient.

    Returns
    -------
    dict
        ``params``, ``grads``, ``optimizer``, ``activations`` and ``total``, in bytes.

    Raises
    ------
    ValueError
        If a degree is not a positive int, ``ep`` does not divide ``dp × cp``,
        ``zero_stage`` is not 0-3, or an option is unknown.
    TypeError
        If ``model`` is neither a number nor a configuration.

    References
    ----------
    .. [1] Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
       Trillion Parameter Models", SC 2020, Table 1.
    .. [2] Korthikanti et al., "Reducing Activation Recomputation in Large
       Transformer Models", MLSys 2023, Table 2 and Section 4.2.3.

    Examples
    --------
    The ZeRO paper's 7.5B model on 64 GPUs (Table 1: 31.4, 16.6 and 1.88 GB):

    >>> from fmref.train.parallel.formulas import parallel_memory
    >>> [round(parallel_memory(7.5e9, dp=64, zero_stage=s)["total"] / 1e9, 2) for s in (1, 2, 3)]
    [31.41, 16.64, 1.88]

    Llama 3 70B on 64 GPUs as tensor 8 × pipeline 4 × data 2 with ZeRO-1, one
    sequence of 8,192 tokens per micro-batch:

    >>> from fmref.models.llama import llama3_70b
    >>> m = parallel_memory(llama3_70b(), dp=2, tp=8, pp=4, zero_stage=1, seq_len=8192)
    >>> {key: round(v / 1e9, 1) for key, v in m.items()}
    {'params': 4.5, 'grads': 4.5, 'optimizer': 13.6, 'activations': 22.8, 'total': 45.5}
    """
    dp, tp, pp, cp, ep = (
        check_positive_int(n, x) for n, x in (("dp", dp), ("tp", tp), ("pp", pp), ("cp", cp),
                                             ("ep", ep))
    )
    check_in("zero_stage", zero_stage, (0, 1, 2, 3))
    check_in("recompute", recompute, RECOMPUTE)
    check_in("schedule", schedule, ("1f1b", "gpipe"))
    check_positive_int("micro_batch", micro_batch)
    for name, v in (("k", k), ("bytes_param", bytes_param), ("bytes_grad", bytes_grad)):
        check_positive(name, v)
    replicas = dp * cp
    if replicas % ep:
        raise ValueError(f"ep must divide dp * cp = {replicas}, got ep={ep}")
    dense, expert, embed, shape = _parameter_parts(model)
    if shape is not None and shape["n_layers"] % pp:
        raise ValueError(f"pp must divide the {shape['n_layers']} layers, got pp={pp}")
    # the first stage: its share of the layers and the embedding table
    local_dense = dense / (tp * pp) + (embed / 2 if pp > 1 else embed) / tp
    local_expert = expert / (tp * pp * ep)
    dense_shards, expert_shards = replicas, replicas // ep

    def kind(per_param, from_stage):
        if zero_stage >= from_stage:
            return per_param * (local_dense / dense_shards + local_expert / expert_shards)
        return per_param * (local_dense + local_expert)

    out = {"params": kind(bytes_param, 3), "grads": kind(bytes_grad, 2), "optimizer": kind(k, 1)}
    activations = 0
    if shape is not None and seq_len is not None:
        from fmref.train.efficient import activation_memory

        s = check_positive_int("seq_len", seq_len)
        if s % cp:
            raise ValueError(f"cp must divide seq_len={s}, got cp={cp}")
        if schedule == "gpipe":  # all micro-batches' activations wait for the backward passes
            in_flight = check_positive_int("micro_batches", micro_batches)
        else:  # 1F1B: the first stage starts p forwards before its first backward
            in_flight = pp if micro_batches is None else min(pp, micro_batches)
        per_layer = activation_memory(
            s // cp, micro_batch, shape["hidden"], 1, shape["n_heads"], checkpointing=recompute,
            tensor_parallel=tp, sequence_parallel=sequence_parallel,
        )  # fmt: skip
        activations = per_layer * (shape["n_layers"] // pp) * in_flight
    out["activations"] = activations
    out["total"] = sum(out.values())
    return out


def fitting_layouts(model, n_gpus, gpu_bytes, seq_len, zero_stage=1, max_tp=8, **options):
    """Every ``(dp, tp, pp)`` layout of ``n_gpus`` whose most loaded device fits.

    Tries every factorisation ``n_gpus = dp × tp × pp`` with ``tp <= max_tp``
    (tensor parallelism stays inside a node's fast links) and ``pp`` dividing
    the layers, and keeps those whose :func:`parallel_memory` total is at
    most ``gpu_bytes``. They are sorted by the tensor-parallel degree, then
    the pipeline degree: the least communication on the critical path first.

    Parameters
    ----------
    model : GPTConfig or LlamaConfig
        The model's shape.
    n_gpus : int
        Devices.
    gpu_bytes : float
        Memory of one device, in bytes.
    seq_len : int
        Sequence length.
    zero_stage : int, default 1
        ZeRO stage over the data-parallel replicas.
    max_tp : int, default 8
        Largest tensor-parallel degree (GPUs per node).
    **options
        Passed to :func:`parallel_memory` (``micro_batch``, ``recompute``, ...).

    Returns
    -------
    list of dict
        ``dp``, ``tp``, ``pp`` and ``total`` (bytes) of each layout that fits.

    Raises
    ------
    ValueError
        As :func:`parallel_memory`, or if ``n_gpus`` or ``gpu_bytes`` is not positive.

    Examples
    --------
    Which layouts of 64 GPUs of 80 GB train Llama 3 70B on 8,192-token
    sequences with ZeRO-1?

    >>> from fmref.models.llama import llama3_70b
    >>> from fmref.train.parallel.formulas import fitting_layouts
    >>> for row in fitting_layouts(llama3_70b(), 64, 80e9, seq_len=8192)[:3]:
    ...     print(row["dp"], row["tp"], row["pp"], round(row["total"] / 1e9, 1))
    4 4 4 77.4
    2 4 8 69.7
    1 4 16 66.9
    """
    n = check_positive_int("n_gpus", n_gpus)
    check_positive("gpu_bytes", gpu_bytes)
    check_positive_int("max_tp", max_tp)
    rows = []
    for tp in range(1, min(n, max_tp) + 1):
        for pp in range(1, n // tp + 1):
            if n % (tp * pp):
                continue
            dp = n // (tp * pp)
            try:
                total = parallel_memory(
                    model, dp=dp, tp=tp, pp=pp, zero_stage=zero_stage, seq_len=seq_len, **options
                )["total"]
            except ValueError:
                continue  # pp does not divide the layers
            if total <= gpu_bytes:
                rows.append({"dp": dp, "tp": tp, "pp": pp, "total": total})
    return sorted(rows, key=lambda r: (r["tp"], r["pp"]))
