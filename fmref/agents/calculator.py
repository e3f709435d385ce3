"""A calculator tool: arithmetic through a whitelist of Python's syntax tree.

The expression is parsed with ``ast.parse`` and walked node by node; only
numbers, ``+ - * / // % **``, unary ``+``/``-`` and parentheses are allowed. Names,
calls, attributes, subscripts, lambdas, comparisons and everything else are refused
before anything is computed, so ``__import__('os')`` is an error, not a hole. The
other danger of arithmetic is size: ``9**9**9`` has about 370 million digits, so
exponents are bounded (:data:`MAX_EXPONENT`) and every intermediate integer is
bounded in bits (:data:`MAX_BITS`), checked *before* a power is computed.
"""

from __future__ import annotations

import ast
import math
import operator

from fmref.agents.tools import ToolCallError

__all__ = ["MAX_EXPONENT", "MAX_BITS", "MAX_LENGTH", "evaluate", "calculator"]

MAX_EXPONENT = 1000
"""Largest absolute exponent of ``**``."""

MAX_BITS = 4096
"""Largest integer (in bits, about 1,233 decimal digits) an expression may produce."""

MAX_LENGTH = 500
"""Longest expression, in characters (bounds the depth of the syntax tree)."""

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _check_size(value):
    if isinstance(value, complex):
        raise ToolCallError("result is not a real number (a negative number to a fractional power)")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolCallError(f"result too large: more than {MAX_BITS} bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolCallError("result too large: not a finite float")
    return value


def _power(base, exponent):
    if abs(exponent) > MAX_EXPONENT:
        raise ToolCallError(f"exponent {exponent} too large: |exponent| must be <= {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if (abs(base).bit_length() - 1) * exponent > MAX_BITS:  # a lower bound of the result
            raise ToolCallError(f"result too large: the power would have more than {MAX_BITS} bits")
    try:
        return base**exponent
    except OverflowError:
        raise ToolCallError("result too large: not a finite float") from None


def _eval(node):
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        try:
            if isinstance(node.op, ast.Pow):
                return _check_size(_power(left, right))
            return _check_size(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ToolCallError("division by zero") from None
        except OverflowError:
            raise ToolCallError("result too large: not a finite float") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    what = type(node).__name__
    if isinstance(node, ast.Constant):
        what = f"constant {node.value!r}"
    elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = f"operator {type(node.op).__name__}"
    raise ToolCallError(
        f"only numbers, + - * / // % ** and parentheses are allowed; found {what}"
    )


def evaluate(expression):
    """Evaluate an arithmetic expression safely.

    Parameters
    ----------
    expression : str
        For example ``"(12 + 7) * 3"``; at most :data:`MAX_LENGTH` characters.

    Returns
    -------
    int or float
        The value Python's own arithmetic gives (``7 / 2`` is ``3.5``, ``7 // 2`` is ``3``).

    Raises
    ------
    ToolCallError
        If ``expression`` is not a string, too long, not valid syntax, contains
        anything but arithmetic, divides by zero, or its result or an exponent
        is too large.

    Examples
    --------
    >>> from fmref.agents.calculator import evaluate
    >>> evaluate("2 ** 10 - 24 / 4"), evaluate("-7 // 2"), evaluate("7 % 3")
    (1018.0, -4, 1)
    >>> from fmref.agents.tools import ToolCallError
    >>> for bad in ["9**9**9", "__import__('os').system('ls')", "(1).real", "1/0"]:
    ...     try:
    ...         evaluate(bad)
    ...     except ToolCallError as err:
    ...         print(err)
    exponent 387420489 too large: |exponent| must be <= 1000
    only numbers, + - * / // % ** and parentheses are allowed; found Call
    only numbers, + - * / // % ** and parentheses are allowed; found Attribute
    division by zero
    """
    if not isinstance(expression, str):
        raise ToolCallError(f"expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise ToolCallError(f"expression must be at most {MAX_LENGTH} characters, "
                            f"got {len(expression)}")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        raise ToolCallError(f"expression is not valid arithmetic: {err.msg}") from None
    return _eval(tree)


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression.

    Parameters
    ----------
    expression : str
        Numbers combined with + - * / // % ** and parentheses, e.g. "(12 + 7) * 3".

    Returns
    -------
    str
        The value, as text (an integral float is written without ``.0``).

    Raises
    ------
    ToolCallError
        As :func:`evaluate`.

    Examples
    --------
    >>> from fmref.agents.calculator import calculator
    >>> from fmref.agents.tools import Tool
    >>> calculator("(12 + 7) * 3"), calculator("10 / 4"), calculator("9 / 3")
    ('57', '2.5', '3')
    >>> spec = Tool.from_function(calculator).spec()
    >>> spec["parameters"]["required"], spec["parameters"]["properties"]["expression"]["type"]
    (['expression'], 'string')
    """
    value = evaluate(expression)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return str(value)
