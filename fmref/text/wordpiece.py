"""WordPiece: BERT's tokenizer, read from a ``vocab.txt``.

BERT tokenises in two passes (Devlin et al., 2019; Wu et al., 2016):

1. *Basic tokenisation* cleans the text (drops control and other
   non-printing characters, maps every white space to a space), puts spaces
   around CJK ideographs, splits on white space, lower-cases and strips
   accents (NFD, then drops combining marks) for an uncased vocabulary, and
   splits every punctuation character into a token of its own.
2. *WordPiece* splits each word greedily into the longest vocabulary entry
   that starts it, then the longest entry (written with a ``##`` prefix) that
   continues it, and so on. A word with a piece that matches nothing, or with
   more than 100 characters, becomes ``[UNK]`` as a whole.

A special token written in the text (``"[SEP]"``) is kept as that token, as
transformers' tokenizers do.

:class:`WordPieceTokenizer` gives the same ids as transformers'
``BertTokenizer`` built from the same ``vocab.txt`` (a test compares them on
the Python documentation).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from fmref._validate import check_int

__all__ = ["basic_tokenize", "WordPieceTokenizer"]

_MAX_WORD_CHARS = 100  # longer words become [UNK] (BERT's max_input_chars_per_word)
_MAX_CACHED_WORDS = 1 << 16  # a tokenizer remembers the pieces of at most this many words
_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    # Every "other" category (control, format, private use, unassigned), as the
    # tokenizers library that transformers uses; Google's BERT dropped Cc and Cf only.
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    # BERT counts every non-alphanumeric ASCII symbol as punctuation ("$", "^", "`" ...).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    # The CJK Unified Ideographs blocks, as in BERT's tokenization.py.
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_tokenize(text, lower_case=True):
    """BERT's basic tokenisation: clean, split on space and punctuation.

    Parameters
    ----------
    text : str
        Any text.
    lower_case : bool, default True
        Lower-case and strip accents (an *uncased* vocabulary).

    Returns
    -------
    list of str
        Words and single punctuation characters; CJK ideographs are words of
        one character.

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.text.wordpiece import basic_tokenize
    >>> basic_tokenize("Café: x[0]+=1 (naïve)")
    ['cafe', ':', 'x', '[', '0', ']', '+', '=', '1', '(', 'naive', ')']
    >>> tokyo = "\\u6771\\u4eac"  # two CJK ideographs (written as escapes for the PDF fonts)
    >>> basic_tokenize(tokyo + " Tower", lower_case=False) == [tokyo[0], tokyo[1], "Tower"]
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = _CLEAN.apply(text)  # drop controls, mark spaces and CJK ideographs
    if lower_case:
        text = _ACCENTS.apply(unicodedata.normalize("NFD", text.lower()))  # strip accents
    return _PUNCT.apply(text).split()  # punctuation on its own


class _CharRule:
    """A ``str.translate`` table filled as characters turn up: ``rule(ch)`` is decided once
    per character, then applied at C speed (the same words as a loop over the characters)."""

    def __init__(self, rule):
        self.rule, self.table, self.seen = rule, {}, set()

    def apply(self, text):
        new = set(text).difference(self.seen)
        for ch in new:
            out = self.rule(ch)
            if out != ch:
                self.table[ord(ch)] = out
        self.seen |= new  # after the table: a character seen always has its entry
        return text.translate(self.table)


def _clean(ch):
    cp = ord(ch)
    if cp == 0 or cp == 0xFFFD or _is_control(ch):
        return ""  # dropped
    if _is_whitespace(ch):
        return " "
    return f" {ch} " if _is_cjk(cp) else ch


_CLEAN = _CharRule(_clean)
_ACCENTS = _CharRule(lambda ch: "" if unicodedata.category(ch) == "Mn" else ch)
_PUNCT = _CharRule(lambda ch: f" {ch} " if _is_punctuation(ch) else ch)


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer over a fixed vocabulary.

    Parameters
    ----------
    vocab : list of str
        The vocabulary in id order (the lines of ``vocab.txt``); must contain
        ``[UNK]``, ``[CLS]``, ``[SEP]`` and ``[PAD]``.
    lower_case : bool, default True
        Lower-case and strip accents first (uncased models).

    Attributes
    ----------
    vocab : dict of str to int
        Token to id (read-only: the pieces of each word are remembered).
    unk_id, cls_id, sep_id, pad_id : int
        Ids of the special tokens.

    Raises
    ------
    ValueError
        If ``vocab`` lacks a special token or repeats an entry.

    References
    ----------
    .. [1] Wu et al., "Google's Neural Machine Translation System", 2016 (WordPiece).
    .. [2] Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
       for Language Understanding", NAACL 2019.

    Examples
    --------
    >>> from fmref.text.wordpiece import WordPieceTokenizer
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "token", "##izer", "##s", "!"]
    >>> tok = WordPieceTokenizer(vocab)
    >>> tok.tokenize("The tokenizers!")
    ['the', 'token', '##izer', '##s', '!']
    >>> tok.tokenize("the tokenx")  # no piece continues "token" with "x"
    ['the', '[UNK]']
    >>> tok.encode("the token")  # [CLS] the token [SEP]
    [2, 4, 5, 3]
    """

    def __init__(self, vocab, lower_case=True):
        vocab = list(vocab)
        self.vocab = {token: i for i, token in enumerate(vocab)}
        if len(self.vocab) != len(vocab):
            raise ValueError("vocab must not repeat a token")
        for special in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"):
            if special not in self.vocab:
                raise ValueError(f"vocab must contain the special token {special}")
        self.lower_case = bool(lower_case)
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self._tokens = vocab
        self._pieces = {}  # word -> its pieces: words recur, and the vocabulary is fixed
        specials = [re.escape(t) for t in _SPECIALS if t in self.vocab]
        self._special_split = re.compile("(" + "|".join(specials) + ")")

    @classmethod
    def from_file(cls, path, lower_case=True):
        """Read a ``vocab.txt`` (one token a line, line number = id).

        Parameters
        ----------
        path : str or pathlib.Path
            The vocabulary file.
        lower_case : bool, default True
            As in the constructor.

        Returns
        -------
        WordPieceTokenizer

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from fmref.text.wordpiece import WordPieceTokenizer
        >>> path = Path(tempfile.mkdtemp()) / "vocab.txt"
        >>> _ = path.write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\n", encoding="utf-8")
        >>> WordPieceTokenizer.from_file(path).encode("Hello!")
        [2, 4, 1, 3]
        """
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        return cls([line.rstrip("\r") for line in lines], lower_case=lower_case)

    @property
    def vocab_size(self):
        """Number of tokens in the vocabulary."""
        return len(self._tokens)

    def _wordpiece(self, word):
        pieces = self._pieces.get(word)
        if pieces is None:
            if len(self._pieces) >= _MAX_CACHED_WORDS:
                self._pieces.clear()
            pieces = self._pieces[word] = self._split_word(word)
        return pieces

    def _split_word(self, word):
        if len(word) > _MAX_WORD_CHARS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:  # longest match first
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return ["[UNK]"]  # no piece fits: the whole word is unknown
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        """Split text into WordPiece tokens (no special tokens).

        Parameters
        ----------
        text : str
            Any text.

        Returns
        -------
        list of str

        Raises
        ------
        TypeError
            If ``text`` is not a str.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        tokens = []
        for i, part in enumerate(self._special_split.split(text)):
            if i % 2:  # a special token written in the text
                tokens.append(part)
            else:
                tokens += [
                    p for w in basic_tokenize(part, self.lower_case) for p in self._wordpiece(w)
                ]
        return tokens

    def convert_tokens_to_ids(self, tokens):
        """Ids of tokens; unknown tokens map to ``[UNK]``'s id.

        Parameters
        ----------
        tokens : list of str

        Returns
        -------
        list of int
        """
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def encode(self, text, max_length=None):
        """Ids of ``[CLS] text [SEP]``, truncated to ``max_length`` ids in all.

        Parameters
        ----------
        text : str
            Any text.
        max_length : int, optional
            Longest output, special tokens included (at least 2); the text's
            tokens are cut at ``max_length - 2``, as transformers' truncation does.

        Returns
        -------
        list of int

        Raises
        ------
        ValueError
            If ``max_length`` is given and below 2.
        TypeError
            If ``text`` is not a str.
        """
        ids = self.convert_tokens_to_ids(self.tokenize(text))
        if max_length is not None:
            check_int("max_length", max_length, low=2)
            ids = ids[: max_length - 2]
        return [self.cls_id, *ids, self.sep_id]

    def decode(self, ids):
        """Tokens of ids joined back into text (``##`` pieces glued, specials dropped).

        Parameters
        ----------
        ids : list of int

        Returns
        -------
        str

        Examples
        --------
        >>> from fmref.text.wordpiece import WordPieceTokenizer
        >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "token", "##s", "!"])
        >>> tok.decode(tok.encode("tokens!"))
        'tokens !'
        """
        specials = {self.cls_id, self.sep_id, self.pad_id}
        text = " ".join(self._tokens[i] for i in ids if i not in specials)
        return text.replace(" ##", "")
