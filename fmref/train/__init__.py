"""Training: objectives, a training loop and the techniques that make it efficient.

Import from this package or from its modules: :mod:`fmref.train.objectives` holds the pretraining
objectives (causal LM loss, BERT masking, T5 span corruption) and
:mod:`fmref.train.loop` a small training loop (AdamW with decoupled weight decay
on the right parameters, a cosine schedule, clipping, validation); Chapter XII's
:mod:`fmref.train.efficient` accounts for training memory (mixed precision,
activation checkpointing, gradient accumulation, ZeRO) and
:mod:`fmref.train.distributed` runs data-parallel training over several processes
(``torchrun``); :mod:`fmref.train.parallel` runs every other parallelism
(FSDP, tensor, sequence, pipeline, context and expert) and plans their memory.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
