"""An inverted-file (IVF) index: approximate search by probing a few clusters.

Exact search compares the query with all ``N`` stored vectors. An IVF index
(Jégou et al., 2011, the coarse quantiser of IVFADC) first clusters the
vectors with k-means into ``n_lists`` cells; a query is compared with the
``n_lists`` centroids, and only the vectors of the ``n_probe`` closest cells
are scored. The work drops from ``N`` to about ``n_lists + n_probe * N / n_lists``
inner products; the price is recall: a true neighbour in a cell that was not
probed is missed. Raising ``n_probe`` trades speed back for recall.
"""

from __future__ import annotations

import torch

from fmref._validate import check_int, check_positive_int

__all__ = ["kmeans", "IVFIndex"]


def kmeans(x, n_clusters, n_iter=20, seed=0):
    """Spherical k-means (cosine): centroids of unit vectors, renormalised.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, d)`` vectors (unit norm for cosine similarity).
    n_clusters : int
        Number of clusters, ``1 <= n_clusters <= N``.
    n_iter : int, default 20
        Lloyd iterations.
    seed : int, default 0
        Seeds the choice of the initial centroids among the vectors.

    Returns
    -------
    centroids : torch.Tensor
        ``(n_clusters, d)`` unit vectors.
    assign : torch.Tensor
        ``(N,)`` cluster of every vector (the most similar centroid).

    Raises
    ------
    ValueError
        If ``n_clusters`` is not in ``[1, N]``.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.ivf import kmeans
    >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> centroids, assign = kmeans(torch.nn.functional.normalize(x, dim=1), 2)
    >>> bool(assign[0] == assign[1]), bool(assign[0] != assign[2])
    (True, True)
    """
    N = x.shape[0]
    check_int("n_clusters", n_clusters, 1, N)
    g = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(N, generator=g)[:n_clusters]].clone()  # (n_clusters, d)
    for _ in range(n_iter):
        assign = (x @ centroids.T).argmax(dim=1)  # (N,): nearest centroid by cosine
        for c in range(n_clusters):
            members = x[assign == c]
            if len(members):  # an empty cluster keeps its centroid
                centroids[c] = torch.nn.functional.normalize(members.mean(0), dim=0)
    return centroids, (x @ centroids.T).argmax(dim=1)


class IVFIndex:
    """Inverted-file index: k-means cells, search in the ``n_probe`` nearest cells.

    Parameters
    ----------
    embeddings : torch.Tensor
        ``(N, d)`` unit vectors to index.
    n_lists : int
        Number of k-means cells.
    seed : int, default 0
        Seed of the k-means initialisation.

    Attributes
    ----------
    centroids : torch.Tensor
        ``(n_lists, d)``.
    lists : list of torch.Tensor
        Row indices of the vectors in every cell (the inverted lists).

    Raises
    ------
    ValueError
        If ``embeddings`` is not a non-empty ``(N, d)`` tensor or ``n_lists``
        is not in ``[1, N]``.

    References
    ----------
    .. [1] Jégou, Douze and Schmid, "Product Quantization for Nearest Neighbor
       Search", IEEE TPAMI 2011.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.ivf import IVFIndex
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.nn.functional.normalize(torch.randn(1000, 16, generator=g), dim=1)
    >>> index = IVFIndex(x, n_lists=20)
    >>> ids, scanned = index.search(x[:5], k=1, n_probe=3)
    >>> ids[:, 0].tolist(), scanned < 1000  # each vector finds itself, scanning fewer
    ([0, 1, 2, 3, 4], True)
    """

    def __init__(self, embeddings, n_lists, seed=0):
        if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2 or not len(embeddings):
            raise ValueError("embeddings must be a non-empty 2-D tensor (N, d)")
        check_int("n_lists", n_lists, 1, len(embeddings))
        self.embeddings = embeddings.detach().float()
        self.centroids, assign = kmeans(self.embeddings, n_lists, seed=seed)
        self.lists = [torch.nonzero(assign == c).flatten() for c in range(n_lists)]

    def search(self, queries, k, n_probe=1):
        """Approximate top-``k`` by inner product, probing ``n_probe`` cells per query.

        Parameters
        ----------
        queries : torch.Tensor
            ``(Q, d)`` query embeddings.
        k : int
            Results per query (fewer if the probed cells hold fewer vectors;
            missing entries are ``-1``).
        n_probe : int, default 1
            Cells searched per query, ``1 <= n_probe <= n_lists``.

        Returns
        -------
        ids : torch.Tensor
            ``(Q, k)`` row indices, best first.
        scanned : float
            Mean number of inner products per query (centroids included).

        Raises
        ------
        ValueError
            If ``k`` or ``n_probe`` is out of range, or the queries' size is not ``d``.
        """
        n_lists = len(self.lists)
        check_positive_int("k", k)
        check_int("n_probe", n_probe, 1, n_lists)
        if queries.dim() != 2 or queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(
                f"queries must have shape (Q, {self.embeddings.shape[1]}), "
                f"got {tuple(queries.shape)}"
            )
        queries = queries.detach().float()
        probes = (queries @ self.centroids.T).topk(n_probe, dim=1).indices  # (Q, n_probe)
        out = torch.full((len(queries), k), -1, dtype=torch.long)
        scanned = 0
        for q, cells in enumerate(probes):
            cand = torch.cat([self.lists[c] for c in cells.tolist()])  # candidate rows
            scanned += n_lists + len(cand)
            scores = self.embeddings[cand] @ queries[q]  # only the probed cells
            best = scores.topk(min(k, len(cand))).indices
            out[q, : len(best)] = cand[best]
        return out, scanned / len(queries)
