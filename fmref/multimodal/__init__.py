"""Multimodal models: contrastive image-text pretraining and large multimodal models.

The code of Chapters XIX and XX. Import from this package or from its modules, for example
``from fmref.multimodal.contrastive import clip_loss``:

- :mod:`fmref.multimodal.contrastive`: CLIP's symmetric InfoNCE loss and SigLIP's
  sigmoid loss;
- :mod:`fmref.multimodal.clip`: :class:`~fmref.multimodal.clip.CLIP` with its image
  and text towers, loading from transformers, and zero-shot classification;
- :mod:`fmref.multimodal.lmm`: the pieces that connect a vision encoder to a language
  model: LLaVA's projector and image-token splicing, Flamingo's gated
  cross-attention, a Perceiver resampler, and image-token costs;
- :mod:`fmref.multimodal.audio`: log-mel spectrograms, audio as one more modality;
- :mod:`fmref.multimodal.digits`: a tiny CLIP and a tiny multimodal language model
  trained on scikit-learn's digits, cached.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
