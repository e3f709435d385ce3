"""Plan-then-execute: all tool calls planned first, then run, then one answer.

ReAct (:mod:`fmref.agents.react`) calls the policy once per step, with a prompt
that grows by every observation. Plan-then-execute asks the policy once for the
whole plan, one ``<tool_call>`` block per step, where a string argument may refer
to the result of step ``i`` as ``#E<i>`` (ReWOO's placeholders, Xu et al., 2023);
the calls run in order with the references filled in, and a solver writes the
answer. Fewer model calls, and tool output can no longer change which tools are
called; the price is that the plan cannot adapt to a surprising observation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fmref.agents.parse import CALL_CLOSE, CALL_OPEN, ToolCall, parse_tool_call
from fmref.agents.react import AgentResult, Step, _check_steps, _registry, execute_call

__all__ = ["plan_and_execute"]


def plan_and_execute(planner: Callable[[str], str], tools: Any, question: str,
                     max_steps: int = 5,
                     solver: Callable[[str, list[str]], str] | None = None) -> AgentResult:
    """Plan all tool calls first, run them, then answer: plan-then-execute.

    The planner writes every call at once, one ``<tool_call>`` block per step; a
    string argument may refer to the result of step ``i`` as ``#E<i>`` (as in
    ReWOO). The calls run in order with those references replaced, and ``solver``
    turns the question and the results into the answer.

    Parameters
    ----------
    planner : callable
        ``planner(prompt) -> str`` holding the calls.
    tools : ToolRegistry or list
        The tools.
    question : str
        The task.
    max_steps : int, default 5
        Most calls a plan may hold; a longer plan is refused.
    solver : callable, optional
        ``solver(question, observations) -> answer``; by default the last observation.

    Returns
    -------
    AgentResult
        ``stopped`` is ``"plan_done"``; ``model_calls`` counts the planner (and the
        solver, if given).

    Raises
    ------
    ValueError
        If ``max_steps`` is not a positive int, the question is empty, or the plan
        has no call or more than ``max_steps`` calls.
    ToolCallError
        If a planned call is malformed (nothing has run yet then).

    References
    ----------
    .. [1] Wang et al., "Plan-and-Solve Prompting", ACL 2023.
    .. [2] Xu et al., "ReWOO: Decoupling Reasoning from Observations for Efficient
       Augmented Language Models", 2023.

    Examples
    --------
    >>> from fmref.agents.calculator import calculator
    >>> from fmref.agents.parse import format_tool_call
    >>> from fmref.agents.plan import plan_and_execute
    >>> from fmref.agents.react import ScriptedPolicy
    >>> plan = "\\n".join([format_tool_call("calculator", {"expression": "12 * 7"}),
    ...                   format_tool_call("calculator", {"expression": "#E1 - 5"})])
    >>> result = plan_and_execute(ScriptedPolicy([plan]), [calculator],
    ...                           "7 boxes of 12 pens, 5 pens lost: how many are left?")
    >>> result.answer, [s.action.arguments["expression"] for s in result.steps[:-1]]
    ('79', ['12 * 7', '84 - 5'])
    """
    _check_steps(max_steps)
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty str")
    tools = _registry(tools)
    prompt = f"Question: {question.strip()}\nPlan:\n"
    plan = planner(prompt)
    blocks = [b + CALL_CLOSE for b in plan.split(CALL_CLOSE) if CALL_OPEN in b]
    if not 1 <= len(blocks) <= max_steps:
        raise ValueError(f"plan must hold between 1 and max_steps={max_steps} calls, "
                         f"got {len(blocks)}")
    calls = [parse_tool_call(b[b.index(CALL_OPEN):], tools) for b in blocks]
    observations: list[str] = []
    steps = []
    for i, call in enumerate(calls, start=1):
        def fill(v):  # #E<j> -> result of step j; the longest numbers first (#E12 before #E1)
            if not isinstance(v, str):
                return v
            for j in range(len(observations), 0, -1):
                v = v.replace(f"#E{j}", observations[j - 1])
            return v

        call = ToolCall(call.name, {k: fill(v) for k, v in call.arguments.items()})
        observations.append(execute_call(call, tools))
        steps.append(Step(f"plan step {i}", call, observations[-1]))
    answer = observations[-1] if solver is None else solver(question, observations)
    steps.append(Step("", None, None, answer))
    transcript = prompt + plan.strip() + "\n" + "".join(
        f"#E{i} = {o}\n" for i, o in enumerate(observations, start=1)) + f"Answer: {answer}\n"
    return AgentResult(answer, steps, "plan_done", transcript, 1 + (solver is not None))
