"""Constrained decoding: generate only text that matches a regular expression.

A regular expression compiles to a nondeterministic finite automaton (Thompson's
construction). While decoding, the automaton's current *set of states* says
which continuations are still possible: a token is allowed only if feeding its
characters leaves at least one state alive, and the end-of-sequence token only
if a state is accepting. Every other logit is set to ``-inf`` before sampling,
so the output matches by construction, whatever the model (the idea behind
Outlines and llama.cpp grammars). A small JSON schema compiles to such a
regular expression with :func:`json_schema_regex`.

The regular-expression dialect: literals, ``.``, escapes ``\\d \\w \\s`` (and
``\\D \\W \\S``, ``\\n``, ``\\t``, any escaped punctuation), classes ``[a-z0-9_]``
and ``[^...]``, groups ``(...)`` and ``(?:...)``, ``|``, and the quantifiers
``* + ?``, ``{m}``, ``{m,}``, ``{m,n}``.
"""

from __future__ import annotations

import json

import torch

from fmref._validate import check_instance, check_int
from fmref.infer.sampling import sample_next

__all__ = ["RegexFSM", "json_schema_regex", "allowed_token_mask", "constrained_generate"]

_CLASSES = {
    "d": lambda c: c.isdigit() and c.isascii(),
    "w": lambda c: (c.isalnum() and c.isascii()) or c == "_",
    "s": lambda c: c in " \t\n\r\f\v",
}


class _Parser:
    """Recursive-descent parser: pattern -> syntax tree of tuples."""

    def __init__(self, pattern):
        self.p, self.i = pattern, 0

    def error(self, what):
        return ValueError(f"pattern {self.p!r}: {what} at position {self.i}")

    def peek(self):
        return self.p[self.i] if self.i < len(self.p) else None

    def take(self):
        c = self.peek()
        self.i += 1
        return c

    def parse(self):
        tree = self.alt()
        if self.i != len(self.p):
            raise self.error("unbalanced ')'")
        return tree

    def alt(self):
        branches = [self.cat()]
        while self.peek() == "|":
            self.take()
            branches.append(self.cat())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def cat(self):
        items = []
        while self.peek() not in (None, "|", ")"):
            items.append(self.repeat())
        return ("cat", items)

    def repeat(self):
        node = self.atom()
        while self.peek() in ("*", "+", "?", "{"):
            c = self.take()
            if c == "*":
                node = ("rep", node, 0, None)
            elif c == "+":
                node = ("rep", node, 1, None)
            elif c == "?":
                node = ("rep", node, 0, 1)
            else:
                end = self.p.find("}", self.i)
                if end < 0:
                    raise self.error("unclosed '{'")
                body, self.i = self.p[self.i : end], end + 1
                lo, _, hi = body.partition(",")
                try:
                    m = int(lo)
                    n = m if "," not in body else (int(hi) if hi else None)
                except ValueError:
                    raise self.error(f"bad repetition {{{body}}}") from None
                if n is not None and n < m:
                    raise self.error(f"bad repetition {{{body}}}")
                node = ("rep", node, m, n)
        return node

    def escape(self):
        c = self.take()
        if c is None:
            raise self.error("trailing backslash")
        if c.lower() in _CLASSES:
            f = _CLASSES[c.lower()]
            return f if c.islower() else (lambda ch, f=f: not f(ch))
        char = {"n": "\n", "t": "\t", "r": "\r"}.get(c, c)
        return lambda ch, char=char: ch == char

    def atom(self):
        c = self.take()
        if c == "(":
            if self.p.startswith("?:", self.i):
                self.i += 2
            node = self.alt()
            if self.take() != ")":
                raise self.error("missing ')'")
            return node
        if c == "[":
            return ("pred", self.char_class())
        if c == ".":
            return ("pred", lambda ch: ch != "\n")
        if c == "\\":
            return ("pred", self.escape())
        if c in ("*", "+", "?", "{"):
            raise self.error(f"nothing to repeat with {c!r}")
        return ("pred", lambda ch, c=c: ch == c)

    def char_class(self):
        negate = self.peek() == "^"
        if negate:
            self.take()
        preds, first = [], True
        while True:
            c = self.take()
            if c is None:
                raise self.error("unclosed '['")
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                preds.append(self.escape())
                continue
            if self.peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                self.take()
                hi = self.take()
                preds.append(lambda ch, lo=c, hi=hi: lo <= ch <= hi)
            else:
                preds.append(lambda ch, c=c: ch == c)
        if negate:
            return lambda ch: not any(p(ch) for p in preds)
        return lambda ch: any(p(ch) for p in preds)


class RegexFSM:
    """A regular expression as a nondeterministic automaton, stepped character by character.

    Parameters
    ----------
    pattern : str
        Regular expression (dialect in the module docstring); it must match the
        *whole* text, as :func:`re.fullmatch`.

    Attributes
    ----------
    n_states : int
        States of the automaton.

    Raises
    ------
    ValueError
        If the pattern cannot be parsed (the message gives the position).

    References
    ----------
    .. [1] Thompson, "Regular Expression Search Algorithm", CACM 1968.
    .. [2] Willard and Louf, "Efficient Guided Generation for Large Language
       Models", 2023.

    Examples
    --------
    >>> from fmref.prompting.constrained import RegexFSM
    >>> fsm = RegexFSM(r"\\d{3}-[a-c]+")
    >>> fsm.fullmatch("123-abba"), fsm.fullmatch("12-a")
    (True, False)
    >>> states = fsm.step(fsm.start(), "12")
    >>> bool(states), fsm.accepts(states)  # alive, not finished
    (True, False)
    >>> bool(fsm.step(states, "x"))  # dead: no continuation matches
    False
    """

    def __init__(self, pattern):
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str, got {type(pattern).__name__}")
        self.pattern = pattern
        self._edges = []  # state -> list of (predicate or None for epsilon, target)
        start, end = self._compile(_Parser(pattern).parse())
        self._start, self._accept = start, end
        self._closure_cache = {}

    @property
    def n_states(self):
        return len(self._edges)

    def _new(self):
        self._edges.append([])
        return len(self._edges) - 1

    def _compile(self, node):
        """Thompson's construction: syntax tree -> (start state, end state)."""
        kind = node[0]
        if kind == "pred":
            s, e = self._new(), self._new()
            self._edges[s].append((node[1], e))
            return s, e
        if kind == "cat":
            s = e = self._new()
            for child in node[1]:
                cs, ce = self._compile(child)
                self._edges[e].append((None, cs))
                e = ce
            return s, e
        if kind == "alt":
            s, e = self._new(), self._new()
            for child in node[1]:
                cs, ce = self._compile(child)
                self._edges[s].append((None, cs))
                self._edges[ce].append((None, e))
            return s, e
        _, child, m, n = node  # "rep"
        s = e = self._new()
        for _ in range(m):  # m mandatory copies
            cs, ce = self._compile(child)
            self._edges[e].append((None, cs))
            e = ce
        if n is None:  # then a loop
            cs, ce = self._compile(child)
            self._edges[e].append((None, cs))
            self._edges[ce].append((None, cs))
            out = self._new()
            self._edges[e].append((None, out))
            self._edges[ce].append((None, out))
            return s, out
        out = self._new()
        for _ in range(n - m):  # then n - m optional copies
            self._edges[e].append((None, out))
            cs, ce = self._compile(child)
            self._edges[e].append((None, cs))
            e = ce
        self._edges[e].append((None, out))
        return s, out

    def _closure(self, states):
        key = frozenset(states)
        if key not in self._closure_cache:
            stack, seen = list(states), set(states)
            while stack:
                for pred, t in self._edges[stack.pop()]:
                    if pred is None and t not in seen:
                        seen.add(t)
                        stack.append(t)
            self._closure_cache[key] = frozenset(seen)
        return self._closure_cache[key]

    def start(self):
        """The states before any character (a frozenset)."""
        return self._closure({self._start})

    def step(self, states, text):
        """States after reading ``text`` from ``states``; empty when no match is possible."""
        for ch in text:
            moved = {
                t for s in states for pred, t in self._edges[s] if pred is not None and pred(ch)
            }
            if not moved:
                return frozenset()
            states = self._closure(moved)
        return states

    def accepts(self, states):
        """True if the text read so far is a complete match."""
        return self._accept in states

    def fullmatch(self, text):
        """True if ``text`` matches the whole pattern."""
        return self.accepts(self.step(self.start(), text))


def _literal(text):
    return "".join("\\" + c if not c.isalnum() and c != " " else c for c in text)


def json_schema_regex(schema):
    """A regular expression for the JSON documents of a small schema.

    Supported: ``{"type": "string" | "integer" | "number" | "boolean" | "null"}``,
    ``{"enum": [...]}``, ``{"type": "array", "items": ...}`` and
    ``{"type": "object", "properties": {...}}``; every property is required and
    written in the schema's order, compactly as ``json.dumps`` does
    (``{"a": 1, "b": "x"}``). Strings exclude ``"`` and ``\\``.

    Parameters
    ----------
    schema : dict
        The schema.

    Returns
    -------
    str
        A pattern for :class:`RegexFSM` (also valid for Python's :mod:`re`).

    Raises
    ------
    ValueError
        If the schema uses anything else.

    References
    ----------
    .. [1] Willard and Louf, "Efficient Guided Generation for Large Language
       Models", 2023.

    Examples
    --------
    >>> import json
    >>> from fmref.prompting.constrained import RegexFSM, json_schema_regex
    >>> schema = {"type": "object", "properties": {
    ...     "name": {"type": "string"}, "age": {"type": "integer"},
    ...     "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}}
    >>> fsm = RegexFSM(json_schema_regex(schema))
    >>> fsm.fullmatch(json.dumps({"name": "Ada", "age": 36, "tags": ["a", "b"]}))
    True
    >>> fsm.fullmatch(json.dumps({"name": "Ada", "age": "36", "tags": []}))
    False
    """
    if not isinstance(schema, dict):
        raise ValueError(f"schema must be a dict, got {type(schema).__name__}")
    if "enum" in schema:
        return "(" + "|".join(_literal(json.dumps(v)) for v in schema["enum"]) + ")"
    kind = schema.get("type")
    if kind == "string":
        return '"[^"\\\\]*"'
    if kind == "integer":
        return "-?(0|[1-9][0-9]*)"
    if kind == "number":
        return "-?(0|[1-9][0-9]*)(\\.[0-9]+)?"
    if kind == "boolean":
        return "(true|false)"
    if kind == "null":
        return "null"
    if kind == "array":
        item = json_schema_regex(schema.get("items", {"type": "string"}))
        return f"\\[({item}(, {item})*)?\\]"
    if kind == "object":
        props = schema.get("properties", {})
        fields = [f"{_literal(json.dumps(k))}: {json_schema_regex(v)}" for k, v in props.items()]
        return "\\{" + ", ".join(fields) + "\\}"
    raise ValueError(
        f"schema type must be string, integer, number, boolean, null, array "
        f"or object (or an enum), got {kind!r}"
    )


def allowed_token_mask(fsm, states, vocab, eos_id=None):
    """Which tokens keep the automaton alive from ``states``.

    Parameters
    ----------
    fsm : RegexFSM
        The constraint.
    states : frozenset
        Current states.
    vocab : list of str
        Text of every token id (``""`` for tokens that should never be chosen).
    eos_id : int, optional
        End-of-sequence token: allowed only when ``states`` accepts.

    Returns
    -------
    torch.Tensor
        Bool ``(len(vocab),)``.

    Examples
    --------
    >>> from fmref.prompting.constrained import RegexFSM, allowed_token_mask
    >>> fsm = RegexFSM("(yes|no)")
    >>> vocab = ["y", "es", "no", "n", "maybe", "<eos>"]
    >>> allowed_token_mask(fsm, fsm.start(), vocab, eos_id=5).tolist()
    [True, False, True, True, False, False]
    >>> allowed_token_mask(fsm, fsm.step(fsm.start(), "no"), vocab, eos_id=5).tolist()
    [False, False, False, False, False, True]
    """
    check_instance("fsm", fsm, RegexFSM)
    mask = torch.zeros(len(vocab), dtype=torch.bool)
    for i, text in enumerate(vocab):
        if i == eos_id:
            mask[i] = fsm.accepts(states)
        elif text:
            mask[i] = bool(fsm.step(states, text))
    return mask


@torch.no_grad()
def constrained_generate(
    model,
    idx,
    vocab,
    pattern,
    max_new_tokens,
    eos_id=None,
    temperature=0.0,
    top_k=None,
    top_p=None,
    generator=None,
):
    """Generate text that matches ``pattern``, by masking the logits at every step.

    Parameters
    ----------
    model : fmref.models.gpt.GPT or fmref.models.llama.Llama
        Any model with ``model(idx, kv_cache=...)`` and ``make_kv_cache()``.
    idx : torch.Tensor
        One prompt ``(1, T)``.
    vocab : list of str
        Text of every token id (length ``vocab_size``).
    pattern : str or RegexFSM
        The constraint (use :func:`json_schema_regex` for a JSON schema).
    max_new_tokens : int
        Upper bound on new tokens.
    eos_id : int, optional
        End-of-sequence token; without it generation stops as soon as the text
        is a complete match.
    temperature, top_k, top_p, generator
        Sampling, as in :func:`fmref.infer.sampling.sample_next` (default greedy).

    Returns
    -------
    tokens : torch.Tensor
        ``(1, T + n)`` with ``n <= max_new_tokens`` (the EOS token included).
    text : str
        The generated text (without EOS).
    complete : bool
        Whether ``text`` is a full match (False if ``max_new_tokens`` ran out).

    Raises
    ------
    ValueError
        If ``idx`` is not ``(1, T)``, ``vocab`` does not have ``vocab_size``
        entries, or the prompt plus ``max_new_tokens`` exceed the context.

    References
    ----------
    .. [1] Willard and Louf, "Efficient Guided Generation for Large Language
       Models", 2023.

    Examples
    --------
    >>> import re, torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.prompting.constrained import constrained_generate
    >>> vocab = list("0123456789-abc ") + ["12", "ab", "<eos>"]
    >>> model = GPT(GPTConfig(vocab_size=len(vocab), block_size=32, n_layer=1, n_head=2,
    ...                       n_embd=16))  # untrained: it would babble
    >>> tokens, text, complete = constrained_generate(
    ...     model, torch.tensor([[0]]), vocab, r"\\d{3}-[a-c]+", 12, eos_id=17)
    >>> complete, bool(re.fullmatch(r"\\d{3}-[a-c]+", text))
    (True, True)
    """
    check_int("max_new_tokens", max_new_tokens, low=0)
    from fmref.infer.generate import context_length

    fsm = pattern if isinstance(pattern, RegexFSM) else RegexFSM(pattern)
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError("idx must have shape (1, T)")
    if len(vocab) != model.config.vocab_size:
        raise ValueError(
            f"vocab must have vocab_size={model.config.vocab_size} entries, got {len(vocab)}"
        )
    if idx.shape[1] + max_new_tokens > context_length(model):
        raise ValueError(
            f"max_new_tokens={max_new_tokens} after a prompt of {idx.shape[1]} "
            f"exceeds the context length {context_length(model)}"
        )
    cache, out = model.make_kv_cache(), idx
    states, text = fsm.start(), ""
    logits = model(idx, kv_cache=cache)[:, -1]  # (1, V)
    for _ in range(max_new_tokens):
        mask = allowed_token_mask(fsm, states, vocab, eos_id)  # (V,)
        if eos_id is None and fsm.accepts(states) or not mask.any():
            break
        masked = logits.masked_fill(~mask, float("-inf"))  # (1, V)
        tok = sample_next(masked, temperature, top_k, top_p, generator)  # (1,)
        out = torch.cat([out, tok[:, None]], dim=1)
        if tok.item() == eos_id:
            break
        text += vocab[tok.item()]
        states = fsm.step(states, vocab[tok.item()])
        logits = model(tok[:, None], kv_cache=cache)[:, -1]
    return out, text, fsm.accepts(states)
