"""Training: pretraining objectives and a small training loop.

Modules
-------
:mod:`fmref.train.objectives`
    Causal LM loss, BERT masking, T5 span corruption.
:mod:`fmref.train.loop`
    AdamW with decoupled weight decay, a cosine schedule, clipping, validation.
"""
