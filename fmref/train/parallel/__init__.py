"""Every parallelism, really run: data, fully sharded, tensor, sequence, pipeline, context, expert.

One command trains fmref's Llama with any strategy over torch.distributed
(gloo on CPUs, nccl on GPUs) and checks it against the same training in one
process::

    torchrun --nproc-per-node 2 -m fmref.train.parallel --strategy fsdp --steps 4

- :mod:`fmref.train.parallel.run`: the command line
  (:func:`~fmref.train.parallel.run.main`), the layout check that runs before
  any process group (:func:`~fmref.train.parallel.run.check_layout`) and
  :func:`~fmref.train.parallel.run.launch`, which runs it in a subprocess.
- :mod:`fmref.train.parallel.common`: the model, the global batches, the
  single-process reference and the meters (state bytes, bytes sent).
- :mod:`fmref.train.parallel.data_parallel`: DDP, ZeRO-1, ZeRO-2
  (:class:`~fmref.train.parallel.data_parallel.ShardedGradAdamW`) and FSDP2's ``fully_shard``.
- :mod:`fmref.train.parallel.tensor`: Megatron's column and row splits and
  sequence parallelism with ``parallelize_module``
  (:func:`~fmref.train.parallel.tensor.tensor_parallel_plan`).
- :mod:`fmref.train.parallel.pipeline`: stages
  (:class:`~fmref.train.parallel.pipeline.LlamaStage`) under torch's GPipe and
  1F1B schedules, with the schedule recorded
  (:func:`~fmref.train.parallel.pipeline.record_schedule`).
- :mod:`fmref.train.parallel.context`: ring attention with the online softmax
  (:func:`~fmref.train.parallel.context.ring_attention`) and the zig-zag split of a causal sequence.
- :mod:`fmref.train.parallel.expert`: experts spread over ranks, tokens moved
  by all-to-all (:class:`~fmref.train.parallel.expert.ExpertParallelMoE`).
- :mod:`fmref.train.parallel.formulas`: bytes of collectives, pipeline
  bubbles, and the memory planner (:func:`~fmref.train.parallel.formulas.parallel_memory`).
- :mod:`fmref.train.parallel.precision`: bf16 autocast with float32 master
  weights and simulated FP8 training with delayed scaling.
"""

from fmref._lazy import attach as _attach

# the names live on their modules' pages; ``from fmref.train.parallel import ...`` finds them
__all__ = []

__getattr__, __dir__ = _attach(__name__, __path__)
