"""Text for language models: byte-level BPE, a small corpus, softmax and friends.

Modules
-------
:mod:`fmref.text.bpe`
    :class:`~fmref.text.bpe.BPETokenizer`, byte-level byte-pair encoding.
:mod:`fmref.text.corpus`
    :func:`~fmref.text.corpus.python_docs`, the Python documentation corpus.
:mod:`fmref.text.functional`
    :func:`~fmref.text.functional.softmax`, ``log_softmax`` and
    ``cosine_similarity`` written out.
"""

__all__: list[str] = []
