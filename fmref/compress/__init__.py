"""Making a model smaller: quantisation, pruning and distillation.

The code of Chapter XIV. Import from this package or from its modules, for example
``from fmref.compress.quant import quantize_absmax``:

- :mod:`fmref.compress.quant`: absmax, zero-point and group-wise integer quantisation,
  and :class:`~fmref.compress.quant.QuantLinear`;
- :mod:`fmref.compress.gptq`: round-to-nearest and GPTQ on a min-max grid;
- :mod:`fmref.compress.awq`: AWQ's activation-aware scale search;
- :mod:`fmref.compress.fp8`: FP8 (E4M3, E5M2) with per-tensor or per-block scales,
  and :class:`~fmref.compress.fp8.FP8Linear`;
- :mod:`fmref.compress.nf4`: QLoRA's 4-bit NormalFloat with double quantisation;
- :mod:`fmref.compress.outliers`: LLM.int8()'s outlier decomposition and SmoothQuant;
- :mod:`fmref.compress.prune`: magnitude, 2:4 and Wanda pruning;
- :mod:`fmref.compress.distill`: knowledge distillation;
- :mod:`fmref.compress.apply`: one method applied to every linear layer of a model, the
  size and error that result, and the tiny GPT's perplexity under each method.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
