"""Neural-network building blocks of fmref.

Import from the modules, for example
``from fmref.nn.attention import MultiHeadAttention``:

- :mod:`fmref.nn.attention`: scaled dot-product attention, causal masks,
  the key/value cache, multi-head, grouped-query and multi-query attention;
- :mod:`fmref.nn.position`: sinusoidal, rotary (RoPE) and ALiBi positions;
- :mod:`fmref.nn.norm`: LayerNorm and RMSNorm.
"""
