"""Tools as JSON schemas: built from a Python function, checked before every call.

Function calling gives the model a list of tools, each a name, a description and a
JSON schema of its arguments; the model answers with a call (a name and a JSON
object of arguments), and the program checks the call against the schema before it
runs anything. :meth:`Tool.from_function` writes the schema from what the function
already says about itself: its type hints give the types, its numpydoc docstring
gives the descriptions, and its defaults decide what is required.

Supported types: ``int`` (``"integer"``), ``float`` (``"number"``), ``str``,
``bool``, ``list[T]`` (``"array"``) and ``typing.Literal[...]`` (``"enum"``).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCallError", "json_schema_of", "validate_arguments", "Tool", "ToolRegistry"]

_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean"}


class ToolCallError(ValueError):
    """A tool call that cannot be run: malformed, unknown, or failing its schema.

    The message says what was wrong, in words a model can act on when it is fed
    back as an observation (:func:`fmref.agents.react.run_agent` does that).

    Examples
    --------
    >>> from fmref.agents.tools import ToolCallError
    >>> issubclass(ToolCallError, ValueError)
    True
    """


def json_schema_of(annotation: Any, where: str = "annotation") -> dict[str, Any]:
    """The JSON schema of one Python type annotation.

    Parameters
    ----------
    annotation : type
        ``int``, ``float``, ``str``, ``bool``, ``list[T]`` or ``Literal[...]``.
    where : str, default "annotation"
        Name used in the error message (the parameter's name).

    Returns
    -------
    dict
        A JSON schema such as ``{"type": "integer"}``.

    Raises
    ------
    TypeError
        If the annotation is not supported.

    Examples
    --------
    >>> from typing import Literal
    >>> from fmref.agents.tools import json_schema_of
    >>> json_schema_of(list[float])
    {'type': 'array', 'items': {'type': 'number'}}
    >>> json_schema_of(Literal["C", "F"])
    {'type': 'string', 'enum': ['C', 'F']}
    """
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return {"type": "array", "items": json_schema_of(args[0], where)}
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        schema = {"type": _SCALARS[kinds.pop()]} if len(kinds) == 1 and not kinds - set(
            _SCALARS
        ) else {}
        return {**schema, "enum": list(args)}
    raise TypeError(
        f"{where} must be annotated with int, float, str, bool, list[...] or Literal[...], "
        f"got {annotation!r}"
    )


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "array": list}[kind])


def _check_value(value: Any, schema: dict[str, Any], where: str) -> None:
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        raise ToolCallError(f"{where} must be of type {kind}, got {type(value).__name__} {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolCallError(f"{where} must be one of {schema['enum']}, got {value!r}")
    if kind == "array":
        for i, item in enumerate(value):
            _check_value(item, schema["items"], f"{where}[{i}]")


def validate_arguments(arguments: Any, schema: dict[str, Any]) -> None:
    """Check a call's arguments against an object schema; raise on the first problem.

    Parameters
    ----------
    arguments : dict
        The arguments of the call, as decoded from JSON.
    schema : dict
        ``{"type": "object", "properties": {...}, "required": [...]}``; extra
        arguments are refused (``additionalProperties`` is false).

    Raises
    ------
    ToolCallError
        If ``arguments`` is not a dict, has an unexpected or missing argument, or a
        value of the wrong type or outside its enum; the message names the argument.

    Examples
    --------
    >>> from fmref.agents.tools import ToolCallError, validate_arguments
    >>> schema = {"type": "object", "properties": {"n": {"type": "integer"}},
    ...           "required": ["n"]}
    >>> validate_arguments({"n": 3}, schema)
    >>> try:
    ...     validate_arguments({"n": "3"}, schema)
    ... except ToolCallError as err:
    ...     print(err)
    argument 'n' must be of type integer, got str '3'
    """
    if not isinstance(arguments, dict):
        raise ToolCallError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    properties = schema.get("properties", {})
    for name in arguments:
        if name not in properties:
            raise ToolCallError(f"unexpected argument {name!r}; expected one of {list(properties)}")
    for name in schema.get("required", []):
        if name not in arguments:
            raise ToolCallError(f"missing required argument {name!r}")
    for name, value in arguments.items():
        _check_value(value, properties[name], f"argument {name!r}")


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Summary paragraph and parameter descriptions of a numpydoc docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary = " ".join(next(iter(re.split(r"\n\s*\n", "\n".join(lines))), "").split())
    descriptions: dict[str, str] = {}
    try:
        start = next(i for i, ln in enumerate(lines[:-1])
                     if ln.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return summary, descriptions
    name = None
    for line in lines[start + 2:]:
        if line.strip() and not line.startswith(" "):
            if re.fullmatch(r"-{3,}", line.strip()):  # the next section's underline
                descriptions.pop(name)  # that "parameter" was the next section's title
                break
            name = line.split(":")[0].strip()
            descriptions[name] = ""
        elif name is not None and line.strip():
            descriptions[name] = (descriptions[name] + " " + line.strip()).strip()
    return summary, descriptions


@dataclass
class Tool:
    """A function the model may call, with the JSON schema of its arguments.

    Parameters
    ----------
    name : str
        Name the model uses in its calls.
    description : str
        What the tool does, shown to the model.
    parameters : dict
        JSON schema of the arguments (an object schema).
    fn : callable
        Called with the validated arguments as keywords.
    side_effects : bool, default False
        Whether a call changes the world (sends, writes, pays); the agent loop asks
        for confirmation before running such a tool.

    Examples
    --------
    >>> from fmref.agents.tools import Tool
    >>> def add(a: int, b: int = 1) -> int:
    ...     '''Add two integers.
    ...
    ...     Parameters
    ...     ----------
    ...     a : int
    ...         First term.
    ...     b : int, default 1
    ...         Second term.
    ...     '''
    ...     return a + b
    >>> tool = Tool.from_function(add)
    >>> tool.spec()["parameters"]["required"], tool(a=2)
    (['a'], 3)
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any] = field(repr=False)
    side_effects: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty str, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {type(self.fn).__name__}")

    @classmethod
    def from_function(cls, fn: Callable[..., Any], name: str | None = None,
                      side_effects: bool = False) -> Tool:
        """Build a tool from a function's signature, type hints and numpydoc docstring.

        Parameters
        ----------
        fn : callable
            Every parameter annotated with a supported type (see
            :func:`json_schema_of`); no ``*args`` or ``**kwargs``.
        name : str, optional
            Tool name; defaults to ``fn.__name__``.
        side_effects : bool, default False
            See :class:`Tool`.

        Returns
        -------
        Tool
            Its description is the docstring's first paragraph; each property has
            the parameter's description, and a ``default`` where the function has one;
            parameters without a default are ``required``.

        Raises
        ------
        TypeError
            If ``fn`` is not callable, or a parameter is unannotated, variadic or of an
            unsupported type.

        Examples
        --------
        >>> from typing import Literal
        >>> from fmref.agents.tools import Tool
        >>> def convert(value: float, unit: Literal["C", "F"] = "C") -> float:
        ...     '''Convert a temperature.
        ...
        ...     Parameters
        ...     ----------
        ...     value : float
        ...         The temperature.
        ...     unit : {"C", "F"}, default "C"
        ...         Unit of the result.
        ...     '''
        ...     return value
        >>> Tool.from_function(convert).parameters["properties"]["unit"]
        {'type': 'string', 'enum': ['C', 'F'], 'description': 'Unit of the result.', 'default': 'C'}
        """
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        hints = typing.get_type_hints(fn)
        summary, descriptions = _docstring_parts(fn.__doc__)
        properties: dict[str, Any] = {}
        required = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"parameter {p.name!r} of fn must not be *args or **kwargs")
            if p.name not in hints:
                raise TypeError(f"parameter {p.name!r} of fn must have a type annotation")
            prop = json_schema_of(hints[p.name], f"parameter {p.name!r}")
            if p.name in descriptions:
                prop["description"] = descriptions[p.name]
            if p.default is p.empty:
                required.append(p.name)
            else:
                prop["default"] = p.default
            properties[p.name] = prop
        schema = {"type": "object", "properties": properties, "required": required,
                  "additionalProperties": False}
        return cls(name or fn.__name__, summary, schema, fn, side_effects)

    def spec(self) -> dict[str, Any]:
        """The tool as the model sees it: ``{"name", "description", "parameters"}``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def __call__(self, **arguments: Any) -> Any:
        """Validate ``arguments`` (:func:`validate_arguments`) and call the function."""
        validate_arguments(arguments, self.parameters)
        return self.fn(**arguments)


class ToolRegistry:
    """The tools an agent may call, by name.

    Parameters
    ----------
    tools : iterable of Tool or callable, optional
        Tools; a plain function is wrapped with :meth:`Tool.from_function`.

    Raises
    ------
    ValueError
        If two tools share a name.

    Examples
    --------
    >>> from fmref.agents.calculator import calculator
    >>> from fmref.agents.tools import ToolCallError, ToolRegistry
    >>> tools = ToolRegistry([calculator])
    >>> tools.names(), tools.call("calculator", {"expression": "6 * 7"})
    (['calculator'], '42')
    >>> try:
    ...     tools.call("shell", {"cmd": "rm -rf /"})
    ... except ToolCallError as err:
    ...     print(err)
    unknown tool 'shell'; available tools: ['calculator']
    """

    def __init__(self, tools: Any = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for i, tool in enumerate(tools):
            if not isinstance(tool, Tool) and not callable(tool):
                raise TypeError(
                    f"tools[{i}] must be a Tool or a function, got {type(tool).__name__}"
                )
            self.register(tool)

    def register(self, tool: Tool | Callable[..., Any]) -> Tool:
        """Add a tool (or a function, wrapped with :meth:`Tool.from_function`); return it."""
        if not isinstance(tool, Tool):
            tool = Tool.from_function(tool)
        if tool.name in self._tools:
            raise ValueError(f"tool must have a unique name; {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def names(self) -> list[str]:
        """Names of the registered tools, in registration order."""
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """:meth:`Tool.spec` of every tool: what a system prompt lists."""
        return [tool.spec() for tool in self._tools.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        """The tool called ``name``; :class:`ToolCallError` naming the choices if unknown."""
        if name not in self._tools:
            raise ToolCallError(f"unknown tool {name!r}; available tools: {self.names()}")
        return self._tools[name]

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Look up, validate and run one call."""
        tool = self[name]
        validate_arguments(arguments, tool.parameters)
        return tool.fn(**arguments)
