"""Data parallelism on a Llama: DDP, ZeRO-1, ZeRO-2 and FSDP (ZeRO-3) over gloo.

Every rank trains on its ``1/W`` of each global batch; they differ in what
each rank keeps between steps:

==========  ======================================  =============================
strategy    each rank keeps                         torch (or fmref) machinery
==========  ======================================  =============================
``ddp``     all weights, gradients, Adam states     ``DistributedDataParallel``
``zero1``   all weights and gradients, ``1/W`` of   ``ZeroRedundancyOptimizer``
            the Adam states
``zero2``   all weights, ``1/W`` of the gradients   :class:`ShardedGradAdamW`
            and of the Adam states                  (fmref: reduce-scatter,
                                                    step, all-gather)
``fsdp``    ``1/W`` of everything; a block's        ``fully_shard`` per block
            weights are all-gathered when used      (FSDP2)
==========  ======================================  =============================
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from fmref._validate import check_positive
from fmref.train.parallel.common import _device, _fit, _lm_loss, global_batch, tiny_llama

__all__ = ["ShardedGradAdamW"]


class ShardedGradAdamW(torch.optim.Optimizer):
    """ZeRO stage 2 in a few lines: each rank owns ``1/W`` of one flat vector of weights.

    The weights of every rank are viewed as one flat float32 vector, padded
    to a multiple of ``W`` and cut into ``W`` equal shards. At each step the
    gradients are summed with a *reduce-scatter*, so that rank ``r`` receives
    only the summed gradient of shard ``r`` (its gradient memory is ``1/W``
    once the full gradients are freed); it takes an AdamW step on its shard
    with states of shard size, and an *all-gather* puts the updated shards
    back together on every rank. A ring all-reduce is exactly a
    reduce-scatter plus an all-gather, so ZeRO-2 sends what DDP sends.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
        The model's parameters (float32, the same order on every rank).
    lr : float, default 1e-3
        Learning rate.
    betas : (float, float), default (0.9, 0.999)
        Adam's moment decay rates.
    eps : float, default 1e-8
        Adam's epsilon.
    weight_decay : float, default 0.0
        Decoupled weight decay.
    group : torch.distributed.ProcessGroup, optional
        The data-parallel group (default: the world); gradients are averaged over it.

    Attributes
    ----------
    shard : torch.Tensor
        This rank's float32 master shard of the flat weights.
    grad_shard : torch.Tensor or None
        Its averaged gradient after the last step.

    Raises
    ------
    ValueError
        If ``lr`` is not positive.
    RuntimeError
        If no process group is initialised.

    References
    ----------
    .. [1] Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
       Trillion Parameter Models", SC 2020, Section 5.2.

    Examples
    --------
    On a one-rank group it is AdamW:

    >>> import torch, torch.distributed as dist
    >>> from fmref.train.parallel.data_parallel import ShardedGradAdamW
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    >>> b.load_state_dict(a.state_dict())
    <All keys matched successfully>
    >>> opts = ShardedGradAdamW(a.parameters(), lr=0.1), torch.optim.AdamW(b.parameters(), lr=0.1,
    ...                                                                      weight_decay=0.0)
    >>> for model, opt in zip((a, b), opts):
    ...     model(torch.ones(4, 3)).pow(2).sum().backward(); opt.step()
    >>> torch.equal(a.weight, b.weight), opts[0].shard.numel()
    (True, 8)
    >>> dist.destroy_process_group()
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 group=None):  # fmt: skip
        check_positive("lr", lr)
        if not dist.is_initialized():
            raise RuntimeError("ShardedGradAdamW needs an initialised process group")
        params = list(params)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        n = sum(p.numel() for p in params)
        self.shard_size = -(-n // self.world)  # ceil: the flat vector is padded
        flat = params[0].new_zeros(self.shard_size * self.world)
        flat[:n] = torch.cat([p.detach().reshape(-1) for p in params])
        lo = self.rank * self.shard_size
        self.shard = torch.nn.Parameter(flat[lo : lo + self.shard_size].clone())
        self.grad_shard = None
        self._inner = torch.optim.AdamW(
            [self.shard], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
        )
        self.optim = self._inner  # state_bytes counts the shard's states
        self._n = n

    @torch.no_grad()
    def step(self, closure=None):
        params = self.param_groups[0]["params"]
        self._inner.param_groups[0]["lr"] = self.param_groups[0]["lr"]
        flat = params[0].new_zeros(self.shard_size * self.world)
        flat[: self._n] = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        grad = flat.new_empty(self.shard_size)
        dist.reduce_scatter_single(grad, flat, group=self.group)  # sum of shard r on rank r
        self.grad_shard = grad / self.world
        for p in params:
            p.grad = None  # the full gradient is freed: only the shard's survives
        self.shard.grad = self.grad_shard
        self._inner.step()
        gathered = flat.new_empty(self.shard_size * self.world)
        dist.all_gather_single(gathered, self.shard.detach(), group=self.group)
        offset = 0
        for p in params:  # every rank now holds all the updated weights
            p.copy_(gathered[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def _local_batches(settings, rank, world):
    per, device = settings.batch_size // world, _device()

    def batch(step):  # this rank's slice of the global batch
        whole = global_batch(step, settings.batch_size, settings.seq_len)
        return whole[rank * per : (rank + 1) * per].to(device)

    return batch


def _run_data_parallel(settings, stage=0):
    """DDP (``stage=0``), ZeRO-1 or ZeRO-2 on the world group; returns the run's parts."""
    world, rank = dist.get_world_size(), dist.get_rank()
    model = tiny_llama(settings.n_layers, 0, settings.seq_len, **settings.shape()).to(_device())
    net = model
    if stage == 0:
        net = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    elif stage == 1:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        net = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = ZeroRedundancyOptimizer(
            model.parameters(), optimizer_class=torch.optim.AdamW, lr=settings.lr,
            weight_decay=0.0,
        )  # fmt: skip
    else:
        optimizer = ShardedGradAdamW(model.parameters(), lr=settings.lr)
    history = _fit(net, _local_batches(settings, rank, world), _lm_loss, settings, optimizer)
    return dict(model=model, optimizer=optimizer, history=history, owned=model.state_dict(),
                loss_reduce="mean")  # fmt: skip


def _run_fsdp(settings):
    """FSDP2: ``fully_shard`` on every block, then on the whole model."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    world, rank = dist.get_world_size(), dist.get_rank()
    mesh = init_device_mesh(_device().type, (world,))
    model = tiny_llama(settings.n_layers, 0, settings.seq_len, **settings.shape()).to(_device())
    for block in model.layers:
        fully_shard(block, mesh=mesh)  # one all-gather per block, freed after use
    fully_shard(model, mesh=mesh)  # the embedding, final norm and output head
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    batches = _local_batches(settings, rank, world)
    history = _fit(model, batches, _lm_loss, settings, optimizer)
    owned = {k: v.full_tensor() for k, v in model.state_dict().items()}  # all ranks gather
    return dict(model=model, optimizer=optimizer, history=history, owned=owned,
                loss_reduce="mean")  # fmt: skip
