"""The command line: train with one strategy under torchrun, check it, print one JSON line.

::

    torchrun --nproc-per-node 2 -m fmref.train.parallel --strategy fsdp --steps 4

Every rank validates the layout first (:func:`check_layout`: before any
process group exists, so a wrong world size fails at once with a clear
message), then joins a process group (gloo on CPUs; ``--backend nccl`` on
GPUs), trains :func:`~fmref.train.parallel.common.tiny_llama` with the
strategy, and measures its time per step, the bytes it sent and the
weights, gradients and optimizer states it holds. Rank 0 then trains the same
model in one process on the same global batches
(:func:`~fmref.train.parallel.common.reference_run`) and prints the largest
difference of the final weights, beside the predictions of the formulas.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
from dataclasses import dataclass

import torch
import torch.distributed as dist

from fmref._validate import check_in, check_int, check_positive, check_positive_int

__all__ = ["STRATEGIES", "check_layout", "main", "torchrun_command", "launch", "parallel_runs"]

STRATEGIES = ("ddp", "zero1", "zero2", "fsdp", "tp", "sp", "pp", "cp", "ep")


@dataclass
class _Settings:
    steps: int = 2  # optimizer steps
    batch_size: int = 8  # sequences per global batch
    seq_len: int = 16  # bytes per sequence
    lr: float = 1e-3  # AdamW, no weight decay
    n_layers: int = 2  # blocks of the tiny Llama
    dim: int = 32  # its width (SwiGLU 2 * dim)
    heads: int = 4  # attention heads
    kv_heads: int = 2  # key/value heads (grouped-query attention)
    n_experts: int = 4  # experts per block (ep)
    micro_batches: int = 4  # pipeline micro-batches (pp)
    schedule: str = "1f1b"  # pipeline schedule (pp)
    layout: str = "zigzag"  # sequence split (cp)

    def shape(self):
        """The width and heads, as :func:`~fmref.train.parallel.common.tiny_llama` takes them."""
        return dict(dim=self.dim, n_heads=self.heads, n_kv_heads=self.kv_heads)


def check_layout(
    world_size, tp=1, pp=1, cp=1, ep=1, micro_batches=1, n_experts=0, n_layers=2,
    batch_size=8, seq_len=16, n_heads=4, n_kv_heads=2,
):  # fmt: skip
    """Check that a ``dp × tp × pp × cp`` layout (and ``ep``) fits the world and the model.

    Called before any process group starts, so that a wrong layout fails at
    once on every rank with a message, rather than as a hang or a shape error
    deep inside a collective.

    Parameters
    ----------
    world_size : int
        Processes.
    tp, pp, cp, ep : int, default 1
        Tensor-, pipeline-, context- and expert-parallel degrees; the
        data-parallel degree is ``world_size / (tp pp cp)``.
    micro_batches : int, default 1
        Pipeline micro-batches per step (at least ``pp`` to fill the pipeline).
    n_experts : int, default 0
        Experts per block.
    n_layers, batch_size, seq_len, n_heads, n_kv_heads : int
        The model and the global batch.

    Returns
    -------
    dict
        ``dp``, ``tp``, ``pp``, ``cp``, ``ep``.

    Raises
    ------
    ValueError
        If the degrees do not divide what they split.

    Examples
    --------
    >>> from fmref.train.parallel.run import check_layout
    >>> check_layout(8, tp=2, pp=2, micro_batches=4)
    {'dp': 2, 'tp': 2, 'pp': 2, 'cp': 1, 'ep': 1}
    >>> check_layout(6, tp=4)
    Traceback (most recent call last):
    ...
    ValueError: world_size must be divisible by tp * pp * cp = 4, got world_size=6
    """
    w = check_positive_int("world_size", world_size)
    tp, pp, cp, ep = (check_positive_int(n, v) for n, v in (("tp", tp), ("pp", pp), ("cp", cp),
                                                            ("ep", ep)))  # fmt: skip
    m = check_positive_int("micro_batches", micro_batches)
    check_int("n_experts", n_experts, low=0)
    if w % (tp * pp * cp):
        raise ValueError(
            f"world_size must be divisible by tp * pp * cp = {tp * pp * cp}, got world_size={w}"
        )
    dp = w // (tp * pp * cp)
    for name, n in (("n_heads", n_heads), ("n_kv_heads", n_kv_heads)):
        if n % tp:
            raise ValueError(f"tp must divide {name}={n}, got tp={tp}")
    if n_layers % pp:
        raise ValueError(f"pp must divide n_layers={n_layers}, got pp={pp}")
    if ep > 1 and (not n_experts or n_experts % ep):
        raise ValueError(f"ep must divide n_experts={n_experts}, got ep={ep}")
    if (dp * cp) % ep:
        raise ValueError(f"ep must divide dp * cp = {dp * cp}, got ep={ep}")
    if pp > 1 and m < pp:
        raise ValueError(
            f"micro_batches must be at least the pp={pp} stages to fill the pipeline, got {m}"
        )
    if batch_size % (dp * m):
        raise ValueError(
            f"batch_size must be divisible by dp * micro_batches = {dp * m}, got {batch_size}"
        )
    if cp > 1 and seq_len % (2 * cp):
        raise ValueError(f"seq_len must be a multiple of 2 * cp = {2 * cp}, got {seq_len}")
    return {"dp": dp, "tp": tp, "pp": pp, "cp": cp, "ep": ep}


def _degrees(strategy, world):
    """The layout each strategy runs: its own dimension spans the world."""
    if strategy in ("tp", "sp"):
        return dict(tp=world)
    if strategy in ("pp", "cp"):
        return {strategy: world}
    if strategy == "ep":
        return dict(ep=world)
    return {}


def _parser():
    p = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m fmref.train.parallel",
        description="Train a tiny byte-level Llama with one parallelism strategy and compare "
        "it with single-process training (Chapter XII).",
    )
    d = _Settings()
    p.add_argument("--strategy", required=True,
                   help="one or more of ddp, zero1, zero2, fsdp (ZeRO-3), tp, sp, pp, cp, ep, "
                   "separated by commas")  # fmt: skip
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps ({d.steps})")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"sequences per global batch ({d.batch_size})")  # fmt: skip
    p.add_argument("--seq-len", type=int, default=d.seq_len,
                   help=f"bytes per sequence ({d.seq_len})")  # fmt: skip
    p.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate ({d.lr})")
    p.add_argument("--layers", type=int, default=d.n_layers, help=f"blocks ({d.n_layers})")
    p.add_argument("--dim", type=int, default=d.dim, help=f"model width ({d.dim})")
    p.add_argument("--heads", type=int, default=d.heads, help=f"attention heads ({d.heads})")
    p.add_argument("--kv-heads", type=int, default=d.kv_heads,
                   help=f"key/value heads ({d.kv_heads}); tp must divide both")  # fmt: skip
    p.add_argument("--experts", type=int, default=d.n_experts,
                   help=f"experts per block, ep ({d.n_experts})")  # fmt: skip
    p.add_argument("--micro-batches", default=str(d.micro_batches),
                   help=f"pipeline micro-batches, one count or several, pp "
                   f"({d.micro_batches})")  # fmt: skip
    p.add_argument("--schedule", default=d.schedule,
                   help=f"pipeline schedule(s), gpipe and/or 1f1b, pp ({d.schedule})")  # fmt: skip
    p.add_argument("--layout", default=d.layout,
                   help=f"sequence split(s), zigzag and/or contiguous, cp "
                   f"({d.layout})")  # fmt: skip
    p.add_argument("--backend", default="gloo", help="process-group backend: gloo (CPU) or nccl")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (1)")
    p.add_argument("--timeline", action="store_true",
                   help="add the recorded pipeline schedule of every rank to the JSON "
                   "(pp)")  # fmt: skip
    p.add_argument("--no-check", action="store_true",
                   help="skip the single-process reference run")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def _predicted(strategy, settings, world, model_config, routed=None, gloo=False):
    """Bytes sent per step per rank and state bytes per rank, from the formulas.

    With ``gloo=True`` a reduce-scatter costs what an all-reduce costs: gloo
    has no reduce-scatter of its own and all-reduces the whole buffer
    (measured: 1.0 times the buffer on 2 ranks, where a ring reduce-scatter
    sends 0.5).
    """
    from fmref.scaling.params import parameter_breakdown
    from fmref.train.efficient import zero_memory_per_gpu
    from fmref.train.parallel.formulas import allreduce_bytes, collective_bytes

    def ar(size):
        return allreduce_bytes(world, size)

    def ag(size):
        return collective_bytes("all_gather", world, size)

    def rs(size):
        return ar(size) if gloo else collective_bytes("reduce_scatter", world, size)

    parts = parameter_breakdown(model_config)
    psi = sum(parts.values())
    f32 = 4
    B, T, C, V, L = (settings.batch_size, settings.seq_len, model_config.dim,
                     model_config.vocab_size, model_config.n_layers)  # fmt: skip
    act = B * T * C * f32  # one (B, T, C) float32 activation
    blocks = parts["attention"] + parts["feed_forward"] + 2 * L * C  # with their two norms
    per = dict(k=8, bytes_param=f32, bytes_grad=f32)
    if strategy in ("ddp", "zero1", "zero2", "fsdp"):
        stage = {"ddp": 0, "zero1": 1, "zero2": 2, "fsdp": 3}[strategy]
        if stage == 2:
            per["k"] = 12  # fmref's ZeRO-2 keeps a float32 master shard besides Adam's two
        memory = zero_memory_per_gpu(psi, world, stage, **per)
        grads = f32 * psi
        if stage == 0:
            return ar(grads), memory  # DDP: one all-reduce of the gradients
        if stage == 1:  # all-reduce, then each rank broadcasts its updated shard
            return ar(grads) + ag(grads), memory
        if stage == 2:  # reduce-scatter of the gradients, all-gather of the updated weights
            return rs(grads) + ag(grads), memory
        # FSDP: weights all-gathered forward, the blocks' again backward (the root's stay
        # gathered), gradients reduce-scattered
        return ag(grads) + ag(f32 * blocks) + rs(grads), memory
    if strategy in ("tp", "sp"):
        # attention and MLP matrices split by columns or rows, the embedding and the head
        # over the vocabulary; the norms replicated (their weights are all that stays whole)
        split = parts["attention"] + parts["feed_forward"] + parts["embeddings"] + parts["head"]
        memory = 16 * (split / world + parts["norms"])
        logits = ag(B * T * V * f32)  # the logits gathered along the vocabulary
        if strategy == "tp":
            # forward: an all-reduce after each row-split layer (2 per block) and after the
            # vocabulary-split embedding; backward: one per column-split layer's input
            # gradient (q, k, v and w1, w3: 5 per block, where Megatron's fused QKV and
            # gate-up matrices need 2) and the head's
            return (7 * L + 2) * ar(act) + logits, memory
        # a reduce-scatter and an all-gather per sub-layer, forward and backward (Megatron's
        # 4 all-reduces per block), one pair at the embedding and one at the head, and the
        # norms' weight gradients (sums over the sequence shards) all-reduced
        pairs = 4 * L + 2
        return pairs * (rs(act) + ag(act)) + logits + ar(f32 * parts["norms"]), memory
    if strategy == "pp":
        memory = 16 * (blocks / world + parts["embeddings"])  # stage 0
        return act, memory  # the activations forward (stage 0) or their gradients back
    if strategy == "cp":
        kv = 2 * B * model_config.n_kv_heads * model_config.head_dim * (T // world) * f32
        ring = 2 * L * (world - 1) * kv  # keys and values forward, their gradients back
        return ring + ar(f32 * psi), 16 * psi
    # ep: rows of C floats cross in 4 all-to-alls per layer (dispatch and combine, forward
    # and backward), each row's expert id once; the dense weights' gradients are all-reduced
    experts = L * model_config.n_experts * 3 * C * model_config.hidden_dim
    sent_rows, recv_rows = routed
    sent = 2 * (sent_rows + recv_rows) * C * f32 + 8 * sent_rows
    return sent + ar(f32 * (psi - experts)), 16 * (psi - experts + experts / world)


def _split(text, choices, name):
    items = [t for t in text.split(",") if t]
    if not items:
        raise ValueError(f"{name} must name at least one of {choices}, got {text!r}")
    for item in items:
        check_in(name, item, choices)
    return items


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"micro_batches must be integers separated by commas, got {text!r}"
        ) from None


def main(argv=None):
    """Run strategies under torchrun and print one JSON line per run (rank 0).

    ``--strategy`` takes one name or several separated by commas (they run
    one after the other in the same process group, which saves starting
    Python and torch once per strategy); ``--schedule`` and ``--layout`` may
    list several values too, and ``pp`` and ``cp`` then run once per value.
    Each JSON line holds ``strategy``, ``world_size``, ``steps``,
    ``seconds_per_step`` (the slowest rank), ``state_bytes`` (weights +
    gradients + optimizer states held by each rank after the last step)
    beside ``predicted_state_bytes``, ``bytes_sent_per_step`` (each rank's
    socket writes during training, per step) beside
    ``predicted_bytes_sent_per_step`` (with bandwidth-optimal collectives)
    and ``predicted_bytes_sent_per_step_gloo`` (where a reduce-scatter costs
    gloo's all-reduce), the losses, and ``max_abs_diff``: the
    largest difference of the final weights from the single-process run.
    ``pp`` adds the measured and predicted idle fractions (and with
    ``--timeline`` the recorded schedule), ``cp`` the attention work per
    rank, ``ep`` the token rows sent.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``); ``--help`` lists them.

    Returns
    -------
    list of dict or None
        The summaries on rank 0, None on the other ranks.

    Raises
    ------
    ValueError
        If a layout does not fit (:func:`check_layout`), a name is unknown
        or a number is not positive, before any process group starts.

    Examples
    --------
    Without torchrun's variables it runs on one process (world size 1):

    >>> from fmref.train.parallel.run import main
    >>> [run] = main(["--strategy", "fsdp", "--steps", "1", "--no-check", "--quiet"])
    >>> run["world_size"], run["state_bytes"], run["predicted_state_bytes"]
    (1, [559616], 559616.0)
    """
    args = _parser().parse_args(argv)
    strategies = _split(args.strategy, STRATEGIES, "strategy")
    schedules = _split(args.schedule, ("gpipe", "1f1b"), "schedule")
    layouts = _split(args.layout, ("zigzag", "contiguous"), "layout")
    counts = [check_positive_int("micro_batches", _int(c)) for c in args.micro_batches.split(",")]
    for name in ("steps", "batch_size", "seq_len", "layers", "dim", "heads", "kv_heads"):
        check_positive_int(name, getattr(args, name))
    if args.dim % (2 * args.heads):
        raise ValueError(f"dim must be a multiple of 2 * heads = {2 * args.heads} (heads of even "
                         f"size, for RoPE), got {args.dim}")  # fmt: skip
    if args.heads % args.kv_heads:
        raise ValueError(f"kv_heads must divide heads={args.heads}, got {args.kv_heads}")
    check_int("experts", args.experts, low=1)
    check_positive("lr", args.lr)
    check_positive_int("threads", args.threads)
    check_in("backend", args.backend, ("gloo", "nccl"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    runs = []
    for strategy in strategies:
        variants = [(s, m, "zigzag") for s in schedules for m in counts]  # pp
        if strategy == "cp":
            variants = [("1f1b", 1, layout) for layout in layouts]
        elif strategy != "pp":
            variants = [("1f1b", 1, "zigzag")]
        for schedule, m, layout in variants:
            settings = _Settings(
                steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                lr=args.lr, n_layers=args.layers, dim=args.dim, heads=args.heads,
                kv_heads=args.kv_heads,
                n_experts=args.experts if strategy == "ep" else 0,
                micro_batches=m, schedule=schedule, layout=layout,
            )  # fmt: skip
            check_layout(
                world, **_degrees(strategy, world), micro_batches=settings.micro_batches,
                n_experts=settings.n_experts, n_layers=settings.n_layers,
                batch_size=settings.batch_size, seq_len=settings.seq_len,
                n_heads=settings.heads, n_kv_heads=settings.kv_heads,
            )  # fmt: skip
            runs.append((strategy, settings))
    torch.set_num_threads(args.threads)
    own_group = not dist.is_initialized()
    if args.backend == "nccl":  # one GPU per process
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if own_group:
        if "MASTER_ADDR" in os.environ:
            dist.init_process_group(args.backend)  # env:// from torchrun
        else:  # one process, no launcher: a store in this process
            dist.init_process_group(args.backend, store=dist.HashStore(), rank=0, world_size=1)
    try:
        summaries = [_run(strategy, args, settings) for strategy, settings in runs]
    finally:
        if own_group:
            gc.collect()  # free DDP's and FSDP's state while the group is alive
            dist.barrier()
            dist.destroy_process_group()
    return None if summaries[0] is None else summaries


def _run(strategy, args, settings):
    from fmref.train.parallel import common

    world, rank, device = dist.get_world_size(), dist.get_rank(), common._device()
    runners = _runners()
    dist.barrier()
    result = runners[strategy](settings)
    history = result["history"]
    # per step, after the first (which also builds lazy state: FSDP's, the pipeline's shapes)
    marks = history["marks"][1:] if settings.steps > 1 else history["marks"]
    (t0, b0), (t1, b1) = marks[0], marks[-1]
    n = len(marks) - 1
    meter = torch.tensor(
        [(t1 - t0) / n, float(b1 - b0) / n if b0 is not None else -1.0],
        dtype=torch.float64, device=device,
    )  # fmt: skip
    gathered = [torch.zeros(2, dtype=torch.float64, device=device) for _ in range(world)]
    dist.all_gather(gathered, meter)
    states = [None] * world
    dist.all_gather_object(states, common.state_bytes(result["model"], result["optimizer"]))
    losses = torch.tensor(history["loss"], dtype=torch.float64, device=device)
    if result["loss_reduce"] in ("mean", "sum"):
        dist.all_reduce(losses)
        losses /= world if result["loss_reduce"] == "mean" else 1
    elif result["loss_reduce"] == "last":  # the pipeline's last stage computed the loss
        dist.broadcast(losses, src=world - 1)
    extra = _extras(strategy, args, settings, result, world)
    state = common._gather_state(result["owned"])
    if rank:
        return None
    model_config = common.tiny_llama(
        settings.n_layers, settings.n_experts, settings.seq_len, **settings.shape()
    ).config
    rows = extra.pop("_rows", None)
    sent, memory = _predicted(strategy, settings, world, model_config, rows)
    sent_gloo, _ = _predicted(strategy, settings, world, model_config, rows, gloo=True)
    summary = {
        "strategy": strategy,
        "world_size": world,
        "steps": settings.steps,
        "seconds_per_step": max(float(g[0]) for g in gathered),
        "state_bytes": [s["total"] for s in states],
        "state_bytes_by_kind": states,
        "predicted_state_bytes": memory,
        "bytes_sent_per_step": [float(g[1]) if g[1] >= 0 else None for g in gathered],
        "predicted_bytes_sent_per_step": sent,
        "predicted_bytes_sent_per_step_gloo": sent_gloo,
        "losses": [float(x) for x in losses],
        **extra,
    }
    if not args.no_check:
        reference, ref_losses = common.reference_run(
            settings.steps, settings.batch_size, settings.seq_len, settings.lr,
            dict(n_layers=settings.n_layers, n_experts=settings.n_experts, **settings.shape()),
        )  # fmt: skip
        summary["max_abs_diff"] = common.max_abs_diff(state, reference)
        summary["max_loss_diff"] = max(abs(a - b) for a, b in zip(summary["losses"], ref_losses))
    if not args.quiet:
        print(json.dumps(summary), flush=True)
    return summary


def _extras(strategy, args, settings, result, world):
    """Strategy-specific measurements (collectives: every rank calls this)."""
    from fmref.train.parallel.formulas import pipeline_bubble

    extra = {}
    if strategy == "pp":
        steps = result["pipeline"][1:] or result["pipeline"]  # after the shape-inference step
        device = result["model"].rope.device
        idle = torch.tensor([sum(s["idle_fraction"] for s in steps) / len(steps)], device=device)
        idles = [torch.zeros(1, device=device) for _ in range(world)]
        dist.all_gather(idles, idle)
        extra.update(
            schedule=settings.schedule, micro_batches=settings.micro_batches,
            idle_fraction=[float(x) for x in idles],
            predicted_idle_fraction=pipeline_bubble(world, settings.micro_batches,
                                                    settings.schedule),
        )  # fmt: skip
        if args.timeline:
            timelines = [None] * world
            dist.all_gather_object(timelines, result["pipeline"][-1]["events"])
            extra["timeline"] = timelines
    if strategy == "cp":
        from fmref.train.parallel.context import causal_attention_work

        extra.update(layout=settings.layout, attention_work=causal_attention_work(
            settings.seq_len, world, settings.layout))  # fmt: skip
    if strategy == "ep":
        layers = result["model"].layers
        rows = torch.tensor([[float(sum(b.feed_forward.sent[i] for b in layers)) for i in (0, 1)]],
                            device=result["model"].rope.device)  # fmt: skip
        dist.all_reduce(rows)
        extra["_rows"] = tuple(float(x) / world for x in rows[0])  # mean over the ranks
        extra["rows_sent_received_per_rank_last_step"] = list(extra["_rows"])
    return extra


def _runners():
    from fmref.train.parallel.context import _run_context_parallel
    from fmref.train.parallel.data_parallel import _run_data_parallel, _run_fsdp
    from fmref.train.parallel.expert import _run_expert_parallel
    from fmref.train.parallel.pipeline import _run_pipeline
    from fmref.train.parallel.tensor import _run_tensor_parallel

    return {
        "ddp": lambda s: _run_data_parallel(s, 0),
        "zero1": lambda s: _run_data_parallel(s, 1),
        "zero2": lambda s: _run_data_parallel(s, 2),
        "fsdp": _run_fsdp,
        "tp": lambda s: _run_tensor_parallel(s, False),
        "sp": lambda s: _run_tensor_parallel(s, True),
        "pp": _run_pipeline,
        "cp": _run_context_parallel,
        "ep": _run_expert_parallel,
    }


def torchrun_command(nproc_per_node, *args, master_port=None):
    """The command that launches :func:`main` on ``nproc_per_node`` local processes.

    Parameters
    ----------
    nproc_per_node : int
        Processes.
    *args : str
        Options of :func:`main`.
    master_port : int, optional
        Rendezvous port; a free one when None.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``nproc_per_node`` is not a positive int.

    Examples
    --------
    >>> from fmref.train.parallel.run import torchrun_command
    >>> torchrun_command(2, "--strategy", "tp", master_port=29500)[7:]
    ['--master-addr', '127.0.0.1', '--master-port', '29500', '-m', 'fmref.train.parallel',
     '--strategy', 'tp']
    """
    from fmref.train.distributed import torchrun_command as ddp_command

    cmd = ddp_command(nproc_per_node, *args, master_port=master_port)
    cmd[cmd.index("fmref.train.distributed")] = "fmref.train.parallel"
    return cmd


def launch(nproc_per_node, *args, timeout=120.0, env=None):
    """Run :func:`torchrun_command` in a subprocess and return rank 0's JSON summary.

    The launcher and its workers run in their own process group, killed
    whole if the run outlives ``timeout``; a failed run raises with the
    workers' own stderr (gloo sometimes aborts a worker with a signal when a
    connection tears down: such a crash is retried once).

    Parameters
    ----------
    nproc_per_node : int
        Processes.
    *args : str
        Options of :func:`main`.
    timeout : float, default 120.0
        Seconds before the whole run is killed.
    env : dict, optional
        Extra environment variables.

    Returns
    -------
    list of dict
        The summaries :func:`main` printed, one per run.

    Raises
    ------
    RuntimeError
        If the run fails, times out or prints no JSON.
    ValueError
        If ``nproc_per_node`` is not a positive int.

    Examples
    --------
    >>> from fmref.train.parallel.run import launch
    >>> launch(0, "--strategy", "ddp")
    Traceback (most recent call last):
    ...
    ValueError: nproc_per_node must be a positive int (>= 1), got 0

    ``tests/test_parallel.py`` runs ``launch(2, "--strategy", "ddp,fsdp,...")``.
    """
    check_positive_int("nproc_per_node", nproc_per_node)
    check_positive("timeout", timeout)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    full_env = dict(
        os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo",
        PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        **(env or {}),
    )  # fmt: skip
    for attempt in (1, 2):
        proc = subprocess.Popen(
            torchrun_command(nproc_per_node, *args), env=full_env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every worker
            out, err = proc.communicate()
            raise RuntimeError(
                f"torchrun {' '.join(args)} ran past {timeout} s:\n{_tail(err)}"
            ) from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode == 0 or "Signal" not in err or attempt == 2:
            break
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun {' '.join(args)} failed; the workers said:\n{_tail(err)}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"torchrun {' '.join(args)} printed no JSON:\n{out[-2000:]}")
    return [json.loads(line) for line in lines]


def parallel_runs(steps=2, nproc_per_node=2, micro_batches=4):
    """The manual's run of every strategy on two processes, launched once and cached.

    One :func:`launch` of ``ddp, zero1, zero2, fsdp, tp, sp, pp, cp, ep``
    (``pp`` with GPipe and 1F1B and its schedule recorded, ``cp`` with both
    splits), cached by :mod:`fmref.zoo` as the recipe ``"parallel-runs"``:
    the tests, the gallery and Chapter XII read the same runs.

    Parameters
    ----------
    steps : int, default 2
        Optimizer steps of each run.
    nproc_per_node : int, default 2
        Processes.
    micro_batches : int, default 4
        Pipeline micro-batches.

    Returns
    -------
    dict
        ``{key: summary}`` with keys ``"ddp"``, ..., ``"pp-gpipe"``,
        ``"pp-1f1b"``, ``"cp-zigzag"``, ``"cp-contiguous"``, ``"ep"``.

    Raises
    ------
    RuntimeError
        If the launch fails (with the workers' stderr).

    Examples
    --------
    >>> from fmref.train.parallel.run import parallel_runs
    >>> runs = parallel_runs()
    >>> len(runs), max(r["max_abs_diff"] for r in runs.values()) <= 1e-5
    (11, True)
    """
    from fmref.zoo import cached

    options = (
        "--strategy", ",".join(STRATEGIES), "--steps", str(check_positive_int("steps", steps)),
        "--schedule", "gpipe,1f1b", "--layout", "zigzag,contiguous", "--timeline",
        "--micro-batches", str(check_positive_int("micro_batches", micro_batches)),
    )  # fmt: skip
    settings = {"nproc_per_node": nproc_per_node, "options": list(options)}

    def train():
        out = {}
        for run in launch(nproc_per_node, *options, timeout=600):
            key = run["strategy"] + (f"-{run['schedule']}" if "schedule" in run else "")
            out[key + (f"-{run['layout']}" if "layout" in run else "")] = run
        return out

    return cached("parallel-runs", settings, train)


def _tail(err):
    """The workers' own lines of a torchrun's stderr, without the launcher's summary."""
    head = err.split("Traceback (most recent call last)")[0]
    return f"{head[-4000:]}\n...\n{err[-3000:]}"


if __name__ == "__main__":  # pragma: no cover - run by torchrun
    main()
