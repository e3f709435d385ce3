"""Serving a language model: sampling, the KV cache, speculative decoding, batching.

The code of Chapter XIII. Import from this package or from its modules, for example
``from fmref.infer.generate import generate``:

- :mod:`fmref.infer.sampling`: temperature, top-k and top-p (nucleus) filters;
- :mod:`fmref.infer.generate`: autoregressive generation with or without a KV cache;
- :mod:`fmref.infer.kv`: KV-cache sizes (MHA, GQA, MQA, MLA) and an int8-quantised KV cache;
- :mod:`fmref.infer.speculative`: speculative decoding with exact rejection sampling;
- :mod:`fmref.infer.medusa`: Medusa draft heads on the target's hidden state;
- :mod:`fmref.infer.paged`: a paged KV-cache block allocator (vLLM's block tables);
- :mod:`fmref.infer.prefix`: a radix-tree prefix cache over paged KV blocks (SGLang);
- :mod:`fmref.infer.batching`: a serving simulator: static, continuous, chunked-prefill
  and disaggregated scheduling, with a prefix cache;
- :mod:`fmref.infer.roofline`: the roofline model of prefill and decode.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
