r"""Retrieval metrics: recall@k, mean reciprocal rank, nDCG@k.

Each function scores one query: a ranking (ids, best first) against the
relevant ids; average over the queries of an evaluation set.

* **recall@k** is the fraction of the relevant ids found in the first ``k``.
* **Reciprocal rank** is ``1 / rank`` of the first relevant id (0 if none);
  its mean over queries is MRR.
* **nDCG@k** (Järvelin and Kekäläinen, 2002) uses graded relevance
  :math:`\mathrm{rel}_i` and a logarithmic discount,

  .. math::

     \mathrm{DCG@k} = \sum_{i=1}^{k} \frac{\mathrm{rel}_i}{\log_2(i + 1)}, \qquad
     \mathrm{nDCG@k} = \frac{\mathrm{DCG@k}}{\mathrm{IDCG@k}},

  where IDCG@k is the DCG of the ideal ranking. The gains are linear, as in
  scikit-learn's ``ndcg_score``; a common variant (Burges et al., 2005) uses
  :math:`2^{\mathrm{rel}_i} - 1` to reward highly relevant items more.
"""

from __future__ import annotations

import math

from fmref._validate import check_positive_int

__all__ = ["recall_at_k", "reciprocal_rank", "mrr", "ndcg_at_k"]


def _check_k(k):
    check_positive_int("k", k)


def _check_relevant(relevant):
    if isinstance(relevant, str) or not hasattr(relevant, "__len__"):
        raise TypeError(f"relevant must be a collection of ids, got {type(relevant).__name__}")
    if len(relevant) == 0:
        raise ValueError("relevant must hold at least one relevant id")


def recall_at_k(ranking, relevant, k):
    """Fraction of the relevant ids among the first ``k`` of a ranking.

    Parameters
    ----------
    ranking : sequence
        Ids, best first.
    relevant : collection
        The relevant ids (a set, or a dict of grades: grades > 0 count).
    k : int
        Cut-off.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``k`` is not a positive int or ``relevant`` is empty.

    Examples
    --------
    >>> from fmref.rag.metrics import recall_at_k
    >>> recall_at_k(["d3", "d1", "d7", "d2"], {"d1", "d2"}, k=3)
    0.5
    """
    _check_k(k)
    rel = _as_grades(relevant)
    _check_relevant(rel)
    found = sum(1 for item in ranking[:k] if rel.get(item, 0) > 0)
    return found / sum(1 for g in rel.values() if g > 0)


def reciprocal_rank(ranking, relevant):
    """``1 / rank`` of the first relevant id, 0 if none is ranked.

    Parameters
    ----------
    ranking : sequence
        Ids, best first.
    relevant : collection
        The relevant ids (set, or dict of grades > 0).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``relevant`` is empty.

    Examples
    --------
    >>> from fmref.rag.metrics import reciprocal_rank
    >>> reciprocal_rank(["d3", "d1", "d7"], {"d1", "d7"})
    0.5
    """
    rel = _as_grades(relevant)
    _check_relevant(rel)
    for rank, item in enumerate(ranking, start=1):
        if rel.get(item, 0) > 0:
            return 1.0 / rank
    return 0.0


def mrr(rankings, relevants):
    """Mean reciprocal rank over queries.

    Parameters
    ----------
    rankings : sequence of sequence
        One ranking per query.
    relevants : sequence of collection
        The relevant ids of each query.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the two sequences differ in length or are empty.

    References
    ----------
    .. [1] Voorhees, "The TREC-8 Question Answering Track Report", TREC 1999.

    Examples
    --------
    >>> from fmref.rag.metrics import mrr
    >>> mrr([["a", "b"], ["c", "d"]], [{"a"}, {"d"}])  # (1 + 1/2) / 2
    0.75
    """
    if len(rankings) != len(relevants) or len(rankings) == 0:
        raise ValueError(
            f"rankings and relevants must be non-empty and of equal length, "
            f"got {len(rankings)} and {len(relevants)}"
        )
    return sum(reciprocal_rank(r, rel) for r, rel in zip(rankings, relevants)) / len(rankings)


def _as_grades(relevant):
    if isinstance(relevant, str) or not hasattr(relevant, "__iter__"):
        raise TypeError(f"relevant must be a collection of ids, got {type(relevant).__name__}")
    if isinstance(relevant, dict):
        for item, grade in relevant.items():
            if not isinstance(grade, (int, float)) or isinstance(grade, bool) or grade < 0:
                raise ValueError(f"relevant grades must be numbers >= 0, got {item!r}: {grade!r}")
        return dict(relevant)
    return {item: 1 for item in relevant}


def ndcg_at_k(ranking, relevant, k):
    """Normalised discounted cumulative gain at ``k``, with linear gains.

    Parameters
    ----------
    ranking : sequence
        Ids, best first.
    relevant : dict or collection
        Graded relevance ``{id: grade}`` (grades >= 0); a set means grade 1.
        Ids not in it have grade 0.
    k : int
        Cut-off.

    Returns
    -------
    float
        In ``[0, 1]``; 1 when the first ``k`` ids are in the ideal order.

    Raises
    ------
    ValueError
        If ``k`` is not a positive int, ``relevant`` holds no grade above 0,
        or a grade is negative.

    References
    ----------
    .. [1] Järvelin and Kekäläinen, "Cumulated Gain-Based Evaluation of IR
       Techniques", ACM TOIS 2002.

    Examples
    --------
    >>> from fmref.rag.metrics import ndcg_at_k
    >>> round(ndcg_at_k(["b", "a", "c"], {"a": 2, "b": 1}, k=3), 4)  # swapped top two
    0.8597
    >>> ndcg_at_k(["a", "b", "c"], {"a": 2, "b": 1}, k=3)
    1.0
    """
    _check_k(k)
    rel = _as_grades(relevant)
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:k]
    if not ideal:
        raise ValueError("relevant must hold at least one grade above 0")
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = sum(rel.get(item, 0) / math.log2(i + 2) for i, item in enumerate(ranking[:k]))
    return dcg / idcg
