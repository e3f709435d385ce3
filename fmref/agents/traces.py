"""Synthetic ReAct transcripts of arithmetic word problems, and their tokenizer.

The training data of the tiny policy of :mod:`fmref.agents.policy`. A problem
(:func:`word_problem`) comes from one of five templates (add, subtract, multiply,
divide, multiply then subtract); its transcript (:func:`react_transcript`) is the
question, a short thought, one ``<tool_call>`` to the calculator with the right
expression, the observation and the answer, exactly as
:func:`fmref.agents.react.run_agent` writes it, with the policy's own text marked.

The tokenizer (:class:`PolicyTokenizer`) keeps the format's fixed strings, the
words of the templates and every number from 0 to 999 as single tokens
(tokenizers of large models hold every number up to 999 too) and spells anything
else, names included, character by character, so that the numbers of a question
sit at different positions from one name to the next.
"""

from __future__ import annotations

import random
import re

from fmref._validate import check_instance
from fmref.agents.calculator import calculator
from fmref.agents.parse import format_tool_call

__all__ = ["TRAIN_NAMES", "TEST_NAMES", "PolicyTokenizer", "word_problem", "react_transcript"]

TRAIN_NAMES = ["Ann", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jo"]
"""Names in the training problems."""

TEST_NAMES = ["Kai", "Lena", "Mo", "Nia", "Omar"]
"""Names only in the held-out problems."""

_THINGS = ["apple", "pen", "card", "book", "coin", "egg"]

# (kind, question, thought, expression); a, b, c are the numbers.
_TEMPLATES = [
    ("add", "{n} has {a} {t}s and gets {b} more. How many now?", "add.", "{a} + {b}"),
    ("sub", "{n} has {a} {t}s and gives {b} away. How many are left?", "subtract.",
     "{a} - {b}"),
    ("mul", "{n} buys {a} boxes of {b} {t}s. How many {t}s?", "multiply.", "{a} * {b}"),
    ("div", "{n} shares {p} {t}s among {b} friends. How many each?", "divide.", "{p} / {b}"),
    ("two-step", "{n} buys {a} boxes of {b} {t}s and loses {c}. How many are left?",
     "multiply, then subtract.", "{a} * {b} - {c}"),
]

_PIECES = ["<tool_call>", "</tool_call>", '{"name": "calculator", ',
           '"arguments": {"expression": "', '"}}', "Question:", "Thought:", "Observation:",
           "Answer:"]
_SPLIT = re.compile("|".join(re.escape(p) for p in _PIECES) + r"| ?[A-Za-z]+| ?\d{1,3}|[\s\S]")


class PolicyTokenizer:
    """Tokens of the policy: the format's pieces, template words, numbers 0-999, characters.

    Text is split by a regular expression into the fixed pieces of the transcript
    format (``<tool_call>``, ``Answer:``, ...), words and numbers of up to three digits
    (each with its leading space, as in GPT-2), and single characters. A word or
    number in the vocabulary is one token; anything else is spelled in characters.

    Examples
    --------
    >>> from fmref.agents.traces import PolicyTokenizer
    >>> tok = PolicyTokenizer()
    >>> ids = tok.encode("Question: Ann has 12 pens.")
    >>> [tok.vocab[i] for i in ids]  # names are always spelled in characters
    ['Question:', ' ', 'A', 'n', 'n', ' has', ' 12', ' pens', '.']
    >>> tok.decode(ids), tok.vocab_size
    ('Question: Ann has 12 pens.', 2165)
    """

    def __init__(self):
        chars = ["\n"] + [chr(c) for c in range(32, 127)]
        numbers = [f"{sp}{i}" for sp in ("", " ") for i in range(1000)]
        words = set()
        for _, question, thought, expression in _TEMPLATES:
            for name in TRAIN_NAMES:
                for thing in _THINGS:
                    text = " ".join([question, thought, expression]).format(
                        n=name, t=thing, a=1, b=1, c=1, p=1)
                    words.update(w.strip() for w in _SPLIT.findall(text) if w.strip().isalpha())
        words = sorted(w for w in words - set(TRAIN_NAMES) if len(w) > 1)  # names: spelled
        self.vocab = chars + _PIECES + numbers + words + [" " + w for w in words]
        self._ids = {t: i for i, t in enumerate(self.vocab)}

    @property
    def vocab_size(self):
        """Number of tokens."""
        return len(self.vocab)

    def encode(self, text):
        """Token ids of ``text``; :class:`ValueError` for a character outside ASCII."""
        ids = []
        for piece in _SPLIT.findall(text):
            if piece in self._ids:
                ids.append(self._ids[piece])
            else:
                for ch in piece:
                    if ch not in self._ids:
                        raise ValueError(f"text must be printable ASCII, got {ch!r}")
                    ids.append(self._ids[ch])
        return ids

    def decode(self, ids):
        """The text of token ids."""
        return "".join(self.vocab[i] for i in ids)


def word_problem(rng, names=TRAIN_NAMES):
    """A random arithmetic word problem and the expression that solves it.

    Parameters
    ----------
    rng : random.Random
        Source of randomness.
    names : list of str, default TRAIN_NAMES
        Names to draw from (:data:`TEST_NAMES` for held-out problems).

    Returns
    -------
    dict
        ``question``, ``thought``, ``expression``, ``answer`` (the calculator's text)
        and ``kind`` (``add``, ``sub``, ``mul``, ``div`` or ``two-step``).

    Examples
    --------
    >>> import random
    >>> from fmref.agents.traces import word_problem
    >>> p = word_problem(random.Random(3))
    >>> p["question"]
    'Finn has 20 coins and gives 19 away. How many are left?'
    >>> p["expression"], p["answer"], p["kind"]
    ('20 - 19', '1', 'sub')
    """
    check_instance("rng", rng, random.Random)
    kind, question, thought, expression = rng.choice(_TEMPLATES)
    a, b = rng.randint(2, 31), rng.randint(2, 31)  # every result stays below 1,000
    c = rng.randint(1, 9)
    if kind == "sub":
        a, b = max(a, b), min(a, b)
    if kind == "div":
        b = rng.randint(2, 9)
    values = dict(n=rng.choice(names), t=rng.choice(_THINGS), a=a, b=b, c=c, p=a * b)
    expr = expression.format(**values)
    return {"question": question.format(**values), "thought": thought.format(**values),
            "expression": expr, "answer": calculator(expr), "kind": kind}


def react_transcript(problem):
    """The ReAct transcript of a problem, split into (text, written-by-the-policy) pieces.

    Parameters
    ----------
    problem : dict
        From :func:`word_problem`.

    Returns
    -------
    list of (str, bool)
        Joined, the pieces are exactly the transcript :func:`fmref.agents.react.run_agent`
        builds when the policy acts correctly; ``True`` marks the policy's own text.

    Examples
    --------
    >>> import random
    >>> from fmref.agents.traces import react_transcript, word_problem
    >>> print("".join(text for text, _ in react_transcript(word_problem(random.Random(0)))))
    Question: Eva shares 52 coins among 2 friends. How many each?
    Thought: divide.
    <tool_call>{"name": "calculator", "arguments": {"expression": "52 / 2"}}</tool_call>
    Observation: 26
    Answer: 26
    <BLANKLINE>
    """
    check_instance("problem", problem, dict)
    call = format_tool_call("calculator", {"expression": problem["expression"]})
    return [
        (f"Question: {problem['question']}\n", False),
        (f"Thought: {problem['thought']}\n{call}", True),
        (f"\nObservation: {problem['answer']}\n", False),
        (f"Answer: {problem['answer']}\n", True),
    ]
