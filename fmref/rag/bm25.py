r"""Okapi BM25: the sparse retrieval baseline.

BM25 scores a document ``D`` for a query ``Q`` by summing, over the query's
terms, an inverse document frequency times a saturating term frequency that is
normalised by the document's length (Robertson and Zaragoza, 2009):

.. math::

   \operatorname{score}(D, Q) = \sum_{q \in Q} \operatorname{IDF}(q)\,
   \frac{f(q, D)\,(k_1 + 1)}{f(q, D) + k_1 \left(1 - b + b\,|D| / \mathrm{avgdl}\right)},
   \qquad
   \operatorname{IDF}(q) = \ln \frac{N - n(q) + 0.5}{n(q) + 0.5}.

A term found in more than half of the ``N`` documents gets a negative IDF; as
in ``rank_bm25.BM25Okapi``, such IDFs are replaced by ``epsilon`` times the
mean IDF of the vocabulary, so the scores here equal that library's exactly.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import torch

from fmref._validate import check_positive_int

__all__ = ["tokenize", "BM25"]

_WORD = re.compile(r"\w+")


def tokenize(text):
    """Lower-cased word tokens: the simple analyser used with :class:`BM25`.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        The runs of letters, digits and underscores of ``text.lower()``.

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.rag.bm25 import tokenize
    >>> tokenize("The `with` statement, e.g. with open(f) as g:")
    ['the', 'with', 'statement', 'e', 'g', 'with', 'open', 'f', 'as', 'g']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def _check_tokens(tokens, name):
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of str tokens (e.g. tokenize(text)), "
            f"got {type(tokens).__name__}"
        )
    return tokens


class BM25:
    """Okapi BM25 index over tokenised documents.

    Parameters
    ----------
    corpus_tokens : sequence of list of str
        One list of tokens per document (e.g. ``[tokenize(d) for d in docs]``).
    k1 : float, default 1.5
        Term-frequency saturation: a term's contribution tends to ``IDF * (k1 + 1)``.
    b : float, default 0.75
        Length normalisation, from 0 (none) to 1 (full).
    epsilon : float, default 0.25
        Negative IDFs (terms in more than half the documents) become
        ``epsilon * mean IDF``, as in ``rank_bm25.BM25Okapi``.

    Attributes
    ----------
    idf : dict of str to float
        IDF of every term of the corpus (after the epsilon floor).
    doc_len : torch.Tensor
        Length of every document in tokens, ``(N,)`` float64.
    avgdl : float
        Mean document length.
    average_idf : float
        Mean IDF before the floor.

    Raises
    ------
    ValueError
        If ``corpus_tokens`` is empty or holds no token at all, ``k1 < 0``,
        ``b`` is outside ``[0, 1]`` or ``epsilon < 0``.
    TypeError
        If a document is not a list of tokens (a str would be read letter by letter).

    References
    ----------
    .. [1] Robertson and Zaragoza, "The Probabilistic Relevance Framework: BM25 and
       Beyond", Foundations and Trends in Information Retrieval, 2009.

    Examples
    --------
    >>> from fmref.rag.bm25 import BM25, tokenize
    >>> docs = ["a list is a mutable sequence", "a tuple is an immutable sequence",
    ...         "a dict maps keys to values"]
    >>> bm25 = BM25([tokenize(d) for d in docs])
    >>> [round(s, 4) for s in bm25.get_scores(tokenize("immutable sequence")).tolist()]
    [0.0412, 0.552, 0.0]
    >>> [(i, round(s, 4)) for i, s in bm25.top_k(tokenize("which type maps keys"), k=2)]
    [(2, 1.0217), (0, 0.0)]
    """

    def __init__(self, corpus_tokens, k1=1.5, b=0.75, epsilon=0.25):
        if isinstance(corpus_tokens, str) or len(corpus_tokens) == 0:
            raise ValueError("corpus_tokens must hold at least one tokenised document")
        if not k1 >= 0:
            raise ValueError(f"k1 must be >= 0, got {k1!r}")
        if not 0 <= b <= 1:
            raise ValueError(f"b must be in [0, 1], got {b!r}")
        if not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
        self.k1, self.b, self.epsilon = float(k1), float(b), float(epsilon)
        self.corpus_size = len(corpus_tokens)
        # Inverted index: term -> (document ids, term frequencies in them).
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = []
        for i, doc in enumerate(corpus_tokens):
            _check_tokens(doc, f"corpus_tokens[{i}]")
            lengths.append(len(doc))
            for term, freq in Counter(doc).items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(freq)
        total = sum(lengths)
        if total == 0:
            raise ValueError("corpus_tokens must hold at least one token (all documents are empty)")
        self.doc_len = torch.tensor(lengths, dtype=torch.float64)  # (N,)
        self.avgdl = total / self.corpus_size
        self._postings = {
            t: (torch.tensor(ids), torch.tensor(tfs, dtype=torch.float64))
            for t, (ids, tfs) in postings.items()
        }
        # IDF with rank_bm25's floor: negative values -> epsilon * mean IDF.
        N = self.corpus_size
        self.idf = {}
        for term, (ids, _) in self._postings.items():
            n = len(ids)
            self.idf[term] = math.log(N - n + 0.5) - math.log(n + 0.5)
        self.average_idf = sum(self.idf.values()) / len(self.idf)
        floor = self.epsilon * self.average_idf
        for term, value in self.idf.items():
            if value < 0:
                self.idf[term] = floor
        # Length normaliser k1 (1 - b + b |D| / avgdl) of every document, (N,).
        self._norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)

    def get_scores(self, query_tokens):
        """BM25 score of every document for a query.

        Parameters
        ----------
        query_tokens : list of str
            The query's tokens; a repeated token counts once per occurrence
            (as in ``rank_bm25``), an unknown token adds nothing.

        Returns
        -------
        torch.Tensor
            Scores ``(N,)`` in float64, in document order.

        Raises
        ------
        TypeError
            If ``query_tokens`` is not a list or tuple of tokens.

        Examples
        --------
        >>> from fmref.rag.bm25 import BM25
        >>> bm25 = BM25([["red", "fox"], ["red", "red", "hen"], ["blue", "sky"]])
        >>> [round(s, 4) for s in bm25.get_scores(["red"]).tolist()]  # 2 of 3 docs: IDF floored
        [0.0819, 0.1003, 0.0]
        >>> [round(s, 4) for s in bm25.get_scores(["fox", "hen"]).tolist()]
        [0.5459, 0.4526, 0.0]
        """
        _check_tokens(query_tokens, "query_tokens")
        scores = torch.zeros(self.corpus_size, dtype=torch.float64)  # (N,)
        for term in query_tokens:
            if term not in self._postings:
                continue
            ids, tf = self._postings[term]  # documents holding the term, their counts
            scores[ids] += self.idf[term] * (tf * (self.k1 + 1) / (tf + self._norm[ids]))
        return scores

    def top_k(self, query_tokens, k):
        """The ``k`` best documents for a query.

        Parameters
        ----------
        query_tokens : list of str
            The query's tokens.
        k : int
            How many documents to return (at most the corpus size).

        Returns
        -------
        list of (int, float)
            ``(document index, score)`` pairs, best first; equal scores keep
            document order.

        Raises
        ------
        ValueError
            If ``k`` is not a positive int.

        Examples
        --------
        >>> from fmref.rag.bm25 import BM25
        >>> bm25 = BM25([["red", "fox"], ["red", "red", "hen"], ["blue", "sky"]])
        >>> [(i, round(s, 4)) for i, s in bm25.top_k(["sky", "fox"], k=5)]
        [(0, 0.5459), (2, 0.5459), (1, 0.0)]
        """
        check_positive_int("k", k)
        scores = self.get_scores(query_tokens)
        order = torch.sort(scores, descending=True, stable=True).indices[:k]
        return [(int(i), float(scores[i])) for i in order]
