"""Neural-network building blocks of fmref.

Import from this package or from its modules, for example
``from fmref.nn.attention import MultiHeadAttention``:

- :mod:`fmref.nn.attention`: scaled dot-product attention, causal masks,
  the key/value cache, multi-head, grouped-query and multi-query attention;
- :mod:`fmref.nn.position`: sinusoidal, rotary (RoPE) and ALiBi positions;
- :mod:`fmref.nn.norm`: LayerNorm and RMSNorm;
- :mod:`fmref.nn.recurrent`: Elman RNN, LSTM and GRU cells written from their equations
  (Chapter III);
- :mod:`fmref.nn.conv`: convolution as unfold and matmul, pooling, receptive fields
  (Chapter III);
- :mod:`fmref.nn.efficient`: tiled (FlashAttention) attention, sparse patterns and
  linear attention (Chapter VI);
- :mod:`fmref.nn.moe`: mixture of experts, with top-k routing, capacity and load
  balancing, and DeepSeek-V3's shared and fine-grained experts with sigmoid,
  group-limited routing and bias balancing (Chapter VI);
- :mod:`fmref.nn.mla`: multi-head latent attention, its latent KV cache and the
  absorbed decoding form (Chapter V).
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
