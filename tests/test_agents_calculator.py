"""Tests of fmref.agents.calculator: equal to Python's arithmetic on random whitelisted
expressions (hypothesis), and every escape or resource attack refused with a ToolCallError."""

import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fmref.agents.calculator import MAX_BITS, MAX_LENGTH, calculator, evaluate
from fmref.agents.tools import ToolCallError

numbers = st.one_of(
    st.integers(0, 30).map(str),
    st.floats(0, 30, allow_nan=False).map(lambda x: repr(round(x, 3))),
)


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda e: f"-{e}"),
        children.map(lambda e: f"+({e})"),
    )


expressions = st.recursive(numbers, _combine, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_calculator_equals_python_arithmetic(expression):
    try:
        ours = evaluate(expression)
    except ToolCallError as err:
        message = str(err)
        assume("too large" not in message)  # our bound refuses what Python might grind on
        if message == "division by zero":
            with pytest.raises(ZeroDivisionError):
                eval(expression)  # noqa: S307 - the test's oracle, on whitelisted text only
        else:
            assert "not a real number" in message
            assert isinstance(eval(expression), complex)  # noqa: S307
        return
    expected = eval(expression)  # noqa: S307
    assert type(ours) is type(expected)
    assert ours == expected or (ours != ours and expected != expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('ls')", "found Call"),
        ("open('/etc/passwd').read()", "found Call"),
        ("(1).__class__", "found Attribute"),
        ("().__class__.__bases__[0].__subclasses__()", "found Call"),
        ("(lambda: 1)()", "found Call"),
        ("lambda: 1", "found Lambda"),
        ("x + 1", "found Name"),
        ("[1, 2][0]", "found Subscript"),
        ("'a' * 3", "found constant 'a'"),
        ("True + 1", "found constant True"),
        ("1 < 2", "found Compare"),
        ("1 << 100000", "found operator LShift"),
        ("~5", "found operator Invert"),
        ("1j * 1j", "found constant 1j"),
        ("(y := 2)", "found NamedExpr"),
        ("f'{1}'", "found JoinedStr"),
        ("1 +", "not valid arithmetic"),
        ("import os", "not valid arithmetic"),
        ("1; 2", "not valid arithmetic"),
    ],
)
def test_calculator_refuses_everything_but_arithmetic(expression, message):
    with pytest.raises(ToolCallError, match=message):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "exponent 387420489 too large"),
        ("2 ** -5000", "exponent -5000 too large"),
        ("10 ** 999 * 10 ** 999", f"more than {MAX_BITS} bits"),
        ("64 ** 700", f"the power would have more than {MAX_BITS} bits"),
        ("7 ** 1000 * 7 ** 1000", f"more than {MAX_BITS} bits"),
        ("2.0 ** 1000 * 2.0 ** 1000", "not a finite float"),
        ("10.0 ** 300 * 10.0 ** 300", "not a finite float"),
        ("1e300 ** 2", "not a finite float"),  # float pow raises OverflowError
        ("10 ** 400 / 3", "not a finite float"),  # int / int beyond the float range
        ("(-8) ** 0.5", "not a real number"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
    ],
)
def test_calculator_bounds_huge_numbers(expression, message):
    start = time.perf_counter()
    with pytest.raises(ToolCallError, match=message):
        evaluate(expression)
    assert time.perf_counter() - start < 1.0  # refused before the work is done


def test_calculator_limits_and_types():
    assert evaluate("2 ** 1000") == 2**1000  # large but allowed
    with pytest.raises(ToolCallError, match=f"at most {MAX_LENGTH} characters"):
        evaluate("1+" * MAX_LENGTH + "1")
    with pytest.raises(ToolCallError, match="expression must be a string, got int"):
        evaluate(42)


def test_calculator_tool_text():
    assert calculator(" 7 // 2 ") == "3"
    assert calculator("1 / 3") == str(1 / 3)
    assert calculator("2.0 ** 50") == str(2**50)  # integral float written as an int
    assert calculator("2.0 ** 80") == str(2.0**80)  # beyond 2**53: the float as Python writes it
