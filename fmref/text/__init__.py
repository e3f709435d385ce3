"""Text for language models: byte-level BPE, a small corpus, softmax and friends.

:mod:`fmref.text.bpe` holds :class:`~fmref.text.bpe.BPETokenizer`, byte-level
byte-pair encoding; :mod:`fmref.text.corpus` the Python documentation corpus
(:func:`~fmref.text.corpus.python_docs`); :mod:`fmref.text.functional`
:func:`~fmref.text.functional.softmax`, ``log_softmax`` and ``cosine_similarity``
written out; :mod:`fmref.text.wordpiece` BERT's WordPiece tokenizer, read from a
``vocab.txt``.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
