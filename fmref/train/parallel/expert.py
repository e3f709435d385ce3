"""Expert parallelism: each rank holds some of the experts, tokens travel by all-to-all.

In a mixture-of-experts layer (:class:`~fmref.models.llama.SparseMoE`) every
token uses ``k`` of ``E`` experts. With ``E / W`` experts on each of ``W``
ranks, a rank routes its own tokens, sends each (token, expert) pair to the
rank that holds the expert with one *all-to-all* (every rank sends a
different number of rows to every other), runs its experts on what it
received, and returns the results with a second all-to-all in the opposite
direction; the router weights then combine them as in one process
(Lepikhin et al. 2021, GShard). The rest of the model is data-parallel.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from fmref._validate import check_instance

__all__ = ["ExpertParallelMoE"]


class _AllToAll(torch.autograd.Function):
    """All-to-all of rows; the backward pass sends each row's gradient back where it came from."""

    @staticmethod
    def forward(ctx, x, send_counts, recv_counts):
        ctx.counts = send_counts, recv_counts
        out = x.new_empty(sum(recv_counts), *x.shape[1:])
        dist.all_to_all_single(out, x.contiguous(), recv_counts, send_counts)
        return out

    @staticmethod
    def backward(ctx, grad):
        send_counts, recv_counts = ctx.counts
        back = grad.new_empty(sum(send_counts), *grad.shape[1:])
        dist.all_to_all_single(back, grad.contiguous(), send_counts, recv_counts)
        return back, None, None


def _exchange(x, send_counts, recv_counts):
    """All-to-all of the rows of ``x``: ``send_counts[j]`` rows go to rank ``j``."""
    return _AllToAll.apply(x, send_counts, recv_counts)


def _counts(send_counts):
    """How many rows each rank will receive from every other (an all-to-all of the counts)."""
    recv = torch.empty_like(send_counts)
    dist.all_to_all_single(recv, send_counts)
    return recv


class ExpertParallelMoE(nn.Module):
    """The experts of a :class:`~fmref.models.llama.SparseMoE` spread over the ranks.

    Rank ``r`` keeps the router and experts ``r E/W`` to ``(r + 1) E/W - 1``
    (under their own indices, so the state dict names match the original's).

    Parameters
    ----------
    moe : fmref.models.llama.SparseMoE
        The layer to distribute (the same weights on every rank).
    group : torch.distributed.ProcessGroup, optional
        The expert-parallel group (default: the world).

    Attributes
    ----------
    gate : torch.nn.Linear
        The router, replicated.
    experts : torch.nn.ModuleDict
        This rank's experts, keyed by their index in ``moe.experts``.
    sent : list of int
        Rows this rank sent to the other ranks in each all-to-all of the
        last forward pass (dispatch then combine).

    Raises
    ------
    RuntimeError
        If no process group is initialised.
    ValueError
        If the number of ranks does not divide the number of experts.

    References
    ----------
    .. [1] Lepikhin et al., "GShard: Scaling Giant Models with Conditional
       Computation and Automatic Sharding", ICLR 2021.
    .. [2] Jiang et al., "Mixtral of Experts", 2024.

    Examples
    --------
    On one rank it is the layer it wraps:

    >>> import torch, torch.distributed as dist
    >>> from fmref.models.llama import SparseMoE
    >>> from fmref.train.parallel.expert import ExpertParallelMoE
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> moe = SparseMoE(dim=8, hidden_dim=16, n_experts=4, top_k=2)
    >>> x = torch.randn(2, 5, 8)
    >>> ep = ExpertParallelMoE(moe)
    >>> torch.allclose(ep(x), moe(x), atol=1e-6), sorted(ep.experts)
    (True, ['0', '1', '2', '3'])
    >>> dist.destroy_process_group()
    """

    def __init__(self, moe, group=None):
        super().__init__()
        from fmref.models.llama import SparseMoE

        check_instance("moe", moe, SparseMoE)
        if not dist.is_initialized():
            raise RuntimeError("ExpertParallelMoE needs an initialised process group")
        self.group = group
        self.world, self.rank = dist.get_world_size(group), dist.get_rank(group)
        n = len(moe.experts)
        if n % self.world:
            raise ValueError(f"the {self.world} ranks must divide the n_experts={n} experts")
        self.per_rank, self.top_k, self.gate = n // self.world, moe.top_k, moe.gate
        first = self.rank * self.per_rank
        self.experts = nn.ModuleDict(
            {str(e): moe.experts[e] for e in range(first, first + self.per_rank)}
        )
        self.sent = []

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])  # (N, C)
        top, idx = self.gate(flat).topk(self.top_k, dim=-1)  # (N, k)
        weights = torch.softmax(top, dim=-1)  # (N, k)
        expert = idx.reshape(-1)  # (N k,) one row per (token, slot)
        order = torch.argsort(expert, stable=True)  # grouped by expert, hence by rank
        token = order // self.top_k  # (N k,) the token of each row
        send = torch.bincount(expert[order] // self.per_rank, minlength=self.world)  # (W,)
        recv = _counts(send)
        send_l, recv_l = send.tolist(), recv.tolist()
        rows = _exchange(flat[token], send_l, recv_l)  # (R, C) tokens for my experts
        which = expert.new_empty(sum(recv_l))
        dist.all_to_all_single(which, expert[order].contiguous(), recv_l, send_l)  # their experts
        # rows * 0, not zeros_like: a rank whose experts get no token must still join the
        # backward all-to-all of ``rows``, so ``out`` always depends on it
        out = rows * 0.0
        for name, module in self.experts.items():
            mine = (which == int(name)).nonzero(as_tuple=True)[0]
            if mine.numel():
                out = out.index_put((mine,), module(rows[mine]))
        back = _exchange(out, recv_l, send_l)  # (N k, C) in the order they left
        self.sent = [sum(send_l) - send_l[self.rank], sum(recv_l) - recv_l[self.rank]]
        w = weights.reshape(-1)[order, None]  # (N k, 1)
        result = torch.zeros_like(flat).index_add(0, token, w * back)
        return result.view_as(x)


def _run_expert_parallel(settings):
    """Train the tiny mixture-of-experts Llama: experts split over the world, the rest DP."""
    from fmref.train.parallel.common import (
        _all_reduce_flat,
        _device,
        _fit,
        _lm_loss,
        _SyncAdamW,
        global_batch,
        tiny_llama,
    )

    w, r, device = dist.get_world_size(), dist.get_rank(), _device()
    model = tiny_llama(settings.n_layers, settings.n_experts, settings.seq_len,
                       **settings.shape()).to(device)  # fmt: skip
    for block in model.layers:
        block.feed_forward = ExpertParallelMoE(block.feed_forward)
    expert_ids = {id(p) for b in model.layers for p in b.feed_forward.experts.parameters()}
    params = list(model.parameters())

    def sync():
        # each rank's loss is the mean over its own sequences; the global loss is their
        # mean. Replicated weights: average the ranks' gradients. Experts: each one's
        # gradient already sums every rank's tokens; divide by W for the mean.
        _all_reduce_flat(p.grad for p in params if id(p) not in expert_ids)
        for p in params:
            if p.grad is not None:
                p.grad /= w

    optimizer = _SyncAdamW(params, sync, lr=settings.lr, weight_decay=0.0)
    per = settings.batch_size // w

    def batch(step):
        whole = global_batch(step, settings.batch_size, settings.seq_len)
        return whole[r * per : (r + 1) * per].to(device)

    history = _fit(model, batch, _lm_loss, settings, optimizer)
    return dict(model=model, optimizer=optimizer, history=history, owned=model.state_dict(),
                loss_reduce="mean")  # fmt: skip
