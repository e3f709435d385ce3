"""The tool-call format, and a parser that checks every call before it runs.

A model calls a tool by writing one block::

    <tool_call>{"name": "calculator", "arguments": {"expression": "6 * 7"}}</tool_call>

inside its output: JSON between two tags, as in the chat templates of several open
models (Hermes, Qwen). :func:`parse_tool_call` finds the block, decodes the JSON
with :func:`json.loads` (never ``eval``), and, given a
:class:`~fmref.agents.tools.ToolRegistry`, checks the name and the arguments against
the tool's schema. Anything wrong raises :class:`~fmref.agents.tools.ToolCallError`
with a message that says what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fmref._validate import check_instance
from fmref.agents.tools import ToolCallError, ToolRegistry, validate_arguments

__all__ = ["CALL_OPEN", "CALL_CLOSE", "ToolCall", "format_tool_call", "parse_tool_call"]

CALL_OPEN = "<tool_call>"
"""Tag that opens a tool call."""

CALL_CLOSE = "</tool_call>"
"""Tag that closes a tool call."""


@dataclass(frozen=True)
class ToolCall:
    """One parsed call: the tool's name and its arguments.

    Parameters
    ----------
    name : str
        Tool name.
    arguments : dict
        Keyword arguments, as decoded from JSON.

    Examples
    --------
    >>> from fmref.agents.parse import ToolCall
    >>> ToolCall("calculator", {"expression": "1 + 1"})
    ToolCall(name='calculator', arguments={'expression': '1 + 1'})
    """

    name: str
    arguments: dict[str, Any]


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """Write a call in the format :func:`parse_tool_call` reads.

    Parameters
    ----------
    name : str
        Tool name.
    arguments : dict
        JSON-serialisable arguments.

    Returns
    -------
    str
        ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

    Examples
    --------
    >>> from fmref.agents.parse import format_tool_call
    >>> format_tool_call("calculator", {"expression": "6 * 7"})
    '<tool_call>{"name": "calculator", "arguments": {"expression": "6 * 7"}}</tool_call>'
    """
    check_instance("name", name, str)
    check_instance("arguments", arguments, dict)
    return f"{CALL_OPEN}{json.dumps({'name': name, 'arguments': arguments})}{CALL_CLOSE}"


def parse_tool_call(text: str, tools: ToolRegistry | None = None) -> ToolCall | None:
    """Find, decode and check the tool call in a model's output.

    Parameters
    ----------
    text : str
        The model's output.
    tools : ToolRegistry, optional
        If given, the call must name one of its tools and pass that tool's schema.

    Returns
    -------
    ToolCall or None
        The call, or ``None`` if ``text`` holds no ``<tool_call>`` tag at all.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ToolCallError
        If the call is truncated (no closing tag), there is more than one call,
        the JSON is malformed or not an object of exactly ``name`` and
        ``arguments``, the tool is unknown, or the arguments fail its schema
        (wrong type, extra or missing argument).

    Examples
    --------
    >>> from fmref.agents.calculator import calculator
    >>> from fmref.agents.parse import parse_tool_call
    >>> from fmref.agents.tools import ToolCallError, ToolRegistry
    >>> tools = ToolRegistry([calculator])
    >>> out = 'I will compute it. <tool_call>{"name": "calculator", '
    >>> out += '"arguments": {"expression": "6 * 7"}}</tool_call>'
    >>> parse_tool_call(out, tools)
    ToolCall(name='calculator', arguments={'expression': '6 * 7'})
    >>> parse_tool_call("The answer is 42.") is None
    True
    >>> bad = ['<tool_call>{"name": "calculator", "arguments": {"expression": "6 *',
    ...        "<tool_call>{'name': 'calculator'}</tool_call>",
    ...        '<tool_call>{"name": "calculator", "arguments": {"expression": 42}}</tool_call>']
    >>> for text in bad:
    ...     try:
    ...         parse_tool_call(text, tools)
    ...     except ToolCallError as err:
    ...         print(err)
    truncated tool call: '<tool_call>' is never closed by '</tool_call>'
    malformed JSON in tool call: Expecting property name enclosed in double quotes at char 1
    argument 'expression' must be of type string, got int 42
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    start = text.find(CALL_OPEN)
    if start < 0:
        if CALL_CLOSE in text:
            raise ToolCallError(f"found {CALL_CLOSE!r} without an opening {CALL_OPEN!r}")
        return None
    end = text.find(CALL_CLOSE, start)
    if end < 0:
        raise ToolCallError(f"truncated tool call: {CALL_OPEN!r} is never closed by {CALL_CLOSE!r}")
    if CALL_OPEN in text[start + len(CALL_OPEN):]:
        raise ToolCallError("more than one tool call: make one call per step")
    body = text[start + len(CALL_OPEN):end]
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as err:
        raise ToolCallError(f"malformed JSON in tool call: {err.msg} at char {err.pos}") from None
    if not isinstance(payload, dict):
        raise ToolCallError(f"tool call must be a JSON object, got {type(payload).__name__}")
    if set(payload) != {"name", "arguments"}:
        raise ToolCallError(
            f"tool call must have exactly the keys 'name' and 'arguments', got {sorted(payload)}"
        )
    name, arguments = payload["name"], payload["arguments"]
    if not isinstance(name, str):
        raise ToolCallError(f"tool name must be a string, got {type(name).__name__}")
    if not isinstance(arguments, dict):
        raise ToolCallError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    if tools is not None:
        validate_arguments(arguments, tools[name].parameters)  # tools[name]: unknown -> error
    return ToolCall(name, arguments)
