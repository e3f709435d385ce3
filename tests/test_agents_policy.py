"""Tests of fmref.agents.traces and fmref.agents.policy: the training transcripts are
exactly what the ReAct loop builds, the tokenizer round-trips, and the trained tiny
policy solves held-out problems."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.agents.calculator import calculator
from fmref.agents.policy import ModelPolicy, success_rate, train_react_policy
from fmref.agents.react import ScriptedPolicy, run_agent
from fmref.agents.traces import (
    TEST_NAMES,
    TRAIN_NAMES,
    PolicyTokenizer,
    react_transcript,
    word_problem,
)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000))
def test_training_transcripts_are_what_the_loop_builds(seed):
    problem = word_problem(random.Random(seed))
    pieces = react_transcript(problem)
    own = [text.strip() for text, by_policy in pieces if by_policy]
    result = run_agent(ScriptedPolicy(own), [calculator], problem["question"])
    assert result.transcript == "".join(text for text, _ in pieces)
    assert result.answer == problem["answer"]
    assert int(problem["answer"]) < 1000  # every number is a single token


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=[chr(c) for c in range(32, 127)] + ["\n"], max_size=80))
def test_tokenizer_round_trips_ascii(text):
    tok = PolicyTokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_tokenizer_spells_held_out_names_and_rejects_non_ascii():
    tok = PolicyTokenizer()
    assert all(" " + name not in tok.vocab and name not in tok.vocab
               for name in TRAIN_NAMES + TEST_NAMES)
    assert " 999" in tok.vocab and " 1000" not in tok.vocab
    with pytest.raises(ValueError, match="printable ASCII"):
        tok.encode("café")


def test_held_out_problems_use_held_out_names():
    problems = [word_problem(random.Random(i), TEST_NAMES) for i in range(50)]
    assert not any(name in p["question"] for p in problems for name in TRAIN_NAMES)
    assert {p["kind"] for p in problems} == {"add", "sub", "mul", "div", "two-step"}


def test_untrained_policy_fails_and_bad_settings_are_refused():
    model, history = train_react_policy(use_cache=False, steps=1, n_layer=1, n_embd=16)
    assert len(history) == 1
    assert success_rate(ModelPolicy(model, max_new_tokens=30), n=5)["success"] == 0.0
    with pytest.raises(ValueError, match="overrides"):
        train_react_policy(layers=3)


def test_trained_policy_solves_most_held_out_problems():
    model, history = train_react_policy()  # the cached model the chapter and gallery use
    assert history[-1] < history[0] / 10
    rate = success_rate(ModelPolicy(model), n=40, seed=7)
    assert rate["success"] >= 0.8, rate["by_kind"]
    for result in rate["results"]:  # every run used the calculator before answering
        assert result.steps[0].action is not None and result.steps[0].action.name == "calculator"
