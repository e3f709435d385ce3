"""Byte-level byte-pair encoding (BPE), as in GPT-2.

Text is first split into chunks (words with their leading space, runs of
digits, punctuation, whitespace) by a regular expression; each chunk becomes
its UTF-8 bytes, ids 0-255. Training repeatedly merges the most frequent pair
of adjacent ids inside a chunk into a new id, recording the merge; encoding
replays the merges in the order they were learned. Because every string is a
sequence of bytes, any text, emoji and all, encodes without an unknown token
and decodes back exactly.

Training keeps pair counts up to date incrementally: a merge only changes the
chunks that contain the merged pair, so only their pair counts are subtracted
and re-added, and a heap with lazy deletion finds the next most frequent pair.
A naive trainer recounts every pair of the corpus after every merge.

References
----------
.. [1] Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words
   with Subword Units", ACL 2016.
.. [2] Radford et al., "Language Models are Unsupervised Multitask Learners",
   2019 (GPT-2's byte-level BPE).
"""

from __future__ import annotations

import heapq
import json
import numbers
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from fmref._validate import check_int

__all__ = ["BPETokenizer", "PRETOKENIZE_PATTERN"]

#: GPT-2's pre-tokenisation pattern, written for Python's :mod:`re`
#: (``[^\W\d_]`` stands for GPT-2's ``\p{L}``, ``\d`` for ``\p{N}``).
PRETOKENIZE_PATTERN = r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|_+|\s+(?!\S)|\s+"
_CHUNK = re.compile(PRETOKENIZE_PATTERN)


def _merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping ``pair`` in ``ids``, left to right, by ``new_id``."""
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _utf8(text: str, argname: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{argname} must be a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{argname} must be valid Unicode (no lone surrogates); {err.reason} "
            f"at position {err.start}"
        ) from None


class BPETokenizer:
    """A byte-level BPE tokenizer: ids 0-255 are bytes, then merges, then specials.

    Build one with :meth:`train` or :meth:`load`; the constructor takes
    already learned merges.

    Parameters
    ----------
    merges : sequence of (int, int)
        The learned merges in order; merge ``i`` creates id ``256 + i`` and may
        only refer to smaller ids.
    special_tokens : sequence of str, optional
        Strings that get their own reserved ids after the merges and are never
        split, e.g. ``"<|endoftext|>"`` or ``"[MASK]"``.

    Raises
    ------
    ValueError
        If a merge refers to an id it does not precede, or special tokens are
        empty or repeated.

    References
    ----------
    .. [1] Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words
       with Subword Units", ACL 2016.

    Examples
    --------
    >>> from fmref.text.bpe import BPETokenizer
    >>> tok = BPETokenizer.train("low lower lowest " * 20, vocab_size=260)
    >>> tok.merges
    [(108, 111), (256, 119), (32, 257), (258, 101)]
    >>> tok.token_bytes(259)
    b' lowe'
    >>> ids = tok.encode("lowest")
    >>> ids, tok.decode(ids)
    ([257, 101, 115, 116], 'lowest')
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]] = (),
        special_tokens: Sequence[str] = (),
    ) -> None:
        self._merges: list[tuple[int, int]] = []
        self._vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for i, pair in enumerate(merges):
            if len(pair) != 2:
                raise ValueError(f"merges[{i}] must be a pair of token ids, got {pair!r}")
            a, b = (int(x) for x in pair)
            new_id = 256 + i
            if not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(f"merges[{i}] = {tuple(pair)} must refer to ids below {new_id}")
            self._merges.append((a, b))
            self._vocab.append(self._vocab[a] + self._vocab[b])
        self._ranks = {pair: i for i, pair in enumerate(self._merges)}
        specials = list(special_tokens)
        if any(not isinstance(s, str) or not s for s in specials):
            raise ValueError(f"special_tokens must be non-empty strings, got {specials!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special_tokens must be distinct, got {specials!r}")
        first = 256 + len(self._merges)
        self._special = {s: first + i for i, s in enumerate(specials)}
        self._special_by_id = {i: s for s, i in self._special.items()}
        # Longest first, so "<|a|>b" is matched before a prefix "<|a|>".
        alternation = "|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True))
        self._special_re = re.compile(f"({alternation})") if specials else None
        self._cache: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        special_tokens: Sequence[str] = (),
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Ties between equally frequent pairs go to the smallest pair ``(a, b)``,
        so the merges of a given text are deterministic. Special tokens in
        ``text`` are cut out before counting. Training stops early if no pair
        is left to merge (a very short text), giving a smaller vocabulary.

        Parameters
        ----------
        text : str
            Training text.
        vocab_size : int
            Size of the final vocabulary: 256 bytes + merges + special tokens.
        special_tokens : sequence of str, optional
            Reserved tokens, given the last ids.

        Returns
        -------
        BPETokenizer
            The trained tokenizer.

        Raises
        ------
        TypeError
            If ``text`` is not a str or ``vocab_size`` not an int.
        ValueError
            If ``vocab_size`` is below ``256 + len(special_tokens)``.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> tok = BPETokenizer.train("hello hello world", 300, special_tokens=["<|endoftext|>"])
        >>> tok.vocab_size  # the text ran out of pairs before 300
        267
        >>> tok.encode("hello<|endoftext|>")
        [259, 266]
        """
        check_int("vocab_size", vocab_size)
        specials = list(special_tokens)
        if vocab_size < 256 + len(specials):
            raise ValueError(
                f"vocab_size must be at least 256 + len(special_tokens) = "
                f"{256 + len(specials)} for byte-level BPE, got {vocab_size}"
            )
        _utf8(text, "text")
        n_merges = vocab_size - 256 - len(specials)
        pieces = [text]
        if specials:
            pieces = re.split("|".join(re.escape(s) for s in specials), text)
        chunk_counts: Counter[str] = Counter()
        for piece in pieces:
            chunk_counts.update(_CHUNK.findall(piece))

        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())
        counts: defaultdict[tuple[int, int], int] = defaultdict(int)
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words
        for w, (ids, f) in enumerate(zip(words, freqs)):
            for pair in zip(ids, ids[1:]):
                counts[pair] += f
                where[pair].add(w)
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        while len(merges) < n_merges and heap:
            neg, pair = heapq.heappop(heap)
            if counts.get(pair, 0) != -neg or neg == 0:
                continue  # stale heap entry: the count changed since it was pushed
            new_id = 256 + len(merges)
            merges.append(pair)
            changed: set[tuple[int, int]] = set()
            for w in where.pop(pair):
                old = words[w]
                new = _merge(old, pair, new_id)
                if len(new) == len(old):
                    continue  # the pair left this word in an earlier merge
                f = freqs[w]
                for p in zip(old, old[1:]):  # subtract the word's old pairs ...
                    counts[p] -= f
                    changed.add(p)
                for p in zip(new, new[1:]):  # ... and add its new ones
                    counts[p] += f
                    where[p].add(w)
                    changed.add(p)
                words[w] = new
            for p in changed:
                c = counts[p]
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    del counts[p]
                    where.pop(p, None)
        return cls(merges, specials)

    # ------------------------------------------------------------------ properties
    @property
    def merges(self) -> list[tuple[int, int]]:
        """The learned merges in order; merge ``i`` created id ``256 + i``."""
        return list(self._merges)

    @property
    def special_tokens(self) -> dict[str, int]:
        """The special tokens and their ids."""
        return dict(self._special)

    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 bytes + merges + special tokens."""
        return 256 + len(self._merges) + len(self._special)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes an id stands for (a special token's UTF-8 bytes).

        Parameters
        ----------
        token_id : int
            An id in ``range(vocab_size)``.

        Returns
        -------
        bytes
            The token's bytes.

        Raises
        ------
        ValueError
            If ``token_id`` is outside the vocabulary.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> BPETokenizer().token_bytes(65)
        b'A'
        """
        self._check_id(token_id, "token_id")
        if token_id in self._special_by_id:
            return self._special_by_id[token_id].encode("utf-8")
        return self._vocab[token_id]

    def _check_id(self, token_id: object, argname: str) -> None:
        if isinstance(token_id, bool) or not isinstance(token_id, numbers.Integral):
            raise TypeError(f"{argname} must be ints, got {type(token_id).__name__}")
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(
                f"{argname} must be in range(0, {self.vocab_size}) (the vocabulary), got {token_id}"
            )

    # ------------------------------------------------------------------ encode/decode
    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = self._cache.get(chunk)
        if ids is not None:
            return ids
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # the pair that was merged first among those present
            pair = min(zip(ids, ids[1:]), key=lambda p: self._ranks.get(p, len(self._ranks)))
            rank = self._ranks.get(pair)
            if rank is None:
                break
            ids = _merge(ids, pair, 256 + rank)
        if len(self._cache) < 100_000:
            self._cache[chunk] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``.

        Parameters
        ----------
        text : str
            Any valid Unicode string; special tokens in it become their ids.

        Returns
        -------
        list of int
            The ids.

        Raises
        ------
        TypeError
            If ``text`` is not a str.
        ValueError
            If ``text`` holds a lone surrogate, which has no UTF-8 encoding.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> BPETokenizer().encode("hé!")  # no merges: one id per UTF-8 byte
        [104, 195, 169, 33]
        """
        _utf8(text, "text")
        pieces = self._special_re.split(text) if self._special_re else [text]
        ids: list[int] = []
        for piece in pieces:
            if piece in self._special:
                ids.append(self._special[piece])
                continue
            for chunk in _CHUNK.findall(piece):
                ids.extend(self._encode_chunk(chunk))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of a sequence of ids.

        Bytes that do not form valid UTF-8 (a sequence cut inside a character)
        become U+FFFD, the replacement character.

        Parameters
        ----------
        ids : iterable of int
            Ids in ``range(vocab_size)``; a 1-D integer tensor works too.

        Returns
        -------
        str
            The decoded text.

        Raises
        ------
        TypeError
            If an id is not an integer.
        ValueError
            If an id is outside the vocabulary.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> tok = BPETokenizer()
        >>> tok.decode([104, 105])
        'hi'
        >>> tok.decode([226, 130])  # an incomplete three-byte character
        '�'
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        parts = []
        for i in ids:
            self._check_id(i, "ids")
            parts.append(self.token_bytes(int(i)))
        return b"".join(parts).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the tokenizer to a JSON file (merges and special tokens).

        Parameters
        ----------
        path : str or pathlib.Path
            File to write.

        Examples
        --------
        >>> import tempfile, os
        >>> from fmref.text.bpe import BPETokenizer
        >>> tok = BPETokenizer.train("abab abab", 258, special_tokens=["[MASK]"])
        >>> path = os.path.join(tempfile.mkdtemp(), "tok.json")
        >>> tok.save(path)
        >>> BPETokenizer.load(path).merges == tok.merges
        True
        """
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            A JSON file written by :meth:`save`.

        Returns
        -------
        BPETokenizer
            The tokenizer.

        Raises
        ------
        ValueError
            If the file is not a tokenizer file.

        Examples
        --------
        >>> import tempfile, os
        >>> from fmref.text.bpe import BPETokenizer
        >>> path = os.path.join(tempfile.mkdtemp(), "tok.json")
        >>> BPETokenizer([(104, 105)]).save(path)
        >>> BPETokenizer.load(path).encode("hi")
        [256]
        """
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict:
        """The tokenizer as a JSON-serialisable dict (what :meth:`save` writes).

        Returns
        -------
        dict
            ``{"type": "fmref.BPETokenizer", "version": 1, "merges": [...],
            "special_tokens": [...]}``.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> BPETokenizer([(104, 105)], ["[MASK]"]).to_dict()["merges"]
        [[104, 105]]
        """
        return {
            "type": "fmref.BPETokenizer",
            "version": 1,
            "merges": [list(p) for p in self._merges],
            "special_tokens": list(self._special),
        }

    @classmethod
    def from_dict(cls, data: dict) -> BPETokenizer:
        """Rebuild a tokenizer from :meth:`to_dict`'s output.

        Parameters
        ----------
        data : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        BPETokenizer
            The tokenizer.

        Raises
        ------
        ValueError
            If ``data`` is not a tokenizer dict.

        Examples
        --------
        >>> from fmref.text.bpe import BPETokenizer
        >>> tok = BPETokenizer([(104, 105)], ["[MASK]"])
        >>> BPETokenizer.from_dict(tok.to_dict()).special_tokens
        {'[MASK]': 257}
        """
        if not isinstance(data, dict) or data.get("type") != "fmref.BPETokenizer":
            raise ValueError("data must be a dict written by BPETokenizer.to_dict")
        return cls([tuple(p) for p in data["merges"]], data["special_tokens"])

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._merges)}, "
            f"special_tokens={list(self._special)})"
        )
