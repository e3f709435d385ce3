"""Dense retrieval: exact inner-product search, and fusing rankings.

A bi-encoder maps the query and every chunk to unit vectors; the best chunks
are those with the largest inner product (cosine similarity) with the query.
:class:`DenseIndex` does it exactly, one matrix product over the whole
corpus, the reference that approximate indexes (IVF, HNSW, PQ) are measured
against. :func:`reciprocal_rank_fusion` merges the rankings of several
retrievers, for example BM25 and a dense index, without comparing their
scores (Cormack et al., 2009).
"""

from __future__ import annotations

import torch

from fmref._validate import check_finite, check_number, check_positive_int

__all__ = ["DenseIndex", "reciprocal_rank_fusion"]


class DenseIndex:
    """Exact maximum-inner-product search over stored embeddings.

    Parameters
    ----------
    embeddings : torch.Tensor
        ``(N, d)`` corpus embeddings, ``N >= 1`` (unit vectors for cosine
        similarity).

    Attributes
    ----------
    embeddings : torch.Tensor
        The stored ``(N, d)`` matrix (float32).

    Raises
    ------
    ValueError
        If ``embeddings`` is not a non-empty 2-D tensor.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.dense import DenseIndex
    >>> index = DenseIndex(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
    >>> scores, ids = index.search(torch.tensor([[0.0, 1.0]]), k=2)
    >>> ids, scores
    (tensor([[2, 1]]), tensor([[1.0000, 0.8000]]))
    >>> [(i, round(s, 2)) for i, s in index.top_k(torch.tensor([1.0, 0.0]), k=3)]
    [(0, 1.0), (1, 0.6), (2, 0.0)]
    """

    def __init__(self, embeddings):
        if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2:
            shape = tuple(getattr(embeddings, "shape", ()))
            raise ValueError(f"embeddings must be a 2-D tensor (N, d), got shape {shape}")
        if embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
            raise ValueError(
                f"embeddings must hold at least one vector, got shape {tuple(embeddings.shape)}"
            )
        check_finite("embeddings", embeddings)
        self.embeddings = embeddings.detach().float()

    def __len__(self):
        return self.embeddings.shape[0]

    @property
    def dim(self):
        """Embedding size ``d``."""
        return self.embeddings.shape[1]

    def search(self, queries, k):
        """The ``k`` stored vectors with the largest inner product with each query.

        Parameters
        ----------
        queries : torch.Tensor
            ``(Q, d)`` or ``(d,)`` query embeddings.
        k : int
            Results per query; at most ``N`` are returned.

        Returns
        -------
        scores : torch.Tensor
            ``(Q, k)`` inner products, best first.
        ids : torch.Tensor
            ``(Q, k)`` row indices of the stored vectors.

        Raises
        ------
        ValueError
            If ``k`` is not a positive int or the queries' size is not ``d``.
        """
        check_positive_int("k", k)
        if not isinstance(queries, torch.Tensor) or queries.dim() not in (1, 2):
            raise ValueError("queries must be a tensor of shape (Q, d) or (d,)")
        queries = queries.detach().float().reshape(-1, queries.shape[-1])  # (Q, d)
        if queries.shape[1] != self.dim:
            raise ValueError(
                f"queries must have the index's dimension d={self.dim}, got {queries.shape[1]}"
            )
        scores = queries @ self.embeddings.T  # (Q, N): every inner product
        return torch.topk(scores, min(k, len(self)), dim=1)

    def top_k(self, query, k):
        """Best ``k`` stored vectors for one query, as :meth:`fmref.rag.bm25.BM25.top_k` gives them.

        Parameters
        ----------
        query : torch.Tensor
            ``(d,)`` query embedding.
        k : int
            How many results.

        Returns
        -------
        list of (int, float)
            ``(row index, inner product)`` pairs, best first.

        Raises
        ------
        ValueError
            As :meth:`search`, or if ``query`` is not one vector.
        """
        if not isinstance(query, torch.Tensor) or query.dim() != 1:
            raise ValueError("query must be one embedding of shape (d,)")
        scores, ids = self.search(query, k)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0])]


def reciprocal_rank_fusion(rankings, k=60):
    """Merge rankings by summing ``1 / (k + rank)`` over the rankings of each item.

    Parameters
    ----------
    rankings : sequence of sequence
        Each a ranking of item ids, best first (ranks start at 1). An id may
        be missing from some rankings; it then gains nothing from them.
    k : int or float, default 60
        Smoothing constant: the larger, the more the lower ranks count
        relative to the top ones (60 in the paper).

    Returns
    -------
    list of (id, float)
        Every id that appears in some ranking with its fused score, best first;
        ties keep the order of first appearance.

    Raises
    ------
    ValueError
        If ``rankings`` is empty, ``k < 0``, or a ranking repeats an id.

    References
    ----------
    .. [1] Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion Outperforms
       Condorcet and Individual Rank Learning Methods", SIGIR 2009.

    Examples
    --------
    >>> from fmref.rag.dense import reciprocal_rank_fusion
    >>> bm25 = ["a", "b", "c"]
    >>> dense = ["c", "a", "d"]
    >>> [(d, round(s, 5)) for d, s in reciprocal_rank_fusion([bm25, dense])]
    [('a', 0.03252), ('c', 0.03227), ('b', 0.01613), ('d', 0.01587)]
    """
    if len(rankings) == 0:
        raise ValueError("rankings must hold at least one ranking")
    check_number("k", k, low=0)
    fused = {}
    for r, ranking in enumerate(rankings):
        ranking = list(ranking)
        if len(set(ranking)) != len(ranking):
            raise ValueError(f"rankings[{r}] must not repeat an id")
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])  # stable: ties keep first appearance
