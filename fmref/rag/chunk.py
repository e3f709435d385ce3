"""Chunking: cut documents into overlapping passages that fit an encoder.

A retriever indexes *chunks*, not whole documents: an encoder reads a bounded
number of tokens (256 for all-MiniLM-L6-v2), one embedding cannot summarise a
long page, and a language model's prompt has room for a few passages only.
:func:`chunk_text` cuts a text at white space into chunks of at most
``max_tokens`` tokens, where consecutive chunks share up to ``overlap``
tokens, so that a sentence cut by one boundary is whole in the neighbour.
"""

from __future__ import annotations

import re

from fmref._validate import check_int, check_positive_int

__all__ = ["chunk_text"]

_WORD = re.compile(r"\S+")


def chunk_text(text, max_tokens, overlap=0, tokenizer=None):
    """Split a text into overlapping chunks of at most ``max_tokens`` tokens.

    Chunks start and end at white space, and each chunk is a substring of
    ``text`` (its line breaks and indentation kept). A chunk takes as many
    whole words as fit in ``max_tokens`` tokens; the next chunk starts so that
    the two share the longest run of whole words holding at most ``overlap``
    tokens (and at least one new word).

    Parameters
    ----------
    text : str
        The document.
    max_tokens : int
        Largest chunk in tokens. A single word longer than that becomes a
        chunk of its own.
    overlap : int, default 0
        Tokens shared by consecutive chunks, ``0 <= overlap < max_tokens``.
    tokenizer : callable, optional
        Maps a word to its tokens, e.g. ``WordPieceTokenizer.tokenize`` so that
        a chunk fits the encoder exactly (WordPiece splits on white space
        first, so the counts add up). Default: one token per word.

    Returns
    -------
    list of str
        The chunks in order; empty if ``text`` holds only white space.

    Raises
    ------
    TypeError
        If ``text`` is not a str or ``tokenizer`` is not callable.
    ValueError
        If ``max_tokens`` is not a positive int or ``overlap`` is not in
        ``[0, max_tokens)``.

    Examples
    --------
    >>> from fmref.rag.chunk import chunk_text
    >>> chunk_text("one two three four five six seven", max_tokens=3, overlap=1)
    ['one two three', 'three four five', 'five six seven']
    >>> chunk_text("a b\\n  c d", max_tokens=3)  # layout kept inside a chunk
    ['a b\\n  c', 'd']
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "token", "##s", "are",
    ...                           "pieces"])
    >>> chunk_text("tokens are pieces", max_tokens=3, tokenizer=tok.tokenize)  # 2 + 1 + 1
    ['tokens are', 'pieces']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    check_positive_int("max_tokens", max_tokens)
    check_int("overlap", overlap, low=0)
    if overlap >= max_tokens:
        raise ValueError(f"overlap must be < max_tokens={max_tokens}, got overlap={overlap}")
    if tokenizer is not None and not callable(tokenizer):
        raise TypeError(f"tokenizer must be callable (word -> tokens), got {tokenizer!r}")
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    cost = [1 if tokenizer is None else len(tokenizer(text[s:e])) for s, e in words]
    chunks, start, n = [], 0, len(words)
    while start < n:
        end, total = start, 0
        while end < n and (end == start or total + cost[end] <= max_tokens):
            total += cost[end]
            end += 1
        chunks.append(text[words[start][0] : words[end - 1][1]])
        if end == n:
            break
        nxt, shared = end, 0  # walk back over the words the next chunk repeats
        while nxt - 1 > start and shared + cost[nxt - 1] <= overlap:
            shared += cost[nxt - 1]
            nxt -= 1
        start = nxt
    return chunks
