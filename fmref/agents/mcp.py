"""The Model Context Protocol (MCP): a tool server and its client over stdio.

MCP standardises how an application (the *host*, with a *client* per connection)
reaches tools, resources and prompts that live in separate programs (*servers*).
Every message is JSON-RPC 2.0; over the stdio transport the client starts the
server as a subprocess and the two exchange one JSON object per line on the
server's standard input and output. A session begins with a handshake::

    client -> server  {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {...}}
    server -> client  {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": ...}}
    client -> server  {"jsonrpc": "2.0", "method": "notifications/initialized"}

after which the client discovers the tools (``tools/list``: each a name, a
description and the JSON schema of its arguments, ``inputSchema``) and calls
them (``tools/call``). This module implements the subset of revision
**2025-11-25** of the specification that tools need: ``initialize`` with version
negotiation, ``notifications/initialized``, ``ping``, ``tools/list`` and
``tools/call``. Two kinds of failure are kept apart, as the specification asks:

- a *protocol error* is a JSON-RPC error response: -32700 (the line is not
  JSON), -32600 (not a valid request), -32601 (unknown method), -32602 (invalid
  parameters, an unknown tool or protocol version);
- a *tool execution error* (the arguments fail the tool's schema, the tool
  raises) is a normal result with ``"isError": true``, whose text the model can
  read and act on.

The server never trusts a line: it bounds its size, decodes it strictly (no
``NaN``, no invalid UTF-8, no nesting deep enough to exhaust the stack), checks
the envelope, and only then looks a tool up by name in its registry. A bad line
gets its error and the server reads the next one.

References: Model Context Protocol specification, revision 2025-11-25,
https://modelcontextprotocol.io/specification/2025-11-25 (schema in
``schema/2025-11-25/schema.ts`` of github.com/modelcontextprotocol/modelcontextprotocol);
JSON-RPC 2.0 specification, https://www.jsonrpc.org/specification.
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from fmref import __version__
from fmref._validate import check_instance, check_int
from fmref.agents.tools import Tool, ToolCallError, ToolRegistry

__all__ = [
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "MAX_MESSAGE_BYTES",
    "MCPError",
    "request",
    "notification",
    "result_response",
    "error_response",
    "encode",
    "decode",
    "check_input_schema",
    "MCPServer",
    "MCPClient",
    "main",
]

PROTOCOL_VERSION = "2025-11-25"
"""The revision of the specification this module implements (the latest it speaks)."""

SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
"""Revisions whose tool messages are the ones implemented here, newest first.

Revision 2026-07-28 made the protocol stateless (no ``initialize`` handshake; each
request carries its version in ``_meta``; ``server/discover``); it is not implemented.
"""

PARSE_ERROR = -32700
"""JSON-RPC: the text is not valid JSON."""

INVALID_REQUEST = -32600
"""JSON-RPC: valid JSON, but not a valid request object."""

METHOD_NOT_FOUND = -32601
"""JSON-RPC: the method does not exist."""

INVALID_PARAMS = -32602
"""JSON-RPC: invalid method parameters (MCP also uses it for an unknown tool)."""

INTERNAL_ERROR = -32603
"""JSON-RPC: the server failed while handling a valid request."""

MAX_MESSAGE_BYTES = 1_000_000
"""Longest line, in bytes, the server reads as a message; longer lines are refused."""

_NOTIFICATION_PREFIX = "notifications/"
_SCHEMA_TYPES = ("integer", "number", "string", "boolean", "array")


class MCPError(Exception):
    """A JSON-RPC error: a code, a message and optional data.

    Raised by :func:`decode` and by the server's handlers, where it becomes an
    error response; raised by :class:`MCPClient` when the server answers with one.

    Parameters
    ----------
    code : int
        One of :data:`PARSE_ERROR`, :data:`INVALID_REQUEST`,
        :data:`METHOD_NOT_FOUND`, :data:`INVALID_PARAMS`, :data:`INTERNAL_ERROR`.
    message : str
        A short description.
    data : object, optional
        Anything JSON can hold that helps the other side.

    Examples
    --------
    >>> from fmref.agents.mcp import MCPError
    >>> err = MCPError(-32601, "Method not found: 'tools/run'")
    >>> err.code, str(err)
    (-32601, "-32601 Method not found: 'tools/run'")
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message, self.data = code, message, data

    def error(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` object."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def _is_id(value: Any) -> bool:
    # MCP: "Requests MUST include a string or integer ID", never null.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _check_id(value: Any, none: bool = False) -> Any:
    """``value`` if it is a request id (or ``None``, when ``none``), else TypeError."""
    if not (_is_id(value) or (none and value is None)):
        want = "an int, a str or None" if none else "an int or a str"
        raise TypeError(f"id must be {want}, got {value!r}")
    return value


def _invalid(msg_id: int | str | None, why: str) -> dict[str, Any]:
    """The error response to an invalid request."""
    return error_response(msg_id, INVALID_REQUEST, f"Invalid Request: {why}")


def request(method: str, params: dict[str, Any] | None = None,
            id: int | str = 1) -> dict[str, Any]:  # noqa: A002 - the protocol's name
    """A JSON-RPC request: a method the other side must answer.

    Parameters
    ----------
    method : str
        For example ``"tools/call"``.
    params : dict, optional
        Named parameters.
    id : int or str, default 1
        Matches the response to the request; never ``None`` in MCP.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``method`` is not a str, ``params`` not a dict or ``id`` not an int or str.

    Examples
    --------
    >>> from fmref.agents.mcp import request
    >>> request("tools/list", id=2)
    {'jsonrpc': '2.0', 'id': 2, 'method': 'tools/list'}
    """
    check_instance("method", method, str)
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": _check_id(id), "method": method}
    if params is not None:
        message["params"] = check_instance("params", params, dict)
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-RPC notification: a request without ``id``, never answered.

    Parameters
    ----------
    method : str
        For example ``"notifications/initialized"``.
    params : dict, optional
        Named parameters.

    Returns
    -------
    dict

    Examples
    --------
    >>> from fmref.agents.mcp import notification
    >>> notification("notifications/initialized")
    {'jsonrpc': '2.0', 'method': 'notifications/initialized'}
    """
    message = request(method, params, id=0)
    del message["id"]
    return message


def result_response(id: int | str, result: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """A successful JSON-RPC response.

    Parameters
    ----------
    id : int or str
        The request's id.
    result : dict
        The result object.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``id`` is not an int or str, or ``result`` not a dict.

    Examples
    --------
    >>> from fmref.agents.mcp import result_response
    >>> result_response(7, {})
    {'jsonrpc': '2.0', 'id': 7, 'result': {}}
    """
    _check_id(id)
    return {"jsonrpc": "2.0", "id": id, "result": check_instance("result", result, dict)}


def error_response(id: int | str | None, code: int, message: str,  # noqa: A002
                   data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error response.

    Parameters
    ----------
    id : int, str or None
        The request's id; ``None`` when it could not be read (a parse error, an
        invalid request), and then the ``id`` member is left out, as MCP's schema
        has it (JSON-RPC 2.0 itself writes ``"id": null``).
    code : int
        The error code.
    message : str
        A short description.
    data : object, optional
        Extra information.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``code`` is not an int or ``message`` not a str.

    Examples
    --------
    >>> from fmref.agents.mcp import PARSE_ERROR, error_response
    >>> error_response(None, PARSE_ERROR, "Parse error")
    {'jsonrpc': '2.0', 'error': {'code': -32700, 'message': 'Parse error'}}
    """
    check_int("code", code)
    check_instance("message", message, str)
    out: dict[str, Any] = {"jsonrpc": "2.0"}
    if _check_id(id, none=True) is not None:
        out["id"] = id
    out["error"] = MCPError(code, message, data).error()
    return out


def encode(message: dict[str, Any]) -> str:
    """One message as one line of JSON (the stdio transport's framing, newline excluded).

    JSON escapes the newlines inside strings, so the line has none, as the
    transport requires. Non-ASCII text is kept as UTF-8.

    Parameters
    ----------
    message : dict
        A request, notification or response.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``message`` is not a dict or holds something JSON cannot.

    Examples
    --------
    >>> from fmref.agents.mcp import encode, notification
    >>> encode(notification("notifications/initialized"))
    '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    >>> encode({"text": "two\\nlines"})
    '{"text":"two\\\\nlines"}'
    """
    if not isinstance(message, dict):
        raise TypeError(f"message must be a dict, got {type(message).__name__}")
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as err:  # NaN or infinity
        raise TypeError(f"message must hold only JSON values: {err}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(line: str | bytes) -> Any:
    """Decode one line strictly; :class:`MCPError` ``-32700`` if it is not JSON.

    Strict means: UTF-8 only, no ``NaN`` or ``Infinity`` (Python's :mod:`json`
    accepts them, JSON does not), at most :data:`MAX_MESSAGE_BYTES`, and nesting
    too deep for the parser is a parse error, not a crash.

    Parameters
    ----------
    line : str or bytes
        One message, with or without its newline.

    Returns
    -------
    object
        The decoded JSON value (not yet checked to be a request).

    Raises
    ------
    MCPError
        With code :data:`PARSE_ERROR` (or :data:`INVALID_REQUEST` if too long).
    TypeError
        If ``line`` is neither str nor bytes.

    Examples
    --------
    >>> from fmref.agents.mcp import MCPError, decode
    >>> decode('{"jsonrpc": "2.0", "id": 1, "method": "ping"}\\n')
    {'jsonrpc': '2.0', 'id': 1, 'method': 'ping'}
    >>> for bad in ['{"id": 1,', '[NaN]', b'"\\xff"', "[" * 100_000]:
    ...     try:
    ...         decode(bad)
    ...     except MCPError as err:
    ...         print(err.code, err.message)
    -32700 Parse error: Expecting property name enclosed in double quotes at char 9
    -32700 Parse error: NaN is not JSON
    -32700 Parse error: not UTF-8
    -32700 Parse error: nested too deeply
    """
    if isinstance(line, (bytes, bytearray)):
        size = len(line)
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError:
            raise MCPError(PARSE_ERROR, "Parse error: not UTF-8") from None
    elif isinstance(line, str):
        size = len(line.encode("utf-8", "surrogatepass"))
    else:
        raise TypeError(f"line must be a str or bytes, got {type(line).__name__}")
    if size > MAX_MESSAGE_BYTES:
        raise MCPError(INVALID_REQUEST,
                       f"Invalid Request: message longer than {MAX_MESSAGE_BYTES} bytes")
    try:
        return json.loads(line, parse_constant=_no_constant)
    except RecursionError:
        raise MCPError(PARSE_ERROR, "Parse error: nested too deeply") from None
    except json.JSONDecodeError as err:
        raise MCPError(PARSE_ERROR, f"Parse error: {err.msg} at char {err.pos}") from None
    except ValueError as err:  # NaN, Infinity, integers longer than Python converts
        raise MCPError(PARSE_ERROR, f"Parse error: {err}") from None


def check_input_schema(schema: Any, where: str = "inputSchema") -> None:
    """Check that a tool's ``inputSchema`` uses only what fmref validates.

    An object schema whose properties are ``integer``, ``number``, ``string``,
    ``boolean``, an ``array`` of those, or an ``enum``; the same subset that
    :func:`fmref.agents.tools.validate_arguments` checks. A client refuses a remote
    tool it could not validate rather than forward unchecked arguments.

    Parameters
    ----------
    schema : dict
        The schema.
    where : str, default "inputSchema"
        Name used in error messages.

    Raises
    ------
    TypeError
        If the schema is not an object schema or a property has another type.

    Examples
    --------
    >>> from fmref.agents.mcp import check_input_schema
    >>> check_input_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
    >>> try:
    ...     check_input_schema({"type": "object", "properties": {"q": {"type": "object"}}})
    ... except TypeError as err:
    ...     print(err.args[0][:54])
    inputSchema property 'q' has unsupported type 'object'
    """
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise TypeError(f"{where} must be a JSON schema of type 'object', got {schema!r}")
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise TypeError(f"{where} must have a dict of properties and a list of required names")

    def check(prop: Any, name: str) -> None:
        if not isinstance(prop, dict):
            raise TypeError(f"{where} property {name} must be a schema object, got {prop!r}")
        kind = prop.get("type")
        if kind is None and "enum" not in prop or kind is not None and kind not in _SCHEMA_TYPES:
            raise TypeError(f"{where} property {name} has unsupported type {kind!r}; "
                            f"supported: {', '.join(_SCHEMA_TYPES)}")
        if "enum" in prop and not isinstance(prop["enum"], list):
            raise TypeError(f"{where} property {name} must have a list as enum")
        if kind == "array":
            check(prop.get("items"), f"{name}[]")

    for name, prop in properties.items():
        check(prop, repr(name))


class MCPServer:
    """An MCP server exposing a :class:`~fmref.agents.tools.ToolRegistry`.

    :meth:`handle_line` turns one input line into at most one output line and
    never raises; :meth:`serve` runs it over a pair of byte streams (the stdio
    transport). Tool calls are refused until the client has sent ``initialize``.

    Parameters
    ----------
    tools : ToolRegistry or list
        The tools to expose (a list is wrapped in a registry).
    name : str, default "fmref"
        ``serverInfo.name``.
    instructions : str, optional
        ``instructions`` of the ``initialize`` result: a hint for the model.

    Examples
    --------
    >>> from fmref.agents.calculator import calculator
    >>> from fmref.agents.mcp import MCPServer
    >>> server = MCPServer([calculator])
    >>> print(server.handle_line('{"jsonrpc": "2.0", "id": 1, "method": "initialize", '
    ...     '"params": {"protocolVersion": "2025-06-18", "capabilities": {}, '
    ...     '"clientInfo": {"name": "doc", "version": "0"}}}'))
    {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":false}},"serverInfo":{"name":"fmref","version":"0.1.0"}}}
    >>> server.handle_line('{"jsonrpc": "2.0", "method": "notifications/initialized"}') is None
    True
    >>> print(server.handle_line('{"jsonrpc": "2.0", "id": 2, "method": "tools/call", '
    ...     '"params": {"name": "calculator", "arguments": {"expression": "6 * 7"}}}'))
    {"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"42"}],"isError":false}}
    >>> import json
    >>> json.loads(server.handle_line('{"jsonrpc": "2.0", "id": 3, "method": "tools/call", '
    ...     '"params": {"name": "calculator", "arguments": {"expression": "1 / 0"}}}'))["result"]
    {'content': [{'type': 'text', 'text': 'division by zero'}], 'isError': True}
    >>> print(server.handle_line('{"jsonrpc": "2.0", "id": 4, "method": "tools/call", '
    ...     '"params": {"name": "shell", "arguments": {"cmd": "ls"}}}'))
    {"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"Unknown tool: 'shell'"}}
    """

    def __init__(self, tools: Any, name: str = "fmref", instructions: str | None = None) -> None:
        self.tools = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if instructions is not None and not isinstance(instructions, str):
            raise TypeError("instructions must be a str or None, "
                            f"got {type(instructions).__name__}")
        self.name, self.instructions = name, instructions
        self.protocol_version: str | None = None  # set by initialize
        self.client_ready = False  # set by notifications/initialized

    # -- dispatch ---------------------------------------------------------------------
    def handle(self, message: Any) -> dict[str, Any] | None:
        """Answer one decoded message: a response dict, or ``None`` for a notification.

        Parameters
        ----------
        message : object
            What :func:`decode` returned.

        Returns
        -------
        dict or None

        Examples
        --------
        >>> from fmref.agents.mcp import MCPServer
        >>> MCPServer([]).handle({"jsonrpc": "2.0", "id": "a", "method": "ping"})
        {'jsonrpc': '2.0', 'id': 'a', 'result': {}}
        >>> MCPServer([]).handle([])["error"]["message"]
        'Invalid Request: batches are not supported (MCP 2025-06-18 removed them)'
        """
        if isinstance(message, list):
            return _invalid(None, "batches are not supported (MCP 2025-06-18 removed them)")
        if not isinstance(message, dict):
            return _invalid(None, f"expected an object, got {_json_kind(message)}")
        has_id = "id" in message
        msg_id = message.get("id")
        if has_id and not _is_id(msg_id):
            return _invalid(None, "id must be a string or an integer")
        if message.get("jsonrpc") != "2.0":
            return _invalid(msg_id, 'jsonrpc must be "2.0"')
        if "method" not in message and ("result" in message or "error" in message):
            return None  # a response: this server sends no requests, so nothing awaits it
        method = message.get("method")
        if not isinstance(method, str):
            return _invalid(msg_id, "method must be a string")
        params = message.get("params", {})
        if not isinstance(params, (dict, list)):
            return _invalid(msg_id, "params must be an object")
        if not has_id:
            self._notify(method, params)
            return None  # "The receiver MUST NOT send a response"
        try:
            if isinstance(params, list):
                raise MCPError(INVALID_PARAMS, "Invalid params: MCP takes named params (an object)")
            return result_response(msg_id, self._dispatch(method, params))
        except MCPError as err:
            return error_response(msg_id, err.code, err.message, err.data)
        except Exception as err:  # a bug of ours: say so, keep serving
            return error_response(msg_id, INTERNAL_ERROR,
                                  f"Internal error: {type(err).__name__}")

    def handle_line(self, line: str | bytes) -> str | None:
        """Answer one line of the transport: an encoded response, or ``None``.

        Never raises: undecodable input becomes an error response.

        Parameters
        ----------
        line : str or bytes
            One message.

        Returns
        -------
        str or None

        Examples
        --------
        >>> from fmref.agents.mcp import MCPServer
        >>> print(MCPServer([]).handle_line("[1,"))
        {"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error: Expecting value at char 3"}}
        """
        try:
            message = decode(line)
        except (MCPError, TypeError) as err:
            reply = _invalid(None, "a line must be text") if isinstance(err, TypeError) \
                else error_response(None, err.code, err.message)
            return encode(reply)
        response = self.handle(message)
        return None if response is None else encode(response)

    def _notify(self, method: str, params: Any) -> None:
        if method == "notifications/initialized" and self.protocol_version is not None:
            self.client_ready = True
        # other notifications (cancelled, progress, unknown ones) need no action here

    def _dispatch(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "initialize":
            return self._initialize(params)
        if method == "ping":
            return {}
        if method in ("tools/list", "tools/call"):
            if self.protocol_version is None:
                raise MCPError(INVALID_REQUEST,
                               "Invalid Request: the session is not initialized; send initialize")
            return self._list_tools(params) if method == "tools/list" else self._call_tool(params)
        raise MCPError(METHOD_NOT_FOUND, f"Method not found: {method[:100]!r}")

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        version = params.get("protocolVersion")
        if not isinstance(version, str):
            raise MCPError(INVALID_PARAMS, "Invalid params: protocolVersion must be a string")
        info = params.get("clientInfo")
        if not (isinstance(info, dict) and isinstance(info.get("name"), str)
                and isinstance(info.get("version"), str)):
            raise MCPError(INVALID_PARAMS,
                           "Invalid params: clientInfo must have a name and a version")
        if not isinstance(params.get("capabilities"), dict):
            raise MCPError(INVALID_PARAMS, "Invalid params: capabilities must be an object")
        # "If the server supports the requested protocol version, it MUST respond with
        # the same version. Otherwise [...] another protocol version it supports."
        self.protocol_version = version if version in SUPPORTED_VERSIONS else PROTOCOL_VERSION
        self.client_ready = False
        result: dict[str, Any] = {
            "protocolVersion": self.protocol_version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self.name, "version": __version__},
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    def _list_tools(self, params: dict[str, Any]) -> dict[str, Any]:
        cursor = params.get("cursor")
        if cursor is not None:  # one page holds every tool: no cursor was ever issued
            raise MCPError(INVALID_PARAMS, "Invalid params: unknown cursor")
        tools = []
        for spec, tool in zip(self.tools.specs(), (self.tools[n] for n in self.tools.names())):
            tools.append({"name": spec["name"], "description": spec["description"],
                          "inputSchema": spec["parameters"],
                          "annotations": {"readOnlyHint": not tool.side_effects}})
        return {"tools": tools}

    def _call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        name, arguments = params.get("name"), params.get("arguments", {})
        if not isinstance(name, str):
            raise MCPError(INVALID_PARAMS, "Invalid params: name must be a string")
        if not isinstance(arguments, dict):
            raise MCPError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        if name not in self.tools:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name[:100]!r}")
        try:
            text, is_error = str(self.tools.call(name, arguments)), False
        except ToolCallError as err:  # schema violations and the tool's own refusals
            text, is_error = str(err), True
        except Exception as err:  # the tool raised: a tool execution error, not a crash
            text, is_error = f"{type(err).__name__}: {err}", True
        return {"content": [{"type": "text", "text": text}], "isError": is_error}

    # -- transport --------------------------------------------------------------------
    def serve(self, instream: BinaryIO, outstream: BinaryIO,
              max_bytes: int = MAX_MESSAGE_BYTES) -> int:
        """Serve newline-delimited JSON-RPC until ``instream`` ends; return the lines read.

        A line longer than ``max_bytes`` is read and thrown away in pieces (its
        content never reaches the parser) and answered with an invalid request.

        Parameters
        ----------
        instream : binary file
            The client's messages (the server's standard input).
        outstream : binary file
            The responses (the server's standard output), flushed after each.
        max_bytes : int, default MAX_MESSAGE_BYTES
            The longest line accepted.

        Returns
        -------
        int
            The number of lines read.

        Raises
        ------
        ValueError
            If ``max_bytes`` is not a positive int.

        Examples
        --------
        >>> import io
        >>> from fmref.agents.mcp import MCPServer
        >>> out = io.BytesIO()
        >>> MCPServer([]).serve(io.BytesIO(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\\n'
        ...                                 + b"x" * 50 + b"\\n"), out, max_bytes=40)
        2
        >>> for line in out.getvalue().decode().splitlines():
        ...     print(line[:72])
        {"jsonrpc":"2.0","id":1,"result":{}}
        {"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request: mess
        """
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
        count = 0
        while True:
            line = instream.readline(max_bytes + 1)
            if not line:
                return count
            count += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # drop the rest of the line
                    line = instream.readline(65536)
                reply: str | None = encode(
                    _invalid(None, f"message longer than {max_bytes} bytes"))
            else:
                reply = self.handle_line(line)
            if reply is not None:
                outstream.write(reply.encode("utf-8") + b"\n")
                outstream.flush()


def _json_kind(value: Any) -> str:
    for kind, types in (("null", type(None)), ("a boolean", bool), ("a number", (int, float)),
                        ("a string", str)):
        if isinstance(value, types):
            return kind
    return type(value).__name__  # pragma: no cover - decode yields only JSON kinds


class MCPClient:
    """An MCP client: starts a server subprocess and talks to it over stdio.

    Use it as a context manager; :meth:`initialize` performs the handshake,
    :meth:`list_tools` and :meth:`call_tool` the two tool methods, and
    :meth:`registry` wraps the server's tools in a
    :class:`~fmref.agents.tools.ToolRegistry` for :func:`fmref.agents.react.run_agent`.
    Every message sent and received is kept in :attr:`log`.

    Parameters
    ----------
    command : list of str
        The server's command line, e.g.
        ``[sys.executable, "-m", "fmref.agents.mcp", "--serve"]``.
    timeout : float, default 10.0
        Seconds to wait for each response.
    name : str, default "fmref-client"
        ``clientInfo.name``.

    Raises
    ------
    TypeError
        If ``command`` is not a non-empty list of str.
    ValueError
        If the command cannot be started (no such program) or ``timeout`` is not positive.

    Examples
    --------
    >>> import sys
    >>> from fmref.agents.mcp import MCPClient
    >>> with MCPClient([sys.executable, "-m", "fmref.agents.mcp", "--serve"]) as client:
    ...     info = client.initialize()
    ...     names = [tool["name"] for tool in client.list_tools()]
    ...     result = client.call_tool("calculator", {"expression": "2 ** 10"})
    >>> info["protocolVersion"], names, result["content"][0]["text"]
    ('2025-11-25', ['calculator'], '1024')
    """

    def __init__(self, command: Sequence[str], timeout: float = 10.0,
                 name: str = "fmref-client") -> None:
        if (isinstance(command, str) or not isinstance(command, Sequence) or not command
                or not all(isinstance(c, str) for c in command)):
            raise TypeError(f"command must be a non-empty list of str, got {command!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.command, self.timeout, self.name = list(command), float(timeout), name
        self.log: list[tuple[str, dict[str, Any]]] = []  # ("send" | "recv", message)
        self.server_info: dict[str, Any] | None = None
        self.protocol_version: str | None = None
        self._next_id = 1
        self._stderr = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self._stderr)
        except OSError as err:
            self._stderr.close()
            raise ValueError(f"command {self.command[0]!r} cannot be started: "
                             f"{err.strerror or err}") from None
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self._lines.put(line)
        self._lines.put(b"")  # end of stream

    # -- raw transport ----------------------------------------------------------------
    def send_line(self, line: str) -> None:
        """Write one raw line to the server (for conformance tests of bad input).

        It is logged as ``("send", {"raw": line})``.

        Parameters
        ----------
        line : str
            Sent as UTF-8 followed by a newline; it must not contain one.

        Raises
        ------
        ValueError
            If ``line`` contains a newline.

        Examples
        --------
        >>> import sys
        >>> from fmref.agents.mcp import MCPClient
        >>> with MCPClient([sys.executable, "-m", "fmref.agents.mcp", "--serve"]) as client:
        ...     client.send_line("{oops")
        ...     client.receive()["error"]["code"]
        -32700
        """
        if not isinstance(line, str) or "\n" in line:
            raise ValueError("line must be a str without newlines")
        self.log.append(("send", {"raw": line}))
        self._write(line)

    def _write(self, line: str) -> None:
        self.process.stdin.write(line.encode("utf-8") + b"\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def send(self, message: dict[str, Any]) -> None:
        """Encode and send one message, and log it."""
        line = encode(message)
        self.log.append(("send", message))
        self._write(line)

    def receive(self) -> dict[str, Any]:
        """The next message from the server (logged).

        Raises
        ------
        TimeoutError
            If nothing comes within ``timeout`` seconds.
        ConnectionError
            If the server closed its output (it exited); its standard error is quoted.
        """
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"no message from the server within {self.timeout} s") from None
        if not line:
            self._lines.put(b"")  # keep reporting the end to later calls
            self._stderr.seek(0)
            tail = self._stderr.read()[-500:].decode("utf-8", "replace").strip()
            raise ConnectionError(f"the server {self.command[0]!r} closed its output"
                                  + (f"; its stderr ends with: {tail}" if tail else ""))
        message = decode(line)
        self.log.append(("recv", message))
        return message

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return its ``result``; :class:`MCPError` on an error response.

        Messages with other ids (or none: the server's notifications) are logged
        and skipped. When no answer comes within ``timeout``, the client tells the
        server it stopped waiting (``notifications/cancelled``, as the
        specification advises) and raises :class:`TimeoutError`.
        """
        msg_id, self._next_id = self._next_id, self._next_id + 1
        self.send(request(method, params, msg_id))
        while True:
            try:
                message = self.receive()
            except TimeoutError:
                self.send(notification("notifications/cancelled",
                                       {"requestId": msg_id, "reason": "timeout"}))
                raise
            if message.get("id") != msg_id:
                continue
            if "error" in message:
                err = message["error"]
                raise MCPError(err.get("code", INTERNAL_ERROR), err.get("message", ""),
                               err.get("data"))
            return message["result"]

    # -- the protocol -----------------------------------------------------------------
    def initialize(self, protocol_version: str = PROTOCOL_VERSION) -> dict[str, Any]:
        """The handshake: ``initialize``, check the version, then ``notifications/initialized``.

        Parameters
        ----------
        protocol_version : str, default PROTOCOL_VERSION
            The version to ask for.

        Returns
        -------
        dict
            The server's ``initialize`` result.

        Raises
        ------
        MCPError
            If the server answers with a version this client does not support
            (the client then closes the connection, as the specification advises).
        """
        result = self.request("initialize", {
            "protocolVersion": protocol_version,
            "capabilities": {},
            "clientInfo": {"name": self.name, "version": __version__},
        })
        if result.get("protocolVersion") not in SUPPORTED_VERSIONS:
            self.close()
            raise MCPError(INVALID_PARAMS, "Unsupported protocol version",
                           {"supported": list(SUPPORTED_VERSIONS),
                            "requested": result.get("protocolVersion")})
        self.protocol_version = result["protocolVersion"]
        self.server_info = result.get("serverInfo")
        self.send(notification("notifications/initialized"))
        return result

    def list_tools(self) -> list[dict[str, Any]]:
        """Every tool of the server (``tools/list``, following ``nextCursor`` pages)."""
        tools: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            result = self.request("tools/list", params)
            tools.extend(result.get("tools", []))
            if not result.get("nextCursor"):
                return tools
            params = {"cursor": result["nextCursor"]}  # pragma: no cover - fmref serves one page

    def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call a tool (``tools/call``); return the result, ``isError`` included.

        Raises
        ------
        TypeError
            If ``name`` is not a str or ``arguments`` not a dict.
        MCPError
            On a protocol error (an unknown tool, say).
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not isinstance(arguments, dict):
            raise TypeError(f"arguments must be a dict, got {type(arguments).__name__}")
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def registry(self, read_only: Iterable[str] = ()) -> ToolRegistry:
        """The server's tools as a :class:`~fmref.agents.tools.ToolRegistry`.

        Each tool's function forwards the call to the server and returns its
        text; an ``isError`` result raises
        :class:`~fmref.agents.tools.ToolCallError`, which the ReAct loop feeds
        back to the model as ``Error: ...``. The arguments are validated on this
        side first, against the tool's ``inputSchema``.

        Least privilege: the server's ``readOnlyHint`` annotations are claims by
        the server, which the specification says to treat as untrusted. A tool is
        free of side effects only if the *user* names it in ``read_only``; every
        other tool needs the loop's ``confirm`` callback.

        Parameters
        ----------
        read_only : iterable of str, default ()
            Tools the user trusts to have no side effects.

        Returns
        -------
        ToolRegistry

        Raises
        ------
        TypeError
            If a tool's ``inputSchema`` uses types fmref cannot validate
            (:func:`check_input_schema`), or ``read_only`` is a str.
        ValueError
            If a name in ``read_only`` is not one of the server's tools.

        Examples
        --------
        >>> import sys
        >>> from fmref.agents.mcp import MCPClient
        >>> from fmref.agents.react import ScriptedPolicy, run_agent
        >>> policy = ScriptedPolicy([
        ...     '<tool_call>{"name": "calculator", "arguments": {"expression": "19 * 3"}}'
        ...     '</tool_call>', "Answer: 57"])
        >>> with MCPClient([sys.executable, "-m", "fmref.agents.mcp", "--serve"]) as client:
        ...     _ = client.initialize()
        ...     result = run_agent(policy, client.registry(read_only=["calculator"]),
        ...                        "What is 19 times 3?")
        >>> result.answer, result.steps[0].observation
        ('57', '57')
        """
        if isinstance(read_only, str):
            raise TypeError("read_only must be an iterable of tool names, not a str")
        trusted = set(read_only)
        tools = ToolRegistry()
        for spec in self.list_tools():
            name = spec.get("name")
            check_input_schema(spec.get("inputSchema"), f"inputSchema of tool {name!r}")
            tools.register(Tool(name, spec.get("description", ""), spec["inputSchema"],
                                self._forwarder(name), side_effects=name not in trusted))
        unknown = trusted - set(tools.names())
        if unknown:
            raise ValueError(f"read_only must name the server's tools {tools.names()}; "
                             f"unknown: {sorted(unknown)}")
        return tools

    def _forwarder(self, name: str):
        def forward(**arguments: Any) -> str:
            result = self.call_tool(name, arguments)
            text = "\n".join(c.get("text", "") for c in result.get("content", [])
                             if c.get("type") == "text")
            if result.get("isError"):
                raise ToolCallError(text)
            return text
        return forward

    def close(self) -> int | None:
        """End the session as the stdio transport says: close stdin, wait, then terminate.

        Returns
        -------
        int or None
            The server's exit status.
        """
        if self.process.poll() is None:
            try:
                self.process.stdin.close()  # type: ignore[union-attr]
                self.process.wait(timeout=self.timeout)
            except (OSError, subprocess.TimeoutExpired):  # pragma: no cover - a stuck server
                self.process.terminate()
                try:
                    self.process.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        self._reader.join(timeout=self.timeout)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> MCPClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def main(argv: Sequence[str] | None = None, stdin: BinaryIO | None = None,
         stdout: BinaryIO | None = None) -> int:
    """Command line: ``python -m fmref.agents.mcp --serve`` serves the calculator over stdio.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    stdin, stdout : binary file, optional
        Streams (default: the process's standard input and output).

    Returns
    -------
    int
        The exit status, 0.

    Examples
    --------
    >>> import io
    >>> from fmref.agents.mcp import main
    >>> out = io.BytesIO()
    >>> main(["--serve"], io.BytesIO(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\\n'), out)
    0
    >>> out.getvalue()
    b'{"jsonrpc":"2.0","id":1,"result":{}}\\n'
    """
    parser = argparse.ArgumentParser(prog="python -m fmref.agents.mcp",
                                     description="An MCP server over stdio (fmref).")
    parser.add_argument("--serve", action="store_true", required=True,
                        help="serve the calculator tool over stdin/stdout")
    parser.parse_args(argv)
    from fmref.agents.calculator import calculator

    server = MCPServer([calculator], instructions=None)
    server.serve(stdin if stdin is not None else sys.stdin.buffer,
                 stdout if stdout is not None else sys.stdout.buffer)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by MCPClient
    sys.exit(main())
