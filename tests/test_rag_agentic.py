"""fmref.rag.agentic: the agent's searches, their fusion, and recall within a token budget."""

import random

import pytest

from fmref.agents.react import run_agent
from fmref.rag.agentic import (
    FeedbackPolicy,
    agentic_rankings,
    content_words,
    recall_within_budget,
    search_tool,
)
from fmref.rag.dense import reciprocal_rank_fusion

TEXTS = ["break ends the loop", "while repeats", "else runs unless break", "pass does nothing"]
TOPICS = ["break", "while", "for", "pass"]


def test_content_words_keep_python_keywords():
    assert content_words("What does for do with if and else in a while loop?") == [
        "for", "with", "if", "and", "else", "in", "while", "loop"]  # fmt: skip


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_agent_searches_hops_times_then_answers_with_what_it_saw(hops):
    queries = []

    def search(q):
        queries.append(q)
        return [len(queries) % 4, 3, 2, 1, 0][:4]

    tool, log = search_tool(search, TEXTS, TOPICS, k=1)
    result = run_agent(FeedbackPolicy(hops=hops, feedback_terms=2), [tool], "When does a loop end?",
                       max_steps=10)  # fmt: skip
    assert result.stopped == "answer" and result.model_calls == hops + 1
    assert len(log) == hops and queries[0] == "loop end"
    assert all(q.startswith("loop end") for q in queries)  # later queries extend the first
    shown = dict.fromkeys(str(r[0]) for r in log)  # k=1: the agent saw each search's first
    assert result.answer == "passages " + ", ".join(shown)


def test_agentic_rankings_fuse_the_searches_and_count_the_cost():
    rng = random.Random(0)
    fixed = {}

    def search(q):
        return fixed.setdefault(q, rng.sample(range(4), 4))

    rankings, cost = agentic_rankings(search, TEXTS, TOPICS, ["Which loop repeats?"], k=2)
    assert rankings == [[d for d, _ in reciprocal_rank_fusion(list(fixed.values()))]]
    assert cost["searches"] == 2 and cost["model_calls"] == 3


def test_an_empty_query_becomes_an_error_observation():
    tool, log = search_tool(lambda q: [0], TEXTS, TOPICS)
    policy = lambda transcript: (  # noqa: E731
        '<tool_call>{"name": "search", "arguments": {"query": "  "}}</tool_call>'
        if "Observation" not in transcript else "Answer: none")
    result = run_agent(policy, [tool], "q?")
    observation = result.steps[0].observation
    assert observation.startswith("Error") and "query" in observation
    assert log == []


def brute_force_recall(ranking, relevant, tokens, topics, budget):
    # the longest prefix of the ranking whose tokens fit, then the share of relevant topics in it
    for n in range(len(ranking), -1, -1):
        if sum(tokens[i] for i in ranking[:n]) <= budget:
            break
    return len({topics[i] for i in ranking[:n]} & set(relevant)) / len(relevant)


def test_recall_within_budget_equals_the_longest_fitting_prefix():
    rng = random.Random(1)
    topics = [rng.choice("abcdef") for _ in range(30)]
    tokens = [rng.randint(20, 130) for _ in range(30)]
    questions = [{"relevant": {t: 2 for t in rng.sample("abcdef", rng.randint(1, 3))}}
                 for _ in range(20)]  # fmt: skip
    rankings = [rng.sample(range(30), 30) for _ in range(20)]
    for budget in (0, 100, 500, 2_000, 10_000):
        recall, used = recall_within_budget(rankings, questions, tokens, topics, budget)
        expected = sum(brute_force_recall(r, q["relevant"], tokens, topics, budget)
                       for r, q in zip(rankings, questions)) / 20  # fmt: skip
        assert recall == pytest.approx(expected, abs=1e-4)
        assert used <= budget
    assert recall_within_budget(rankings, questions, tokens, topics, sum(tokens))[0] == 1.0
