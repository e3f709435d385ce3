"""Agent memory: a token-budgeted conversation buffer and long-term retrieval.

A model sees only its context window, so a long conversation must be cut. The
:class:`ConversationBuffer` keeps the most recent turns verbatim within a token
budget; turns that fall out are folded into a *rolling summary* (one short text
that is rewritten as turns leave) and, optionally, archived in a
:class:`LongTermMemory`. Long-term memory is retrieval over past turns: the turns
are indexed with BM25 (:class:`fmref.rag.bm25.BM25`) and the few that match the
current message are put back into the prompt, as in generative agents (Park et al.,
2023) and MemGPT (Packer et al., 2023).
"""

from __future__ import annotations

from collections.abc import Callable

from fmref._validate import check_instance, check_positive_int
from fmref.rag.bm25 import BM25, tokenize

__all__ = ["count_words", "truncating_summary", "LongTermMemory", "ConversationBuffer"]


def count_words(text: str) -> int:
    """Tokens of ``text`` counted as whitespace-separated words (the default counter).

    Examples
    --------
    >>> from fmref.agents.memory import count_words
    >>> count_words("Book a table for two, please.")
    6
    """
    check_instance("text", text, str)
    return len(text.split())


def truncating_summary(summary: str, evicted: list[dict[str, str]], max_words: int = 40) -> str:
    """The default summariser: append the evicted turns, keep the last ``max_words`` words.

    A real system asks a language model to rewrite the summary; this extractive
    stand-in keeps the function's contract (old summary + evicted turns in, a
    bounded text out) so that the buffer can be tested without a model.

    Parameters
    ----------
    summary : str
        The summary so far ("" at first).
    evicted : list of dict
        The turns leaving the buffer, ``{"role": ..., "content": ...}``.
    max_words : int, default 40
        Length bound of the result.

    Returns
    -------
    str
        At most ``max_words`` words.

    Examples
    --------
    >>> from fmref.agents.memory import truncating_summary
    >>> truncating_summary("user: hi", [{"role": "assistant", "content": "Hello there"}], 4)
    'hi assistant: Hello there'
    """
    check_positive_int("max_words", max_words)
    words = (summary + " " + " ".join(f"{t['role']}: {t['content']}" for t in evicted)).split()
    return " ".join(words[-max_words:])


class LongTermMemory:
    """Past turns, retrieved by BM25 relevance to a query.

    Examples
    --------
    >>> from fmref.agents.memory import LongTermMemory
    >>> memory = LongTermMemory()
    >>> for text in ["My flight to Lisbon leaves on May 3.", "I am allergic to peanuts.",
    ...              "The hotel is near the river."]:
    ...     _ = memory.add(text)
    >>> [text for text, score in memory.search("what am I allergic to?", k=1)]
    ['I am allergic to peanuts.']
    >>> memory.search("any food allergies?")  # BM25 matches words: "allergies" is not "allergic"
    []
    >>> len(memory)
    3
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._index: BM25 | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> int:
        """Store one text; return its position."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self.texts.append(text)
        self._index = None  # rebuilt on the next search
        return len(self.texts) - 1

    def search(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        """The up to ``k`` stored texts that share terms with ``query``, best first.

        Parameters
        ----------
        query : str
            The current message.
        k : int, default 3
            How many to return at most.

        Returns
        -------
        list of (str, float)
            Texts and their BM25 scores; texts scoring 0 (no shared term) are left out.

        Raises
        ------
        ValueError
            If ``k`` is not a positive int.
        """
        check_positive_int("k", k)
        if not any(tokenize(t) for t in self.texts):
            return []
        if self._index is None:
            self._index = BM25([tokenize(t) for t in self.texts])
        hits = self._index.top_k(tokenize(query), k=min(k, len(self.texts)))
        return [(self.texts[i], float(s)) for i, s in hits if s > 0]


class ConversationBuffer:
    """Recent turns within a token budget, older ones folded into a rolling summary.

    Parameters
    ----------
    max_tokens : int
        Budget of the turns plus the summary, in ``count_tokens`` units.
    count_tokens : callable, optional
        ``count_tokens(text) -> int``; :func:`count_words` by default (pass a
        tokenizer's ``len(encode(text))`` for real token counts).
    summarize : callable, optional
        ``summarize(summary, evicted_turns) -> str``; by default
        :func:`truncating_summary` bounded to a quarter of the budget.
    archive : LongTermMemory, optional
        Where evicted turns are also stored, as ``"role: content"``.

    Raises
    ------
    ValueError
        If ``max_tokens`` is not a positive int.

    Examples
    --------
    >>> from fmref.agents.memory import ConversationBuffer, LongTermMemory
    >>> archive = LongTermMemory()
    >>> buffer = ConversationBuffer(max_tokens=12, archive=archive)
    >>> for role, text in [("user", "I am allergic to peanuts."),
    ...                    ("assistant", "Noted, no peanuts."),
    ...                    ("user", "My flight to Lisbon leaves on May 3."),
    ...                    ("assistant", "Your flight is booked."),
    ...                    ("user", "Suggest a dessert for tonight.")]:
    ...     buffer.add(role, text)
    >>> [m["role"] for m in buffer.messages()], buffer.n_tokens()
    (['system', 'assistant', 'user'], 12)
    >>> buffer.summary  # 3 words, a quarter of the budget: the allergy is gone
    'on May 3.'
    >>> archive.search("Is the dessert safe if I am allergic to peanuts?", k=1)
    [('user: I am allergic to peanuts.', ...)]
    """

    def __init__(self, max_tokens: int, count_tokens: Callable[[str], int] | None = None,
                 summarize: Callable[[str, list[dict[str, str]]], str] | None = None,
                 archive: LongTermMemory | None = None) -> None:
        check_positive_int("max_tokens", max_tokens)
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens or count_words
        self.summarize = summarize or (
            lambda s, ev: truncating_summary(s, ev, max(1, max_tokens // 4)))
        self.archive = archive
        self.turns: list[dict[str, str]] = []
        self.summary = ""

    def n_tokens(self) -> int:
        """Tokens of the summary plus the turns kept."""
        return self.count_tokens(self.summary) + sum(
            self.count_tokens(t["content"]) for t in self.turns)

    def add(self, role: str, content: str) -> None:
        """Append a turn, then evict the oldest turns into the summary until within budget.

        Raises
        ------
        ValueError
            If the turn alone exceeds ``max_tokens`` (it could never be shown whole).
        TypeError
            If ``role`` or ``content`` is not a str.
        """
        if not isinstance(role, str) or not isinstance(content, str):
            raise TypeError("role and content must be str")
        if self.count_tokens(content) > self.max_tokens:
            raise ValueError(f"content of {self.count_tokens(content)} tokens exceeds "
                             f"max_tokens={self.max_tokens}")
        self.turns.append({"role": role, "content": content})
        evicted = []
        while self.n_tokens() > self.max_tokens and len(self.turns) > 1:
            evicted.append(self._evict())
        if evicted:
            self.summary = self.summarize(self.summary, evicted)
            while self.n_tokens() > self.max_tokens and len(self.turns) > 1:  # summary grew
                self.summary = self.summarize(self.summary, [self._evict()])
            if self.n_tokens() > self.max_tokens:  # the summary must give way to the newest turn
                words = self.summary.split()
                budget = self.max_tokens - self.count_tokens(self.turns[0]["content"])
                while words and self.count_tokens(" ".join(words)) > budget:
                    words.pop(0)
                self.summary = " ".join(words)

    def _evict(self) -> dict[str, str]:
        turn = self.turns.pop(0)
        if self.archive is not None:
            self.archive.add(f"{turn['role']}: {turn['content']}")
        return turn

    def messages(self) -> list[dict[str, str]]:
        """The prompt's messages: the summary as a system turn (if any), then the turns."""
        head = [{"role": "system", "content": f"Summary of earlier turns: {self.summary}"}]
        return (head if self.summary else []) + list(self.turns)
