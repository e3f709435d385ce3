"""Training: objectives, a training loop and the techniques that make it efficient.

Import from the modules: :mod:`fmref.train.objectives` holds the pretraining
objectives (causal LM loss, BERT masking, T5 span corruption) and
:mod:`fmref.train.loop` a small training loop (AdamW with decoupled weight decay
on the right parameters, a cosine schedule, clipping, validation); the other
modules hold Chapter XII's efficient and distributed training.
"""
