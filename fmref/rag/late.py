"""Late interaction: one vector per token, and the sum of maximum similarities.

A bi-encoder squeezes a passage into one vector before it sees the question; a
cross-encoder reads both together but must run once per candidate. ColBERT
(Khattab and Zaharia, 2020) sits between them: query and passage are encoded
separately, so passage vectors are computed offline, but *every token* keeps
its vector, and the relevance of a passage is

.. math::

   S(q, d) = \\sum_{i=1}^{|q|} \\max_{j=1}^{|d|} E_{q_i} \\cdot E_{d_j},

each query token matched with its most similar passage token (MaxSim), the
matches summed. :func:`maxsim` is that formula; :class:`LateInteractionIndex`
stores the token vectors of a corpus in one matrix and scores every passage
with one matrix product and a segment-wise maximum.

fmref applies it to the token states of the real all-MiniLM-L6-v2
(:meth:`fmref.rag.minilm.SentenceEncoder.token_embeddings`), unit-normalised,
without ColBERT's trained 128-dimensional projection, its query padding with
``[MASK]`` or its ``[Q]``/``[D]`` markers: MiniLM was trained to be mean-pooled,
not matched token by token, so this measures what the idea gives with no
training at all. As in ColBERT, punctuation tokens of the passages are left out
of the index. :func:`corpus_token_vectors` computes the vectors of
:func:`fmref.rag.evalset.corpus_chunks` once and caches them in
:mod:`fmref.zoo` (stored as float16: 30 MB instead of 60).
"""

from __future__ import annotations

import torch

from fmref._validate import check_positive_int, check_tensor
from fmref.text.wordpiece import _is_punctuation

__all__ = [
    "maxsim",
    "LateInteractionIndex",
    "document_token_vectors",
    "corpus_token_vectors",
    "late_interaction_rankings",
]


def _check_tokens(name, value, dim=None):
    check_tensor(name, value, ndim=2, nonempty=True, finite=True)
    if dim is not None and value.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns like the query, got {value.shape[1]}")
    return value.detach().float()


def maxsim(query_tokens, doc_tokens):
    """ColBERT's late-interaction score: the sum over query tokens of their best match.

    Parameters
    ----------
    query_tokens : torch.Tensor
        ``(T_q, d)`` query token vectors.
    doc_tokens : torch.Tensor
        ``(T_d, d)`` document token vectors.

    Returns
    -------
    float
        :math:`\\sum_i \\max_j q_i \\cdot d_j`.

    Raises
    ------
    ValueError
        If a tensor is not 2-D, is empty or not finite, or the sizes ``d`` differ.

    References
    ----------
    .. [1] Khattab and Zaharia, "ColBERT: Efficient and Effective Passage Search
       via Contextualized Late Interaction over BERT", SIGIR 2020.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.late import maxsim
    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])            # two query tokens
    >>> d = torch.tensor([[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])  # three document tokens
    >>> maxsim(q, d)  # q1 matches d3 (1.0), q2 matches d2 (1.0)
    2.0
    >>> round(maxsim(q, d[:1]), 4)  # one token must serve both: 0.8 + 0.6
    1.4
    """
    q = _check_tokens("query_tokens", query_tokens)
    d = _check_tokens("doc_tokens", doc_tokens, q.shape[1])
    return float((q @ d.T).max(dim=1).values.sum())  # (T_q, T_d) -> (T_q,) -> sum


class LateInteractionIndex:
    """Every token vector of a corpus in one matrix, searched by MaxSim.

    Parameters
    ----------
    doc_tokens : list of torch.Tensor
        One ``(T_i, d)`` tensor per document, ``T_i >= 1``.

    Attributes
    ----------
    vectors : torch.Tensor
        ``(sum T_i, d)`` float32: the documents' token vectors, one after the other.
    doc_of_token : torch.Tensor
        ``(sum T_i,)`` long: the document of every row of ``vectors``.

    Raises
    ------
    ValueError
        If ``doc_tokens`` is empty or a document is not a non-empty finite
        ``(T_i, d)`` tensor of the common size ``d``.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.late import LateInteractionIndex
    >>> docs = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.6, 0.8], [0.0, 1.0]])]
    >>> index = LateInteractionIndex(docs)
    >>> len(index), index.vectors.shape
    (2, torch.Size([3, 2]))
    >>> index.scores(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # doc 0: 0 + 1; doc 1: 1 + 0.6
    tensor([1.0000, 1.6000])
    >>> index.top_k(torch.tensor([[0.0, 1.0]]), k=1)
    [(1, 1.0)]
    """

    def __init__(self, doc_tokens):
        if isinstance(doc_tokens, torch.Tensor) or not isinstance(doc_tokens, (list, tuple)):
            raise TypeError("doc_tokens must be a list of (T_i, d) tensors, one per document")
        if len(doc_tokens) == 0:
            raise ValueError("doc_tokens must hold at least one document")
        first = _check_tokens("doc_tokens[0]", doc_tokens[0])
        docs = [first] + [
            _check_tokens(f"doc_tokens[{i}]", t, first.shape[1])
            for i, t in enumerate(doc_tokens[1:], start=1)
        ]
        self.vectors = torch.cat(docs)  # (sum T_i, d)
        lengths = torch.tensor([len(t) for t in docs])
        self.doc_of_token = torch.repeat_interleave(torch.arange(len(docs)), lengths)
        self._n = len(docs)

    def __len__(self):
        return self._n

    def scores(self, query_tokens):
        """MaxSim score of every document for one query.

        Parameters
        ----------
        query_tokens : torch.Tensor
            ``(T_q, d)`` query token vectors.

        Returns
        -------
        torch.Tensor
            ``(n_documents,)`` float32 scores.

        Raises
        ------
        ValueError
            If ``query_tokens`` is not a non-empty finite ``(T_q, d)`` tensor.
        """
        q = _check_tokens("query_tokens", query_tokens, self.vectors.shape[1])
        sims = q @ self.vectors.T  # (T_q, sum T_i): every query token against every token
        best = torch.full((q.shape[0], self._n), float("-inf"))  # (T_q, N)
        index = self.doc_of_token.expand_as(sims)
        best = best.scatter_reduce(1, index, sims, reduce="amax")  # max over each document
        return best.sum(dim=0)  # (N,)

    def top_k(self, query_tokens, k):
        """The ``k`` documents with the largest MaxSim score.

        Parameters
        ----------
        query_tokens : torch.Tensor
            ``(T_q, d)`` query token vectors.
        k : int
            How many (at most the number of documents).

        Returns
        -------
        list of (int, float)
            ``(document index, score)`` pairs, best first; ties keep document order.

        Raises
        ------
        ValueError
            If ``k`` is not a positive int, or as :meth:`scores`.
        """
        check_positive_int("k", k)
        s = self.scores(query_tokens)
        order = torch.sort(s, descending=True, stable=True).indices[:k]
        return [(int(i), float(s[i])) for i in order]


def document_token_vectors(encoder, texts, skip_punctuation=True):
    """Token vectors of documents for a late-interaction index.

    Parameters
    ----------
    encoder : fmref.rag.minilm.SentenceEncoder
        The encoder (e.g. :func:`fmref.rag.minilm.load_minilm`).
    texts : list of str
        The documents.
    skip_punctuation : bool, default True
        Leave out the vectors of punctuation tokens, as ColBERT does for documents
        (``[CLS]`` and ``[SEP]`` are kept).

    Returns
    -------
    list of torch.Tensor
        One ``(T_i, d)`` tensor of unit rows per document.

    Raises
    ------
    TypeError
        If ``texts`` is a str.
    ValueError
        If a text is empty (it would have no token to match).

    Examples
    --------
    >>> from fmref.models.bert import Bert, BertConfig
    >>> from fmref.rag.late import document_token_vectors
    >>> from fmref.rag.minilm import SentenceEncoder
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", ",", "."])
    >>> bert = Bert(BertConfig(vocab_size=7, hidden_size=8, num_hidden_layers=1,
    ...                        num_attention_heads=2, intermediate_size=16))
    >>> encoder = SentenceEncoder(bert, tok)
    >>> [len(v) for v in document_token_vectors(encoder, ["list, list."])]  # [CLS] list list [SEP]
    [4]
    >>> [len(v) for v in document_token_vectors(encoder, ["list, list."], skip_punctuation=False)]
    [6]
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str, not a str: wrap it as [text]")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"texts[{i}] must be a non-empty str")
    vectors = encoder.token_embeddings(list(texts))
    return _drop_punctuation(encoder, texts, vectors) if skip_punctuation else vectors


def _drop_punctuation(encoder, texts, vectors):
    """Each text's token vectors without the rows of single punctuation tokens."""
    tok = encoder.tokenizer
    punctuation = {i for t, i in tok.vocab.items() if len(t) == 1 and _is_punctuation(t)}
    out = []
    for text, v in zip(texts, vectors):
        ids = tok.encode(text, max_length=encoder.max_seq_length)  # the ids behind v's rows
        out.append(v[[j for j, i in enumerate(ids) if i not in punctuation]])
    return out


def corpus_token_vectors():
    """Late-interaction token vectors of :func:`fmref.rag.evalset.corpus_chunks`, cached.

    The first call runs all-MiniLM-L6-v2 over every chunk (tens of seconds on
    one CPU thread) and stores the unit token vectors in float16 through
    :func:`fmref.zoo.cached`, in one entry with the pooled vectors of
    :func:`fmref.rag.evalset.corpus_embeddings` (one pass of the encoder gives
    both); later calls read them.

    Returns
    -------
    list of torch.Tensor
        One ``(T_i, 384)`` float32 tensor per chunk (punctuation left out), in
        the order of :func:`fmref.rag.evalset.corpus_chunks`.

    Raises
    ------
    ImportError
        If the ``fmref[rag]`` extra is missing.

    Examples
    --------
    >>> from fmref.rag.evalset import corpus_chunks
    >>> from fmref.rag.late import corpus_token_vectors
    >>> vectors = corpus_token_vectors()
    >>> len(vectors) == len(corpus_chunks()[0]), vectors[0].shape[1]
    (True, 384)
    """
    from fmref.rag.evalset import _corpus_encoding

    stored = _corpus_encoding()
    return list(torch.split(stored["vectors"].float(), stored["lengths"].tolist()))


def late_interaction_rankings(encoder, queries, doc_tokens, k):
    """Rank documents for each query by MaxSim over an encoder's token vectors.

    Parameters
    ----------
    encoder : fmref.rag.minilm.SentenceEncoder
        Encodes the queries (every token kept, punctuation included, as ColBERT
        does for queries).
    queries : list of str
        Non-empty queries.
    doc_tokens : list of torch.Tensor or LateInteractionIndex
        The documents' token vectors (e.g. :func:`corpus_token_vectors`).
    k : int
        Documents per ranking.

    Returns
    -------
    list of list of int
        One ranking per query, best first.

    Raises
    ------
    ValueError
        If a query is empty or ``k`` is not a positive int.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import Bert, BertConfig
    >>> from fmref.rag.late import late_interaction_rankings
    >>> from fmref.rag.minilm import SentenceEncoder
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", "tuple"])
    >>> _ = torch.manual_seed(0)
    >>> encoder = SentenceEncoder(Bert(BertConfig(vocab_size=6, hidden_size=8,
    ...     num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)), tok)
    >>> docs = encoder.token_embeddings(["tuple tuple", "list list"])
    >>> late_interaction_rankings(encoder, ["list list"], docs, k=2)  # the same text ranks first
    [[1, 0]]
    """
    check_positive_int("k", k)
    if isinstance(queries, str):
        raise TypeError("queries must be a list of str, not a str: wrap it as [query]")
    for i, q in enumerate(queries):
        if not isinstance(q, str) or not q.strip():
            raise ValueError(f"queries[{i}] must be a non-empty str: an empty query finds nothing")
    if isinstance(doc_tokens, LateInteractionIndex):
        index = doc_tokens
    else:
        index = LateInteractionIndex(doc_tokens)
    query_vectors = encoder.token_embeddings(list(queries))
    return [[i for i, _ in index.top_k(q, k)] for q in query_vectors]
