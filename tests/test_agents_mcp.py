"""Tests of fmref.agents.mcp: MCP conformance (revision 2025-11-25) of the server and the client.

Round trips of every message type, each JSON-RPC error code on the request that should
raise it, a real server subprocess fed 1,000 random or truncated lines, tool failures as
``isError`` results, the client driving the ReAct loop, and bad input. One server
subprocess is shared by the module; three tiny fake servers (``python -c``) cover a wrong
protocol version, a server that dies and one that never answers.

The message shapes are those of the specification's own examples
(docs/specification/2025-11-25/basic/lifecycle.mdx and server/tools.mdx of
github.com/modelcontextprotocol/modelcontextprotocol); the error codes are those of
schema/2025-11-25/schema.ts (PARSE_ERROR = -32700 ... INTERNAL_ERROR = -32603).
"""

import io
import json
import random
import sys

import pytest

from fmref.agents.calculator import calculator
from fmref.agents.mcp import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_MESSAGE_BYTES,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    PROTOCOL_VERSION,
    MCPClient,
    MCPError,
    MCPServer,
    check_input_schema,
    decode,
    encode,
    error_response,
    main,
    notification,
    request,
    result_response,
)
from fmref.agents.react import ScriptedPolicy, run_agent
from fmref.agents.tools import Tool

SERVE = [sys.executable, "-m", "fmref.agents.mcp", "--serve"]
INIT = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}


@pytest.fixture(scope="module")
def client():
    with MCPClient(SERVE, timeout=20) as c:
        c.initialize()
        yield c


def boom(x: int) -> int:
    """Fail.

    Parameters
    ----------
    x : int
        Anything.
    """
    raise RuntimeError(f"tool broke on {x}")


def ready_server(tools=(calculator, boom)):
    server = MCPServer(list(tools))
    server.handle(request("initialize", INIT, 0))
    server.handle(notification("notifications/initialized"))
    return server


def ask(server, method, params=None, id=1):
    return server.handle(request(method, params, id))


# -- message round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("message", [
    request("initialize", INIT, 1),
    notification("notifications/initialized"),
    request("ping", id="p-1"),
    request("tools/list", {}, 2),
    request("tools/call", {"name": "calculator", "arguments": {"expression": "1 + 1"}}, 3),
    result_response(3, {"content": [{"type": "text", "text": "line 1\nline 2 é"}],
                        "isError": False}),
    error_response(4, METHOD_NOT_FOUND, "Method not found", {"method": "x"}),
    error_response(None, PARSE_ERROR, "Parse error"),
])
def test_every_message_type_round_trips_through_one_line(message):
    line = encode(message)
    assert "\n" not in line and decode(line) == message and decode(line.encode()) == message


def test_spec_example_initialize_gets_the_spec_shaped_answer():
    # The client's request of lifecycle.mdx (2025-11-25), verbatim apart from icons.
    spec_request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"roots": {"listChanged": True}, "sampling": {},
                         "elicitation": {"form": {}, "url": {}}},
        "clientInfo": {"name": "ExampleClient", "title": "Example Client Display Name",
                       "version": "1.0.0"}}}
    server = MCPServer([calculator], instructions="Use the calculator for arithmetic.")
    reply = json.loads(server.handle_line(json.dumps(spec_request)))
    assert reply["id"] == 1 and set(reply) == {"jsonrpc", "id", "result"}
    assert set(reply["result"]) == {"protocolVersion", "capabilities", "serverInfo",
                                    "instructions"}
    assert reply["result"]["capabilities"] == {"tools": {"listChanged": False}}
    assert server.protocol_version == "2025-11-25" and not server.client_ready
    assert server.handle_line(encode(notification("notifications/initialized"))) is None
    assert server.client_ready


@pytest.mark.parametrize("asked, answered", [
    ("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("2025-03-26", "2025-03-26"),
    ("2024-11-05", "2025-11-25"), ("1.0.0", "2025-11-25"),
])
def test_version_negotiation_echoes_a_supported_version_else_offers_the_latest(asked, answered):
    result = ask(MCPServer([]), "initialize", {**INIT, "protocolVersion": asked})["result"]
    assert result["protocolVersion"] == answered


def test_tools_list_and_call_have_the_spec_shapes():
    server = ready_server()
    tools = ask(server, "tools/list", {})["result"]["tools"]
    assert [t["name"] for t in tools] == ["calculator", "boom"]
    assert tools[0]["inputSchema"] == {
        "type": "object", "required": ["expression"], "additionalProperties": False,
        "properties": {"expression": {"type": "string", "description": (
            'Numbers combined with + - * / // % ** and parentheses, e.g. "(12 + 7) * 3".')}}}
    assert tools[0]["annotations"] == {"readOnlyHint": True}
    reply = ask(server, "tools/call", {"name": "calculator",
                                       "arguments": {"expression": "(12 + 7) * 3"}}, 9)
    assert reply == {"jsonrpc": "2.0", "id": 9, "result": {
        "content": [{"type": "text", "text": "57"}], "isError": False}}
    assert ask(server, "ping", id="x") == {"jsonrpc": "2.0", "id": "x", "result": {}}


# -- tool execution errors are results ----------------------------------------------------------
@pytest.mark.parametrize("name, arguments, text", [
    ("boom", {"x": 3}, "RuntimeError: tool broke on 3"),
    ("calculator", {"expression": "__import__('os')"},
     "only numbers, + - * / // % ** and parentheses are allowed; found Call"),
    ("calculator", {"expression": 42}, "argument 'expression' must be of type string, got int 42"),
    ("calculator", {}, "missing required argument 'expression'"),
    ("calculator", {"expression": "1", "shell": "ls"},
     "unexpected argument 'shell'; expected one of ['expression']"),
])
def test_a_failing_tool_or_invalid_arguments_give_is_error(name, arguments, text):
    # SEP-1303 (2025-11-25): input validation errors are tool execution errors.
    result = ask(ready_server(), "tools/call", {"name": name, "arguments": arguments})["result"]
    assert result == {"content": [{"type": "text", "text": text}], "isError": True}


# -- protocol errors ----------------------------------------------------------------------------
def code_of(server, line):
    reply = json.loads(server.handle_line(line))
    assert set(reply) <= {"jsonrpc", "id", "error"} and reply["jsonrpc"] == "2.0"
    return reply.get("id"), reply["error"]["code"]


@pytest.mark.parametrize("line, code", [
    ("", PARSE_ERROR),
    ("{", PARSE_ERROR),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping"', PARSE_ERROR),
    ('{"jsonrpc": "2.0", "id": NaN, "method": "ping"}', PARSE_ERROR),
    ('{"jsonrpc": "2.0", "id": ' + "9" * 5000 + ', "method": "ping"}', PARSE_ERROR),
    ("[" * 200_000 + "]" * 200_000, PARSE_ERROR),
    ("42", INVALID_REQUEST),
    ('"ping"', INVALID_REQUEST),
    ("null", INVALID_REQUEST),
    ("[]", INVALID_REQUEST),
    ('[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', INVALID_REQUEST),
    ('{"id": 1, "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "1.0", "id": 1, "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": null, "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": true, "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": [1], "method": "ping"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": 1}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": 1, "method": 7}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"}', INVALID_REQUEST),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/run"}', METHOD_NOT_FOUND),
    ('{"jsonrpc": "2.0", "id": 1, "method": "resources/list"}', METHOD_NOT_FOUND),
    ('{"jsonrpc": "2.0", "id": 1, "method": "notifications/initialized"}', METHOD_NOT_FOUND),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}', INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}',
     INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
     '"params": {"name": "calculator", "arguments": ["1 + 1"]}}', INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
     '"params": {"name": "rm", "arguments": {}}}', INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["calculator"]}',
     INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "p2"}}',
     INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}', INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": '
     '{"protocolVersion": "2025-11-25", "capabilities": {}}}', INVALID_PARAMS),
    ('{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": '
     '"2025-11-25", "clientInfo": {"name": "a", "version": "1"}, "capabilities": []}}',
     INVALID_PARAMS),
])
def test_each_bad_request_gets_its_json_rpc_error_code(line, code):
    ran = []
    server = ready_server([Tool.from_function(calculator),
                           Tool("rm_", "", {"type": "object"}, lambda: ran.append(1))])
    msg_id, got = code_of(server, line)
    assert got == code and not ran
    # the id is echoed when it could be read, and left out otherwise (MCP's schema)
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        obj = None
    readable = isinstance(obj, dict) and type(obj.get("id")) is int
    assert msg_id == (1 if readable else None)
    assert ask(server, "ping", id=2)["result"] == {}  # and it keeps serving


def test_undecodable_input_and_non_text_lines():
    server = MCPServer([])
    assert code_of(server, b'{"a": "\xff\xfe"}') == (None, PARSE_ERROR)
    assert code_of(server, 12) == (None, INVALID_REQUEST)
    assert code_of(server, "x" * (MAX_MESSAGE_BYTES + 1)) == (None, INVALID_REQUEST)


def test_tools_are_refused_before_initialize():
    server = MCPServer([calculator])
    for method, params in [("tools/list", {}), ("tools/call", {"name": "calculator",
                                                                "arguments": {"expression": "1"}})]:
        assert ask(server, method, params)["error"]["code"] == INVALID_REQUEST
    assert ask(server, "ping")["result"] == {}


def test_notifications_and_responses_are_never_answered():
    server = MCPServer([calculator])
    for message in [notification("notifications/initialized"),  # before initialize: ignored
                    notification("notifications/cancelled", {"requestId": 1}),
                    notification("no/such/notification"),
                    {"jsonrpc": "2.0", "method": "tools/call", "params": ["x"]},
                    result_response(1, {}), error_response(2, -1, "no")]:
        assert server.handle(message) is None
    assert not server.client_ready


def test_an_internal_failure_is_an_internal_error_and_the_server_goes_on(monkeypatch):
    server = ready_server()
    monkeypatch.setattr(server.tools, "specs", lambda: 1 / 0)
    assert ask(server, "tools/list", {}, 5)["error"] == {"code": INTERNAL_ERROR,
                                                          "message": "Internal error: "
                                                                     "ZeroDivisionError"}
    assert ask(server, "tools/call", {"name": "calculator",
                                      "arguments": {"expression": "2*3"}})["result"][
        "content"][0]["text"] == "6"


# -- the real server process --------------------------------------------------------------------
def hostile_lines(rng, n):
    valid = [encode(request("tools/call", {"name": "calculator",
                                           "arguments": {"expression": "6 * 7"}}, 7)),
             encode(request("initialize", INIT, 8))]
    lines = []
    for i in range(n):
        kind = i % 4
        if kind == 0:  # truncated valid requests: never complete, never run
            line = rng.choice(valid)
            lines.append(line[: rng.randrange(len(line))].encode())
        elif kind == 1:  # random bytes (invalid UTF-8 included), no newline
            lines.append(bytes(rng.choice([b for b in range(256) if b != 10])
                               for _ in range(rng.randrange(1, 80))))
        elif kind == 2:  # random printable text
            lines.append("".join(rng.choice("{}[]\":,0123456789abcdefnrtul -.\\")
                                 for _ in range(rng.randrange(1, 80))).encode())
        else:  # JSON that is not a request: values, batches, bad envelopes
            lines.append(json.dumps(rng.choice([
                rng.random(), [], [1, 2], {"jsonrpc": "2.0", "id": None, "method": "ping"},
                {"jsonrpc": "2.0", "id": i, "method": rng.choice(["x", "tools/exec", "eval"])},
                {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                 "params": {"name": "__import__", "arguments": {"m": "os"}}},
            ])).encode())
    return lines


def test_server_process_survives_1000_hostile_lines_and_answers_each(client):
    lines = hostile_lines(random.Random(0), 1000)
    client.process.stdin.write(b"".join(line + b"\n" for line in lines))
    client.send(request("ping", id="after"))
    client.process.stdin.flush()
    replies = []
    while not replies or replies[-1].get("id") != "after":
        replies.append(client.receive())
    assert len(replies) == 1001 and client.process.poll() is None
    codes = [r["error"]["code"] for r in replies[:-1]]
    assert set(codes) <= {PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS}
    assert codes.count(PARSE_ERROR) >= 500 and METHOD_NOT_FOUND in codes
    assert not any("result" in r for r in replies[:-1])  # nothing ran


def test_server_process_drops_an_oversized_line_and_goes_on(client):
    client.send_line("[" + "1," * (MAX_MESSAGE_BYTES // 2 + 10) + "1]")
    assert client.receive()["error"]["code"] == INVALID_REQUEST
    assert client.call_tool("calculator", {"expression": "2 ** 5"})["content"][0]["text"] == "32"


def test_client_skips_other_ids_and_raises_protocol_errors(client):
    client.send(request("ping", id=10_000))  # its reply arrives first and is skipped
    assert client.request("ping") == {}
    with pytest.raises(MCPError, match="-32602 Unknown tool: 'shell'") as err:
        client.call_tool("shell", {"cmd": "ls"})
    assert err.value.code == INVALID_PARAMS
    with pytest.raises(TypeError, match="name must be a str"):
        client.call_tool(5, {})
    with pytest.raises(TypeError, match="arguments must be a dict"):
        client.call_tool("calculator", "1 + 1")
    with pytest.raises(ValueError, match="line must be a str without newlines"):
        client.send_line("a\nb")


def test_react_loop_calls_the_server_and_reads_is_error_as_an_error(client):
    assert client.server_info == {"name": "fmref", "version": "0.1.0"}
    assert client.protocol_version == PROTOCOL_VERSION
    policy = ScriptedPolicy([
        '<tool_call>{"name": "calculator", "arguments": {"expression": "84 / 0"}}</tool_call>',
        '<tool_call>{"name": "calculator", "arguments": {"expression": "84 / 7"}}</tool_call>',
        "Answer: 12"])
    result = run_agent(policy, client.registry(read_only=["calculator"]), "84 / 7?")
    assert result.answer == "12"
    assert [s.observation for s in result.steps] == ["Error: division by zero", "12", None]
    sent = [m for d, m in client.log if d == "send" and m.get("method") == "tools/call"]
    assert sent[-2:] == [request("tools/call", {"name": "calculator", "arguments": {
        "expression": e}}, sent[-2 + i]["id"]) for i, e in enumerate(["84 / 0", "84 / 7"])]


def test_registry_is_least_privilege_by_default(client):
    tools = client.registry()
    assert tools["calculator"].side_effects
    call = '<tool_call>{"name": "calculator", "arguments": {"expression": "2 + 2"}}</tool_call>'
    refused = run_agent(ScriptedPolicy([call, "Answer: ?"]), tools, "2 + 2?")
    assert refused.steps[0].observation == ("Error: the call to 'calculator' was not "
                                            "confirmed by the user")
    confirmed = run_agent(ScriptedPolicy([call, "Answer: 4"]), tools, "2 + 2?",
                          confirm=lambda c: c.name == "calculator")
    assert confirmed.steps[0].observation == "4"
    with pytest.raises(ValueError, match=r"unknown: \['shell'\]"):
        client.registry(read_only=["shell"])
    with pytest.raises(TypeError, match="read_only must be an iterable"):
        client.registry(read_only="calculator")


def fake_server(body, **kwargs):
    return MCPClient([sys.executable, "-c", "import sys\n" + body], **kwargs)


def test_client_disconnects_from_a_server_with_an_unsupported_version():
    body = ("line = sys.stdin.readline()\n"
            "print('{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"1999-01-01\","
            "\"capabilities\":{},\"serverInfo\":{\"name\":\"old\",\"version\":\"0\"}}}', "
            "flush=True)\nsys.stdin.read()")
    client = fake_server(body)
    with pytest.raises(MCPError, match="Unsupported protocol version") as err:
        client.initialize()
    assert err.value.data == {"supported": ["2025-11-25", "2025-06-18", "2025-03-26"],
                              "requested": "1999-01-01"}
    assert client.process.returncode == 0 and client.close() == 0


def test_client_reports_a_dead_server_and_a_silent_one():
    with fake_server("sys.stderr.write('no config file'); sys.exit(3)") as client:
        with pytest.raises(ConnectionError, match="closed its output; its stderr ends with: "
                                                  "no config file"):
            client.initialize()
        with pytest.raises(ConnectionError):
            client.receive()
    assert client.process.returncode == 3
    with fake_server("sys.stdin.read()", timeout=0.2) as client:
        with pytest.raises(TimeoutError, match="within 0.2 s"):
            client.request("ping")
        assert client.log[-1] == ("send", notification("notifications/cancelled",
                                                       {"requestId": 1, "reason": "timeout"}))


def test_registry_refuses_a_remote_schema_it_cannot_validate():
    body = ("from fmref.agents.mcp import MCPServer\nfrom fmref.agents.tools import Tool\n"
            "schema = {'type': 'object', 'properties': {'q': {'type': 'object'}}}\n"
            "MCPServer([Tool('search', 'Search.', schema, print)]).serve("
            "sys.stdin.buffer, sys.stdout.buffer)")
    with fake_server(body) as client:
        client.initialize()
        with pytest.raises(TypeError, match="inputSchema of tool 'search' property 'q' has "
                                            "unsupported type 'object'"):
            client.registry()


# -- bad input ----------------------------------------------------------------------------------
def test_client_bad_commands_are_clear_errors():
    with pytest.raises(ValueError, match="command 'no-such-mcp-server' cannot be started: "
                                         "No such file or directory"):
        MCPClient(["no-such-mcp-server", "--stdio"])
    for bad in ([], "python -m x", [sys.executable, 3], None):
        with pytest.raises(TypeError, match="command must be a non-empty list of str"):
            MCPClient(bad)
    for bad in (0, -1.0, True, "5"):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            MCPClient(SERVE, timeout=bad)


@pytest.mark.parametrize("schema, message", [
    (None, "must be a JSON schema of type 'object'"),
    ({"type": "array"}, "must be a JSON schema of type 'object'"),
    ({"type": "object", "properties": []}, "dict of properties"),
    ({"type": "object", "required": "a"}, "dict of properties"),
    ({"type": "object", "properties": {"a": "int"}}, "property 'a' must be a schema object"),
    ({"type": "object", "properties": {"a": {}}}, "property 'a' has unsupported type None"),
    ({"type": "object", "properties": {"a": {"type": "null"}}}, "unsupported type 'null'"),
    ({"type": "object", "properties": {"a": {"enum": "ab"}}}, "must have a list as enum"),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "object"}}}},
     r"property 'a'\[\] has unsupported type 'object'"),
])
def test_check_input_schema_refuses_unsupported_schemas(schema, message):
    with pytest.raises(TypeError, match=message):
        check_input_schema(schema)


def test_check_input_schema_accepts_what_tools_write():
    check_input_schema(Tool.from_function(calculator).parameters)
    check_input_schema({"type": "object", "properties": {"u": {"enum": ["C", "F"]},
                                                         "v": {"type": "array",
                                                               "items": {"type": "number"}}}})


def test_message_builders_refuse_bad_input():
    with pytest.raises(TypeError, match="method must be a str"):
        request(5)
    with pytest.raises(TypeError, match="id must be an int or a str"):
        request("ping", id=None)
    with pytest.raises(TypeError, match="id must be an int or a str"):
        request("ping", id=True)
    with pytest.raises(TypeError, match="params must be a dict"):
        request("ping", [1])
    with pytest.raises(TypeError, match="id must be an int or a str"):
        result_response(1.0, {})
    with pytest.raises(TypeError, match="result must be a dict"):
        result_response(1, [])
    with pytest.raises(TypeError, match="code must be an int"):
        error_response(1, "-32600", "x")
    with pytest.raises(TypeError, match="message must be a str"):
        error_response(1, -32600, None)
    with pytest.raises(TypeError, match="id must be an int, a str or None"):
        error_response([1], -32600, "x")
    with pytest.raises(TypeError, match="message must be a dict"):
        encode([])
    with pytest.raises(TypeError, match="message must hold only JSON values"):
        encode({"x": float("nan")})
    with pytest.raises(TypeError, match="line must be a str or bytes"):
        decode(None)


def test_server_and_main_refuse_bad_input():
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        MCPServer([], name="")
    with pytest.raises(TypeError, match="instructions must be a str or None"):
        MCPServer([], instructions=3)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="max_bytes must be a positive int"):
            MCPServer([]).serve(io.BytesIO(), io.BytesIO(), max_bytes=bad)
    with pytest.raises(SystemExit):
        main([], io.BytesIO(), io.BytesIO())


def test_invalid_request_messages_name_the_json_kind():
    server = MCPServer([])
    assert [json.loads(server.handle_line(v))["error"]["message"] for v in
            ["null", "true", "1", '"s"']] == [
        f"Invalid Request: expected an object, got {k}"
        for k in ["null", "a boolean", "a number", "a string"]]
