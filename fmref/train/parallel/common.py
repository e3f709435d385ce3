"""What every strategy shares: the model, the batches, the reference run and the meters.

Every strategy trains the same small byte-level :class:`~fmref.models.llama.Llama`
(:func:`tiny_llama`) on the same global batches (:func:`global_batch`) with
AdamW through :func:`fmref.train.loop.fit`; :func:`reference_run` is that
training in one process, which each strategy must reproduce. Three meters
report what a rank spent: :func:`state_bytes` (weights, gradients and
optimizer states it holds), :func:`bytes_sent` (what it wrote to its sockets,
from Linux's ``/proc/self/io``) and the wall time per step.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from fmref._validate import check_instance, check_int, check_positive, check_positive_int
from fmref.models.llama import Llama, LlamaConfig
from fmref.train.distributed import byte_dataset
from fmref.train.loop import fit
from fmref.train.objectives import causal_lm_loss

__all__ = [
    "tiny_llama",
    "global_batch",
    "reference_run",
    "state_bytes",
    "bytes_sent",
    "max_abs_diff",
]


def tiny_llama(n_layers=2, n_experts=0, seq_len=16, seed=0, dim=32, n_heads=4, n_kv_heads=2):
    """The byte-level Llama every strategy trains (Mixtral-style experts for ``ep``).

    Width 32, four query heads sharing two key/value heads, SwiGLU of width
    64, vocabulary of the 256 byte values; with ``n_experts`` each block's
    feed-forward layer is a :class:`~fmref.models.llama.SparseMoE` routing
    each token to 2 experts.

    Parameters
    ----------
    n_layers : int, default 2
        Blocks (a multiple of the pipeline stages).
    n_experts : int, default 0
        Experts per block; 0 is a dense SwiGLU.
    seq_len : int, default 16
        Context length.
    seed : int, default 0
        Initialisation seed, the same on every rank.
    dim, n_heads, n_kv_heads : int
        Width and heads.

    Returns
    -------
    fmref.models.llama.Llama

    Raises
    ------
    ValueError
        If a size is not a positive int (checked by :class:`~fmref.models.llama.LlamaConfig`).

    Examples
    --------
    >>> from fmref.train.parallel.common import tiny_llama
    >>> tiny_llama().num_parameters(), tiny_llama(n_experts=4).num_parameters()
    (34976, 72096)
    """
    check_int("n_experts", n_experts, low=0)
    config = LlamaConfig(
        vocab_size=256, dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads,
        hidden_dim=2 * dim, max_seq_len=seq_len, n_experts=n_experts,
        n_experts_per_tok=min(2, n_experts),
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Llama(config)


def global_batch(step, batch_size=8, seq_len=16):
    """The ``step``-th global batch: consecutive windows of the Python docs, cycling.

    Every rank computes the same batch and takes its share (its sequences,
    its tokens, or all of it, depending on the strategy).

    Parameters
    ----------
    step : int
        Step, from 0.
    batch_size : int, default 8
        Sequences.
    seq_len : int, default 16
        Bytes per sequence.

    Returns
    -------
    torch.Tensor
        ``(batch_size, seq_len)`` int64 byte values.

    Raises
    ------
    ValueError
        If ``step`` is negative or a size is not a positive int.

    Examples
    --------
    >>> from fmref.train.parallel.common import global_batch
    >>> batch = global_batch(0, 2, 8)
    >>> batch.shape, bytes(batch[1].tolist())
    (torch.Size([2, 8]), b'ert" sta')
    """
    check_int("step", step, low=0)
    b, t = check_positive_int("batch_size", batch_size), check_positive_int("seq_len", seq_len)
    data = byte_dataset(64, t).tensors[0]  # (64, T): a short cycle of windows
    rows = (torch.arange(b) + step * b) % len(data)
    return data[rows]  # (B, T)


def _lm_loss(model, batch):
    """Next-token loss of ``model`` on ``batch`` (the loss every strategy minimises)."""
    return causal_lm_loss(model(batch), batch)


def reference_run(steps, batch_size=8, seq_len=16, lr=1e-3, model_kwargs=None):
    """Train :func:`tiny_llama` in one process on the whole global batches.

    Parameters
    ----------
    steps : int
        Optimizer steps.
    batch_size, seq_len : int
        Shape of :func:`global_batch`.
    lr : float, default 1e-3
        AdamW's learning rate (no weight decay, no schedule).
    model_kwargs : dict, optional
        For :func:`tiny_llama`.

    Returns
    -------
    tuple
        ``(state_dict, losses)``.

    Raises
    ------
    ValueError
        If ``steps`` or a size is not a positive int or ``lr`` is not positive.

    Examples
    --------
    >>> from fmref.train.parallel.common import reference_run
    >>> state, losses = reference_run(2)
    >>> len(state), [round(x, 4) for x in losses]
    (21, [5.529, 5.4915])
    """
    check_positive_int("steps", steps)
    check_positive("lr", lr)
    model = tiny_llama(seq_len=seq_len, **(model_kwargs or {}))
    history = fit(model, lambda s: global_batch(s, batch_size, seq_len), _lm_loss, steps, lr=lr)
    return model.state_dict(), history["loss"]


def _local(t):
    """The part of a (possibly distributed) tensor that this rank stores."""
    return t.to_local() if hasattr(t, "to_local") else t


def state_bytes(model, optimizer):
    """Bytes of weights, gradients and optimizer states that this rank holds.

    A sharded tensor (a ``DTensor`` of FSDP or tensor parallelism) counts
    its local shard only; the optimizer's step counters (0-d tensors) are
    left out, so Adam's states count ``8`` bytes per float32 parameter. A
    master copy that the optimizer keeps of its own (the shard of
    :class:`~fmref.train.parallel.data_parallel.ShardedGradAdamW`) counts as
    optimizer state, and its gradient as a gradient.

    Parameters
    ----------
    model : torch.nn.Module
        The (local part of the) model.
    optimizer : torch.optim.Optimizer
        Its optimizer; a ``ZeroRedundancyOptimizer`` counts its local shard.

    Returns
    -------
    dict
        ``params``, ``grads``, ``optimizer`` and ``total``, in bytes.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``optimizer`` not an optimizer.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.parallel.common import state_bytes
    >>> layer = torch.nn.Linear(10, 10)  # 110 float32 parameters
    >>> opt = torch.optim.AdamW(layer.parameters())
    >>> layer(torch.ones(1, 10)).sum().backward(); opt.step()
    >>> state_bytes(layer, opt)  # 4 + 4 + 8 bytes per parameter
    {'params': 440, 'grads': 440, 'optimizer': 880, 'total': 1760}
    """
    check_instance("model", model, torch.nn.Module)
    check_instance("optimizer", optimizer, torch.optim.Optimizer)
    params = {id(p): p for p in model.parameters()}.values()  # tied weights once

    def nbytes(t):
        t = _local(t)
        return t.numel() * t.element_size()

    out = {
        "params": sum(nbytes(p) for p in params),
        "grads": sum(nbytes(p.grad) for p in params if p.grad is not None),
    }
    inner = getattr(optimizer, "optim", optimizer)  # ZeroRedundancyOptimizer's local AdamW
    out["optimizer"] = sum(
        nbytes(v)
        for state in inner.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    )
    own = {id(p) for p in params}
    for group in inner.param_groups:  # a master copy the optimizer keeps (ZeRO-2's shard)
        for p in group["params"]:
            if id(p) not in own:
                out["optimizer"] += nbytes(p)
                out["grads"] += nbytes(p.grad) if p.grad is not None else 0
    out["total"] = sum(out.values())
    return out


def bytes_sent():
    """Bytes this process has written so far (``wchar`` of ``/proc/self/io``), or None.

    gloo moves tensors between processes with ``write`` calls on TCP
    sockets, which Linux counts in ``wchar``; the difference of two readings
    around a training step is what the rank sent in it (plus the few bytes
    it printed or wrote to files meanwhile).

    Returns
    -------
    int or None
        None where ``/proc/self/io`` does not exist (not Linux).

    Examples
    --------
    >>> import sys
    >>> from fmref.train.parallel.common import bytes_sent
    >>> before = bytes_sent()
    >>> _ = sys.stderr.write("x" * 1000); sys.stderr.flush()
    >>> before is None or bytes_sent() - before >= 1000
    True
    """
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def max_abs_diff(state, reference):
    """Largest absolute difference between two state dicts over ``reference``'s keys.

    Parameters
    ----------
    state, reference : dict of str to torch.Tensor
        ``state`` must hold every key of ``reference``, with the same shapes.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a key is missing or a shape differs.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.parallel.common import max_abs_diff
    >>> max_abs_diff({"w": torch.tensor([1.0, 2.5])}, {"w": torch.tensor([1.0, 2.0])})
    0.5
    """
    worst = 0.0
    for key, ref in reference.items():
        if key not in state:
            raise ValueError(f"state is missing {key!r}")
        if state[key].shape != ref.shape:
            raise ValueError(
                f"state[{key!r}] has shape {tuple(state[key].shape)}, expected {tuple(ref.shape)}"
            )
        worst = max(worst, (state[key].float() - ref.float()).abs().max().item())
    return worst


def _gather_state(owned):
    """Merge on rank 0 the tensors each rank owns (``{name: full tensor}``); None elsewhere."""
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, {k: v.detach().cpu() for k, v in owned.items()})
    if dist.get_rank():
        return None
    merged = {}
    for part in parts:
        for k, v in part.items():
            merged.setdefault(k, v)
    return merged


def _device():
    """This rank's device: its GPU under nccl (``LOCAL_RANK``), else the CPU."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        import os

        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _all_reduce_flat(tensors):
    """Sum ``tensors`` over the ranks in one all-reduce of one flat buffer (a DDP bucket)."""
    tensors = list(tensors)
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def _fit(model, batches, loss_fn, settings, optimizer):
    """:func:`fit` with a mark (time, bytes sent) before the first step and after each step."""
    import time

    marks = [(time.perf_counter(), bytes_sent())]

    def mark(_model):
        marks.append((time.perf_counter(), bytes_sent()))

    history = fit(model, batches, loss_fn, settings.steps, lr=settings.lr, optimizer=optimizer,
                  after_step=mark)  # fmt: skip
    history["marks"] = marks
    return history


class _SyncAdamW(torch.optim.AdamW):
    """AdamW that first makes the gradients whole with ``sync()`` (all-reduce, rescale).

    DDP overlaps its all-reduce with the backward pass through hooks; strategies
    whose ranks run different graphs (experts) or their own collectives (the
    ring) synchronise once, after the backward pass, before the step.
    """

    def __init__(self, params, sync, **kwargs):
        super().__init__(params, **kwargs)
        self.sync = sync

    @torch.no_grad()
    def step(self, closure=None):
        self.sync()
        return super().step(closure)
