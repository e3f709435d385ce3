"""Complete models built from :mod:`fmref.nn`.

Each name is importable from its module (``from fmref.models.gpt import GPT``) or from
this package (``from fmref.models import GPT``):

- :mod:`fmref.models.seq2seq`: an RNN encoder-decoder with additive (Bahdanau) attention
  (Chapter IV);
- :mod:`fmref.models.transformer`: the original encoder-decoder Transformer, post-norm or
  pre-norm (Chapter IV);
- :mod:`fmref.models.gpt`: GPT-2, the decoder-only Transformer with nanoGPT's names
  (Chapter V);
- :mod:`fmref.models.bert`: BERT, a bidirectional encoder (Chapter VIII);
- :mod:`fmref.models.llama`: LLaMA with RMSNorm, SwiGLU, RoPE and grouped-query attention
  (Chapter IX);
- :mod:`fmref.models.mamba`: Mamba, the selective state-space language model, with its
  parallel scan and recurrent state (Chapter VI);
- :mod:`fmref.models.deepseek`: DeepSeek-V3 with multi-head latent attention, shared and
  routed experts and multi-token prediction (Chapter IX);
- :mod:`fmref.models.vit`: the Vision Transformer (Chapter XVI).
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
