"""Sequence packing: many documents per training row, with their boundaries kept.

Pretraining batches are rectangles of ``block_size`` tokens. Giving every
document its own row wastes the padding after short documents; *packing*
concatenates documents, each followed by a separator token, and cuts the stream
into rows, so almost no position is padding. Packed documents would then attend
to each other; :func:`document_mask` builds the block-diagonal causal mask that
keeps attention inside each document, and :func:`document_positions` restarts
position ids at every document.
"""

from __future__ import annotations

import torch

from fmref._validate import check_positive_int

__all__ = ["pack_documents", "document_mask", "document_positions", "padding_fraction"]


def _check_block_size(block_size):
    check_positive_int("block_size", block_size)


def pack_documents(docs, block_size, sep_id, pad_id=0):
    """Concatenate tokenised documents with separators and cut them into rows.

    Parameters
    ----------
    docs : sequence of sequence of int
        Token ids of each document.
    block_size : int
        Row length (the model's context length).
    sep_id : int
        Token appended after every document (e.g. GPT-2's ``<|endoftext|>``);
        it belongs to the document it ends.
    pad_id : int, default 0
        Token that fills the end of the last row.

    Returns
    -------
    tokens : torch.Tensor
        ``(N, block_size)`` token ids.
    doc_ids : torch.Tensor
        ``(N, block_size)`` index of the document each position belongs to, -1
        on padding. A document longer than what is left of a row continues on
        the next row.

    Raises
    ------
    ValueError
        If ``block_size < 1`` or ``docs`` is empty.

    Examples
    --------
    >>> from fmref.data.packing import pack_documents
    >>> tokens, doc_ids = pack_documents([[5, 6, 7], [8], [9, 9]], block_size=4, sep_id=1)
    >>> tokens
    tensor([[5, 6, 7, 1],
            [8, 1, 9, 9],
            [1, 0, 0, 0]])
    >>> doc_ids
    tensor([[ 0,  0,  0,  0],
            [ 1,  1,  2,  2],
            [ 2, -1, -1, -1]])
    """
    _check_block_size(block_size)
    if len(docs) == 0:
        raise ValueError("docs must hold at least one document, got none")
    stream, owner = [], []
    for i, doc in enumerate(docs):
        stream.extend([*doc, sep_id])
        owner.extend([i] * (len(doc) + 1))
    pad = -len(stream) % block_size
    stream += [pad_id] * pad
    owner += [-1] * pad
    tokens = torch.tensor(stream, dtype=torch.long).view(-1, block_size)  # (N, block_size)
    return tokens, torch.tensor(owner, dtype=torch.long).view(-1, block_size)


def document_mask(doc_ids):
    """Causal attention mask that keeps every position inside its own document.

    Parameters
    ----------
    doc_ids : torch.Tensor
        ``(N, T)`` document index per position, -1 for padding (as returned by
        :func:`pack_documents`).

    Returns
    -------
    torch.Tensor
        ``(N, T, T)`` boolean, ``True`` where query ``i`` may attend to key ``j``:
        ``j <= i`` and the same document. A padding position attends only to
        itself, so no softmax row is empty.

    Raises
    ------
    ValueError
        If ``doc_ids`` is not 2-D.

    Examples
    --------
    >>> import torch
    >>> from fmref.data.packing import document_mask
    >>> document_mask(torch.tensor([[0, 0, 1, -1]])).int()
    tensor([[[1, 0, 0, 0],
             [1, 1, 0, 0],
             [0, 0, 1, 0],
             [0, 0, 0, 1]]], dtype=torch.int32)
    """
    if not isinstance(doc_ids, torch.Tensor) or doc_ids.dim() != 2:
        shape = getattr(doc_ids, "shape", doc_ids)
        raise ValueError(f"doc_ids must be a 2-D tensor (N, T), got {shape}")
    T = doc_ids.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()  # (T, T)
    same = doc_ids[:, :, None] == doc_ids[:, None, :]  # (N, T, T)
    real = (doc_ids >= 0)[:, :, None]  # (N, T, 1)
    eye = torch.eye(T, dtype=torch.bool, device=doc_ids.device)
    return (same & causal & real) | eye


def document_positions(doc_ids):
    """Position ids that restart at 0 at the start of every document in a row.

    Parameters
    ----------
    doc_ids : torch.Tensor
        ``(N, T)`` document index per position.

    Returns
    -------
    torch.Tensor
        ``(N, T)`` positions; a document continued from the previous row keeps
        counting from 0 at the row start.

    Raises
    ------
    ValueError
        If ``doc_ids`` is not 2-D.

    Examples
    --------
    >>> import torch
    >>> from fmref.data.packing import document_positions
    >>> document_positions(torch.tensor([[0, 0, 0, 1, 1, 2]]))
    tensor([[0, 1, 2, 0, 1, 0]])
    """
    if not isinstance(doc_ids, torch.Tensor) or doc_ids.dim() != 2:
        shape = getattr(doc_ids, "shape", doc_ids)
        raise ValueError(f"doc_ids must be a 2-D tensor (N, T), got {shape}")
    N, T = doc_ids.shape
    idx = torch.arange(T, device=doc_ids.device).expand(N, T)  # (N, T)
    start = torch.ones_like(doc_ids, dtype=torch.bool)
    start[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]  # a new document begins here
    first = torch.where(start, idx, torch.zeros_like(idx)).cummax(dim=1).values
    return idx - first


def padding_fraction(lengths, block_size, packed=False):
    """Fraction of positions that are padding, one document per row or packed.

    Parameters
    ----------
    lengths : sequence of int
        Document lengths in tokens (separator included).
    block_size : int
        Row length. Unpacked, a document longer than a row is truncated (its
        extra tokens are lost, not padded); packed, nothing is lost.
    packed : bool, default False
        Compute for packed rows instead.

    Returns
    -------
    float
        Padding positions over all positions.

    Raises
    ------
    ValueError
        If ``block_size < 1``, ``lengths`` is empty or a length is negative.

    Examples
    --------
    >>> from fmref.data.packing import padding_fraction
    >>> round(padding_fraction([100, 300, 1024], block_size=1024), 4)
    0.5365
    >>> round(padding_fraction([100, 300, 1024], block_size=1024, packed=True), 4)
    0.3047
    >>> round(padding_fraction([100] * 50, block_size=1024, packed=True), 4)
    0.0234
    """
    _check_block_size(block_size)
    if len(lengths) == 0 or min(lengths) < 0:
        raise ValueError(f"lengths must be a non-empty list of ints >= 0, got {lengths!r}")
    if packed:
        total = sum(lengths)
        rows = -(-total // block_size)
        return (rows * block_size - total) / (rows * block_size)
    used = sum(min(n, block_size) for n in lengths)
    return 1.0 - used / (len(lengths) * block_size)
