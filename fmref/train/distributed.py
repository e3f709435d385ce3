"""Data-parallel training with ``torch.distributed`` on CPU (gloo), launched by torchrun.

Every process (a *rank*) holds a full copy of the model and trains on its own
slice of each global batch; :class:`~torch.nn.parallel.DistributedDataParallel`
averages the gradients across ranks with an all-reduce during the backward
pass, so all copies take the same step. A
:class:`~torch.utils.data.distributed.DistributedSampler` gives each rank a
disjoint slice of the same shuffled order; with ``zero=True`` the AdamW states
are sharded across ranks by
:class:`~torch.distributed.optim.ZeroRedundancyOptimizer` (ZeRO stage 1).

Run it on two processes of one machine::

    torchrun --nproc-per-node 2 -m fmref.train.distributed --steps 20 --zero --check

:func:`train` with ``distributed=False`` runs the same training in one process
on the whole global batch: the test checks that both end with the same weights.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import sys

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from fmref._validate import check_positive, check_positive_int
from fmref.models.gpt import GPT, GPTConfig
from fmref.text.corpus import python_docs
from fmref.train.loop import fit
from fmref.train.objectives import causal_lm_loss

__all__ = ["byte_dataset", "make_model", "train", "main", "torchrun_command"]


def byte_dataset(n_sequences=256, seq_len=32):
    """Non-overlapping windows of the Python docs corpus, one token per UTF-8 byte.

    Bytes need no tokenizer training, so every process builds the same data in
    milliseconds.

    Parameters
    ----------
    n_sequences : int, default 256
        Number of windows.
    seq_len : int, default 32
        Tokens per window.

    Returns
    -------
    torch.utils.data.TensorDataset
        One tensor of shape ``(n_sequences, seq_len)``, int64 ids in ``[0, 256)``.

    Raises
    ------
    ValueError
        If a size is not positive or the corpus is too short.

    Examples
    --------
    >>> from fmref.train.distributed import byte_dataset
    >>> data = byte_dataset(4, 8)
    >>> len(data), data[0][0].shape, bytes(data[0][0].tolist())
    (4, torch.Size([8]), b'The "ass')
    """
    for name, v in (("n_sequences", n_sequences), ("seq_len", seq_len)):
        check_positive_int(name, v)
    raw = python_docs("train").encode("utf-8")
    if n_sequences * seq_len > len(raw):
        raise ValueError(f"n_sequences * seq_len must be at most {len(raw)} bytes")
    ids = torch.frombuffer(bytearray(raw[: n_sequences * seq_len]), dtype=torch.uint8)
    return TensorDataset(ids.long().view(n_sequences, seq_len))  # (N, T)


def make_model(seq_len=32, n_layer=2, n_head=2, n_embd=64, seed=0):
    """A small byte-level GPT, initialised from ``seed`` (the same on every rank).

    Parameters
    ----------
    seq_len : int, default 32
        Context length.
    n_layer, n_head, n_embd : int
        Shape (see :class:`fmref.models.gpt.GPTConfig`).
    seed : int, default 0
        Initialisation seed.

    Returns
    -------
    fmref.models.gpt.GPT
        With ``vocab_size=256``.

    Examples
    --------
    >>> from fmref.train.distributed import make_model
    >>> a, b = make_model(seed=1), make_model(seed=1)
    >>> bool((a.wte.weight == b.wte.weight).all()), a.config.vocab_size
    (True, 256)
    """
    check_positive_int("seq_len", seq_len)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT(
            GPTConfig(
                vocab_size=256, block_size=seq_len, n_layer=n_layer, n_head=n_head, n_embd=n_embd
            )
        )


def train(
    steps=10,
    global_batch=16,
    seq_len=32,
    n_sequences=256,
    lr=1e-3,
    seed=0,
    zero=False,
    distributed=True,
    model_kwargs=None,
):
    """Train a byte-level GPT data-parallel over the process group, or in one process.

    With ``distributed=True`` a process group must be initialised (for example
    by :func:`main` under torchrun); each of its ``W`` ranks takes
    ``global_batch / W`` sequences per step from a ``DistributedSampler``.
    With ``distributed=False`` one process takes the whole global batch from a
    one-replica sampler with the same seed, hence the same order.

    Parameters
    ----------
    steps : int, default 10
        Optimizer steps.
    global_batch : int, default 16
        Sequences per step over all ranks; divisible by the world size.
    seq_len, n_sequences : int
        Shape of :func:`byte_dataset`.
    lr : float, default 1e-3
        AdamW's learning rate (no weight decay, no schedule).
    seed : int, default 0
        Model initialisation and data order.
    zero : bool, default False
        Shard the optimizer states over the ranks (``ZeroRedundancyOptimizer``).
    distributed : bool, default True
        Use the initialised process group (DDP) or train in one process.
    model_kwargs : dict, optional
        ``n_layer``, ``n_head``, ``n_embd`` for :func:`make_model`.

    Returns
    -------
    tuple
        ``(model, history)``: the trained (unwrapped) GPT and a dict with
        ``loss`` (global mean per step), ``world_size`` and ``seconds``.

    Raises
    ------
    RuntimeError
        If ``distributed=True`` and no process group is initialised.
    ValueError
        If ``global_batch`` is not divisible by the world size.

    References
    ----------
    .. [1] Li et al., "PyTorch Distributed: Experiences on Accelerating Data
       Parallel Training", VLDB 2020.
    .. [2] Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
       Trillion Parameter Models", SC 2020.

    Examples
    --------
    >>> from fmref.train.distributed import train
    >>> model, history = train(steps=3, global_batch=4, distributed=False)
    >>> len(history["loss"]), history["world_size"], history["loss"][-1] < history["loss"][0]
    (3, 1, True)
    """
    for name, v in (("steps", steps), ("global_batch", global_batch), ("seq_len", seq_len)):
        check_positive_int(name, v)
    check_positive_int("n_sequences", n_sequences)
    check_positive("lr", lr)
    if distributed and not dist.is_initialized():
        raise RuntimeError("distributed=True needs an initialised process group (use torchrun)")
    world, rank = (dist.get_world_size(), dist.get_rank()) if distributed else (1, 0)
    if global_batch % world:
        raise ValueError(
            f"global_batch must be divisible by the world size {world}, got {global_batch}"
        )
    dataset = byte_dataset(n_sequences, seq_len)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = DataLoader(dataset, batch_size=global_batch // world, sampler=sampler, drop_last=True)
    model = make_model(seq_len, seed=seed, **(model_kwargs or {}))
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    optimizer = None  # fit's AdamW
    if zero and distributed:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        optimizer = ZeroRedundancyOptimizer(
            model.parameters(), optimizer_class=torch.optim.AdamW, lr=lr, weight_decay=0.0
        )

    def batches():
        epoch = 0
        while True:
            sampler.set_epoch(epoch)  # a new shuffle per epoch, the same on every rank
            for (batch,) in loader:  # (global_batch / W, T) on this rank
                yield batch
            epoch += 1

    def loss_fn(net, batch):  # DDP: the backward all-reduces (averages) the gradients
        return causal_lm_loss(net(batch), batch)

    history = fit(net, batches(), loss_fn, steps, lr=lr, optimizer=optimizer)
    losses = torch.tensor(history["loss"], dtype=torch.float32)  # this rank's means
    if distributed:
        dist.all_reduce(losses)  # sums of the ranks' means
        losses /= world
    return model, {"loss": losses.tolist(), "world_size": world, "seconds": history["seconds"]}


def _max_weight_difference(a, b):
    """Largest absolute difference between two state dicts with the same keys."""
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _report(summary):
    """The lines the command prints: time, loss, and the check against one process."""
    zero = ", AdamW states sharded (ZeRO-1)" if summary["zero"] else ""
    lines = [
        f"{summary['world_size']} process(es), {summary['steps']} steps in "
        f"{summary['seconds']:.2f} s{zero}",
        f"loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f}",
    ]
    if "max_weight_difference" in summary:
        lines.append(
            "largest weight difference from single-process training on the same global "
            f"batches: {summary['max_weight_difference']:.1e}"
        )
    return "\n".join(lines)


def main(argv=None):
    """Command line: ``torchrun --nproc-per-node 2 -m fmref.train.distributed [options]``.

    Initialises a gloo process group from torchrun's environment variables
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), runs
    :func:`train`, and on rank 0 prints the time and the first and last loss
    (rounded; ``--json`` prints the summary as one JSON line instead) and, with
    ``--out``, saves ``{"state_dict", "history"}`` with :func:`torch.save`. With
    ``--check``, rank 0 then trains the same model in one process on the same
    global batches and prints the largest difference between the two sets of
    weights. Without torchrun's variables it trains in one process.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``): ``--steps``, ``--global-batch``,
        ``--seq-len``, ``--lr``, ``--seed``, ``--zero``, ``--check``, ``--threads``,
        ``--out``, ``--json``, ``--quiet``; ``--help`` describes each.

    Returns
    -------
    dict
        The summary: ``world_size``, ``steps``, ``seconds``, ``first_loss``,
        ``final_loss``, ``zero``, and with ``--check`` ``max_weight_difference``.

    Examples
    --------
    >>> from fmref.train.distributed import main
    >>> summary = main(["--steps", "2", "--global-batch", "4", "--check", "--quiet"])
    >>> summary["world_size"], summary["steps"], summary["max_weight_difference"]
    (1, 2, 0.0)
    """
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m fmref.train.distributed",
        description="Data-parallel training of a byte-level GPT on the Python docs "
        "(Chapter XII), over gloo on the CPU.",
    )
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps (default 20)")
    parser.add_argument(
        "--global-batch", type=int, default=16,
        help="sequences per step over all processes, split evenly between them (default 16)",
    )  # fmt: skip
    parser.add_argument(
        "--seq-len", type=int, default=32, help="tokens (bytes) per sequence (default 32)"
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and the data order (default 0)"
    )
    parser.add_argument("--zero", action="store_true", help="shard AdamW states (ZeRO-1)")
    parser.add_argument(
        "--check", action="store_true",
        help="then train in one process on the same global batches (rank 0) and print the "
        "largest difference between the weights",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--out", default=None, help="file for the weights and history (rank 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    launched = "WORLD_SIZE" in os.environ and not dist.is_initialized()
    if launched:
        dist.init_process_group("gloo")  # env:// from torchrun; CPU tensors
    options = dict(
        steps=args.steps, global_batch=args.global_batch, seq_len=args.seq_len, lr=args.lr,
        seed=args.seed, zero=args.zero,
    )  # fmt: skip
    try:
        model, history = train(**options, distributed=dist.is_initialized())
        rank = dist.get_rank() if dist.is_initialized() else 0
        summary = {
            "world_size": history["world_size"],
            "steps": args.steps,
            "seconds": round(history["seconds"], 3),
            "first_loss": round(history["loss"][0], 6),
            "final_loss": round(history["loss"][-1], 6),
            "zero": args.zero,
        }
        if rank == 0:
            if args.check:
                single, _ = train(**options, distributed=False)
                summary["max_weight_difference"] = float(
                    f"{_max_weight_difference(model.state_dict(), single.state_dict()):.3g}"
                )
            if args.out:
                torch.save({"state_dict": model.state_dict(), "history": history}, args.out)
            if not args.quiet:
                print(json.dumps(summary) if args.json else _report(summary))
        if launched:
            # Free DDP's reducer and ZeRO's pending work while the group is alive, and
            # let no rank close its connections while another still writes its file.
            gc.collect()
            dist.barrier()
    finally:
        if launched:
            dist.destroy_process_group()
    return summary


def torchrun_command(nproc_per_node=2, *args, master_port=None):
    """The command that launches this module on ``nproc_per_node`` local processes.

    One machine (``--nnodes 1``), rendezvous on 127.0.0.1 at ``master_port`` (a
    free port when None), the current Python interpreter; ``args`` are passed to
    :func:`main`. The benchmark and the tests run it with ``subprocess``
    (with ``OMP_NUM_THREADS=1`` and ``GLOO_SOCKET_IFNAME=lo`` in the environment).

    Parameters
    ----------
    nproc_per_node : int
        Number of processes (ranks), at least 1.
    *args : str
        Options for :func:`main`, e.g. ``"--steps", "20", "--zero"``.
    master_port : int, optional
        TCP port of the rendezvous; a free one is picked when None.

    Returns
    -------
    list of str
        The argument list for ``subprocess.run``.

    Raises
    ------
    ValueError
        If ``nproc_per_node`` is not a positive integer.

    Examples
    --------
    >>> from fmref.train.distributed import torchrun_command
    >>> cmd = torchrun_command(2, "--steps", "4", master_port=29500)
    >>> cmd[1:7]
    ['-m', 'torch.distributed.run', '--nnodes', '1', '--nproc-per-node', '2']
    >>> cmd[7:]
    ['--master-addr', '127.0.0.1', '--master-port', '29500', '-m', 'fmref.train.distributed',
     '--steps', '4']
    """
    check_positive_int("nproc_per_node", nproc_per_node)
    if master_port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            master_port = sock.getsockname()[1]
    return [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", "1", "--nproc-per-node", str(nproc_per_node),
        "--master-addr", "127.0.0.1", "--master-port", str(master_port),
        "-m", "fmref.train.distributed", *map(str, args),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - run by torchrun in a subprocess
    main()
