"""Tensor and sequence parallelism of a Llama with torch's ``parallelize_module``.

Megatron-LM's split (Shoeybi et al. 2019): in each block the query, key and
value projections and the SwiGLU's gate and up projections are split by
*columns* (each rank computes its own heads and its own slice of the hidden
layer), the attention's output projection and the SwiGLU's down projection
by *rows*; the partial outputs of the row-split matrices are summed with one
all-reduce per sub-layer in the forward pass, and the column-split
matrices' input gradients with one per sub-layer in the backward pass.

Sequence parallelism (Korthikanti et al. 2022) also splits, along the
sequence, the work that tensor parallelism repeats on every rank: the
RMSNorms, the residual stream between sub-layers, the embedding's output.
Each all-reduce becomes a reduce-scatter (into sequence shards) and an
all-gather (back to whole sequences before the next column-split matrix):
the same bytes, and activations divided by ``t`` everywhere.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from fmref._validate import check_positive_int
from fmref.train.parallel.common import _device, _fit, _lm_loss, global_batch, tiny_llama

__all__ = ["tensor_parallel_plan"]


def _replicated():
    """A ``ParallelStyle`` that keeps a module whole on every rank, its weights as DTensors.

    Tensor parallelism leaves the norms (and, without sequence parallelism,
    nothing else) replicated; making their weights replicated DTensors too
    keeps every parameter of one kind, which optimizers and gradient clipping
    need. Inputs and outputs stay plain tensors.
    """
    from torch.distributed.tensor import DTensor, Replicate, distribute_module
    from torch.distributed.tensor.parallel import ParallelStyle

    class Replicated(ParallelStyle):
        def _apply(self, module, device_mesh):
            def input_fn(mod, inputs, mesh):
                return tuple(
                    DTensor.from_local(x, mesh, [Replicate()], run_check=False)
                    if isinstance(x, torch.Tensor) and not isinstance(x, DTensor)
                    else x
                    for x in inputs
                )

            def output_fn(mod, out, mesh):
                return out.to_local() if isinstance(out, DTensor) else out

            return distribute_module(module, device_mesh, input_fn=input_fn, output_fn=output_fn)

    return Replicated()


def tensor_parallel_plan(sequence_parallel=False):
    """The ``parallelize_module`` plans for a Llama: one per block, one for the model.

    In every block the attention projections and the SwiGLU are split
    Megatron's way. The embedding is split over the vocabulary (rows) and the
    output head over the vocabulary (columns), with the logits gathered. The
    RMSNorms are replicated, or, with sequence parallelism, split along the
    sequence with the residual stream between sub-layers.

    Parameters
    ----------
    sequence_parallel : bool, default False
        Also shard the norms and the residual stream along the sequence (dim 1).

    Returns
    -------
    tuple of dict
        ``(block_plan, model_plan)``: module names (relative to a
        :class:`~fmref.models.llama.LlamaBlock` and to the
        :class:`~fmref.models.llama.Llama`) to ``ParallelStyle`` objects.

    Raises
    ------
    TypeError
        If ``sequence_parallel`` is not a bool.

    References
    ----------
    .. [1] Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter
       Language Models Using Model Parallelism", 2019, Section 3.
    .. [2] Korthikanti et al., "Reducing Activation Recomputation in Large
       Transformer Models", MLSys 2023, Section 4.2.2.

    Examples
    --------
    >>> from fmref.train.parallel.tensor import tensor_parallel_plan
    >>> block, model = tensor_parallel_plan()
    >>> [type(block[f"feed_forward.{w}"]).__name__ for w in ("w1", "w3", "w2")]
    ['ColwiseParallel', 'ColwiseParallel', 'RowwiseParallel']
    >>> block, model = tensor_parallel_plan(sequence_parallel=True)
    >>> type(block["attention_norm"]).__name__, type(model["tok_embeddings"]).__name__
    ('SequenceParallel', 'RowwiseParallel')
    """
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        PrepareModuleInput,
        RowwiseParallel,
        SequenceParallel,
    )

    if not isinstance(sequence_parallel, bool):
        raise TypeError(f"sequence_parallel must be a bool, got {type(sequence_parallel).__name__}")
    # without SP the row-split outputs are all-reduced (Replicate); with SP reduce-scattered
    # along the sequence (Shard(1)), and all-gathered again where a column split needs them
    out = Shard(1) if sequence_parallel else Replicate()
    block = {
        "attention.q_proj": ColwiseParallel(),  # heads split: (B, T, H/t * d)
        "attention.k_proj": ColwiseParallel(),
        "attention.v_proj": ColwiseParallel(),
        "attention.out_proj": RowwiseParallel(output_layouts=out),
        "feed_forward.w1": ColwiseParallel(),  # hidden split: (B, T, F/t)
        "feed_forward.w3": ColwiseParallel(),
        "feed_forward.w2": RowwiseParallel(output_layouts=out),
    }
    model = {
        "tok_embeddings": RowwiseParallel(input_layouts=Replicate(), output_layouts=out),
        "output": ColwiseParallel(input_layouts=out, output_layouts=Replicate()),
    }
    if not sequence_parallel:
        block.update(attention_norm=_replicated(), ffn_norm=_replicated())
        model["norm"] = _replicated()
        return block, model
    block.update({
        "attention_norm": SequenceParallel(),  # (B, T/t, C) on each rank
        "attention": PrepareModuleInput(  # all-gather x (the rope and mask stay plain)
            input_layouts=(Shard(1), None, None),
            desired_input_layouts=(Replicate(), None, None),
        ),
        "ffn_norm": SequenceParallel(),
        "feed_forward": PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),)
        ),
    })  # fmt: skip
    model["norm"] = SequenceParallel()
    return block, model


def _parallelize_llama(model, mesh, sequence_parallel=False):
    """Apply :func:`tensor_parallel_plan` to ``model`` in place on a 1-D ``mesh``."""
    from torch.distributed.tensor.parallel import parallelize_module

    t = mesh.size()
    block_plan, model_plan = tensor_parallel_plan(sequence_parallel)
    for block in model.layers:
        attention = block.attention
        for name in ("n_heads", "n_kv_heads"):
            if getattr(attention, name) % t:
                raise ValueError(f"{name}={getattr(attention, name)} must be divisible by tp={t}")
        # each rank now holds H/t query heads and H_kv/t key/value heads
        attention.n_heads, attention.n_kv_heads = attention.n_heads // t, attention.n_kv_heads // t
        parallelize_module(block, mesh, block_plan)
    parallelize_module(model, mesh, model_plan)
    return model


def _run_tensor_parallel(settings, sequence_parallel=False):
    """Train the tiny Llama with tensor (and sequence) parallelism over the world."""
    from torch.distributed.device_mesh import init_device_mesh

    world = check_positive_int("world_size", dist.get_world_size())
    device = _device()
    mesh = init_device_mesh(device.type, (world,))
    model = tiny_llama(settings.n_layers, 0, settings.seq_len, **settings.shape()).to(device)
    _parallelize_llama(model, mesh, sequence_parallel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)

    def batch(step):  # every rank reads the whole batch: the work is split inside each layer
        return global_batch(step, settings.batch_size, settings.seq_len).to(device)

    history = _fit(model, batch, _lm_loss, settings, optimizer)
    owned = {
        k: (v.full_tensor() if hasattr(v, "full_tensor") else v)
        for k, v in model.state_dict().items()
    }
    return dict(model=model, optimizer=optimizer, history=history, owned=owned,
                loss_reduce="same")  # fmt: skip
