"""Tests of fmref.agents.tools and fmref.agents.parse: schemas from functions (checked
against transformers' get_json_schema), argument validation, and tool-call parsing of
malformed, truncated and adversarial calls."""

import json
from typing import Literal

import pytest

from fmref.agents.calculator import calculator
from fmref.agents.parse import ToolCall, format_tool_call, parse_tool_call
from fmref.agents.tools import (
    Tool,
    ToolCallError,
    ToolRegistry,
    json_schema_of,
    validate_arguments,
)


def convert(value: float, unit: Literal["C", "F"] = "C", digits: int = 1,
            tags: list[str] = None, exact: bool = False) -> float:  # noqa: RUF013
    """Convert a temperature.

    A second paragraph that is not part of the description.

    Parameters
    ----------
    value : float
        The temperature,
        in degrees.
    unit : {"C", "F"}, default "C"
        Unit of the result.
    digits : int, default 1
        Digits kept.
    tags : list of str, optional
        Labels.
    exact : bool, default False
        Whether exact.

    Returns
    -------
    float
        The converted temperature.
    """
    return value


def convert_google(value: float, unit: Literal["C", "F"] = "C", digits: int = 1,
                   tags: list[str] = None, exact: bool = False) -> float:  # noqa: RUF013
    """Convert a temperature.

    Args:
        value: The temperature, in degrees.
        unit: Unit of the result.
        digits: Digits kept.
        tags: Labels.
        exact: Whether exact.
    """
    return value


def test_schema_from_numpydoc_matches_expected_dict():
    expected = {  # written by hand from the docstring and the signature above
        "type": "object",
        "properties": {
            "value": {"type": "number", "description": "The temperature, in degrees."},
            "unit": {"type": "string", "enum": ["C", "F"], "description": "Unit of the result.",
                     "default": "C"},
            "digits": {"type": "integer", "description": "Digits kept.", "default": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels.",
                     "default": None},
            "exact": {"type": "boolean", "description": "Whether exact.", "default": False},
        },
        "required": ["value"],
        "additionalProperties": False,
    }
    tool = Tool.from_function(convert)
    assert tool.name == "convert"
    assert tool.description == "Convert a temperature."
    assert tool.parameters == expected
    assert tool.spec() == {"name": "convert", "description": "Convert a temperature.",
                           "parameters": expected}


def test_schema_matches_transformers_get_json_schema():
    # transformers.utils.get_json_schema builds the same schema from a Google-style
    # docstring; apart from our "default" and "additionalProperties" keys they agree.
    from transformers.utils import get_json_schema

    hf = get_json_schema(convert_google)["function"]
    ours = Tool.from_function(convert)
    props = {k: {kk: vv for kk, vv in v.items() if kk != "default"}
             for k, v in ours.parameters["properties"].items()}
    assert props == hf["parameters"]["properties"]
    assert ours.parameters["required"] == hf["parameters"]["required"]
    assert ours.description == hf["description"]


def test_schema_without_docstring_and_with_name_override():
    def f(n: int):
        return n

    tool = Tool.from_function(f, name="count", side_effects=True)
    assert (tool.name, tool.description, tool.side_effects) == ("count", "", True)
    assert tool.parameters["properties"] == {"n": {"type": "integer"}}


def test_literal_of_mixed_types_has_only_an_enum():
    assert json_schema_of(Literal[1, "a"]) == {"enum": [1, "a"]}
    assert json_schema_of(Literal[1, 2]) == {"type": "integer", "enum": [1, 2]}


@pytest.mark.parametrize("annotation", [dict, tuple[int, int], int | None, list, object])
def test_unsupported_annotation_names_the_parameter(annotation):
    def f(x):
        return x

    f.__annotations__ = {"x": annotation}
    with pytest.raises(TypeError, match="parameter 'x'"):
        Tool.from_function(f)


def test_from_function_rejects_bad_functions():
    def unannotated(x):
        return x

    def variadic(*args: int):
        return args

    with pytest.raises(TypeError, match="parameter 'x' of fn must have a type annotation"):
        Tool.from_function(unannotated)
    with pytest.raises(TypeError, match="'args'"):
        Tool.from_function(variadic)
    with pytest.raises(TypeError, match="fn must be callable"):
        Tool.from_function(3)


SCHEMA = Tool.from_function(convert).parameters


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"value": "hot"}, "argument 'value' must be of type number, got str 'hot'"),
        ({"value": True}, "argument 'value' must be of type number, got bool"),
        ({"value": 1, "digits": 1.5}, "argument 'digits' must be of type integer"),
        ({"value": 1, "digits": False}, "argument 'digits' must be of type integer"),
        ({"value": 1, "unit": "K"}, r"argument 'unit' must be one of \['C', 'F'\], got 'K'"),
        ({"value": 1, "tags": ["a", 2]}, r"argument 'tags'\[1\] must be of type string"),
        ({"value": 1, "tags": "a"}, "argument 'tags' must be of type array"),
        ({"value": 1, "exact": "yes"}, "argument 'exact' must be of type boolean"),
        ({"value": 1, "scale": 2}, "unexpected argument 'scale'"),
        ({"unit": "C"}, "missing required argument 'value'"),
        (["value", 1], "arguments must be a JSON object, got list"),
    ],
)
def test_validate_arguments_names_what_is_wrong(arguments, message):
    with pytest.raises(ToolCallError, match=message):
        validate_arguments(arguments, SCHEMA)


def test_validate_arguments_accepts_valid_calls():
    validate_arguments({"value": 3}, SCHEMA)  # an int is a JSON number
    validate_arguments({"value": 3.5, "unit": "F", "digits": 2, "tags": ["x"], "exact": True},
                       SCHEMA)


def test_tool_call_validates_before_running():
    ran = []

    def record(n: int) -> None:
        ran.append(n)

    tool = Tool.from_function(record)
    with pytest.raises(ToolCallError, match="argument 'n' must be of type integer"):
        tool(n="1")
    with pytest.raises(ToolCallError, match="unexpected argument 'm'"):
        tool(n=1, m=2)
    assert ran == []
    tool(n=1)
    assert ran == [1]


def test_registry():
    tools = ToolRegistry([calculator, Tool.from_function(convert)])
    assert tools.names() == ["calculator", "convert"] and "convert" in tools
    assert [s["name"] for s in tools.specs()] == ["calculator", "convert"]
    assert tools.call("convert", {"value": 2.0}) == 2.0
    with pytest.raises(ToolCallError, match="missing required argument 'value'"):
        tools.call("convert", {})
    with pytest.raises(ToolCallError, match="unknown tool 'rm'; available tools"):
        tools.call("rm", {})
    with pytest.raises(ValueError, match="unique name"):
        tools.register(calculator)


# --------------------------------------------------------------------------- parsing
TOOLS = ToolRegistry([calculator])
GOOD = '<tool_call>{"name": "calculator", "arguments": {"expression": "2 + 2"}}</tool_call>'


def test_parse_round_trips_format_tool_call():
    text = "Thought: add.\n" + format_tool_call("calculator", {"expression": "2 + 2"})
    assert text.endswith(GOOD)
    assert parse_tool_call(text, TOOLS) == ToolCall("calculator", {"expression": "2 + 2"})
    assert parse_tool_call("no call here") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD[:-5], "truncated tool call"),
        (GOOD[:40], "truncated tool call"),
        ('{"name": "calculator"}</tool_call>', "without an opening"),
        (GOOD + GOOD, "more than one tool call"),
        ("<tool_call>{name: calculator}</tool_call>", "malformed JSON in tool call"),
        ('<tool_call>{"name": "calculator", "arguments": {"expression": "1"}</tool_call>',
         "malformed JSON"),
        ("<tool_call>[1, 2]</tool_call>", "must be a JSON object, got list"),
        ('<tool_call>{"name": "calculator"}</tool_call>', "the keys 'name' and 'arguments'"),
        ('<tool_call>{"name": "calculator", "arguments": {}, "sudo": true}</tool_call>',
         "exactly the keys"),
        ('<tool_call>{"name": 7, "arguments": {}}</tool_call>', "tool name must be a string"),
        ('<tool_call>{"name": "calculator", "arguments": "2+2"}</tool_call>',
         "arguments must be a JSON object, got str"),
        ('<tool_call>{"name": "__import__(\'os\')", "arguments": {}}</tool_call>', "unknown tool"),
        ('<tool_call>{"name": "calculator", "arguments": {"expression": 4}}</tool_call>',
         "argument 'expression' must be of type string, got int 4"),
        ('<tool_call>{"name": "calculator", "arguments": {"expression": "1", "mode": "x"}}'
         "</tool_call>", "unexpected argument 'mode'"),
        ('<tool_call>{"name": "calculator", "arguments": {}}</tool_call>',
         "missing required argument 'expression'"),
    ],
)
def test_bad_tool_calls_raise_tool_call_error(text, message):
    with pytest.raises(ToolCallError, match=message):
        parse_tool_call(text, TOOLS)


def test_parse_without_registry_checks_only_the_form():
    call = parse_tool_call('<tool_call>{"name": "anything", "arguments": {"a": [1]}}</tool_call>')
    assert call == ToolCall("anything", {"a": [1]})


def test_parse_never_evaluates_python():
    payload = '<tool_call>{"name": "calculator", "arguments": {"expression": ' \
        + json.dumps("__import__('os').system('echo pwned')") + "}}</tool_call>"
    call = parse_tool_call(payload, TOOLS)  # valid as a call: a string argument ...
    with pytest.raises(ToolCallError, match="found Call"):  # ... refused by the calculator
        TOOLS.call(call.name, call.arguments)
    with pytest.raises(TypeError, match="text must be a str"):
        parse_tool_call(b"<tool_call>")
