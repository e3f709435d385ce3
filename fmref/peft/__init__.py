"""Parameter-efficient fine-tuning: train a few parameters, keep the rest frozen.

The code of Chapter VII. Import from this package or from its modules, for example
``from fmref.peft.lora import apply_lora``:

- :mod:`fmref.peft.lora`: low-rank adaptation (LoRA), merging, and
  :func:`~fmref.peft.lora.trainable_parameters`;
- :mod:`fmref.peft.adapters`: Houlsby bottleneck adapters;
- :mod:`fmref.peft.prompts`: prompt tuning and prefix tuning (learned virtual tokens);
- :mod:`fmref.peft.bitfit`: BitFit, training the biases only;
- :mod:`fmref.peft.ia3`: (IA)\\ :sup:`3`, learned rescaling of activations;
- :mod:`fmref.peft.experiment`: the small fine-tuning task on which the chapter
  compares the methods.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
