"""Tests of fmref.agents.memory: the buffer never exceeds its budget and keeps the newest
turn, evicted turns reach the summary and the archive in order, and long-term memory
ranks past turns as rank_bm25 does."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.agents.memory import (
    ConversationBuffer,
    LongTermMemory,
    count_words,
    truncating_summary,
)
from fmref.rag.bm25 import tokenize

turns = st.lists(st.tuples(st.sampled_from(["user", "assistant"]),
                           st.lists(st.sampled_from(["tea", "jam", "toast", "egg"]),
                                    min_size=0, max_size=10).map(" ".join)),
                 min_size=1, max_size=25)


@settings(max_examples=100, deadline=None)
@given(turns, st.integers(10, 40))
def test_buffer_stays_within_budget_and_keeps_the_newest_turn(conversation, budget):
    archive = LongTermMemory()
    buffer = ConversationBuffer(budget, archive=archive)
    for role, content in conversation:
        buffer.add(role, content)
        assert buffer.n_tokens() <= budget
        assert buffer.turns[-1] == {"role": role, "content": content}
    # every turn is either still in the buffer or archived, in order, exactly once
    kept = [f"{t['role']}: {t['content']}" for t in buffer.turns]
    assert archive.texts + kept == [f"{r}: {c}" for r, c in conversation]


def test_summarize_receives_the_evicted_turns():
    seen = []

    def summarize(summary, evicted):
        seen.append([t["content"] for t in evicted])
        return "S"

    buffer = ConversationBuffer(4, summarize=summarize)
    for text in ["a b", "c d", "e f"]:
        buffer.add("user", text)
    assert seen == [["a b"], ["c d"]]
    assert buffer.summary == "S" and buffer.messages() == [
        {"role": "system", "content": "Summary of earlier turns: S"},
        {"role": "user", "content": "e f"},
    ]


def test_summary_gives_way_to_the_newest_turn():
    buffer = ConversationBuffer(5, summarize=lambda s, ev: "one two three four five")
    buffer.add("user", "a b")
    buffer.add("user", "c d e f")
    assert buffer.turns == [{"role": "user", "content": "c d e f"}]
    assert buffer.summary == "five" and buffer.n_tokens() == 5


def test_custom_token_counter():
    buffer = ConversationBuffer(10, count_tokens=len)  # characters
    buffer.add("user", "hello")
    buffer.add("user", "world!")
    assert [t["content"] for t in buffer.turns] == ["world!"]


def test_buffer_bad_input():
    with pytest.raises(ValueError, match="max_tokens"):
        ConversationBuffer(0)
    buffer = ConversationBuffer(3)
    with pytest.raises(ValueError, match="exceeds max_tokens=3"):
        buffer.add("user", "one two three four")
    with pytest.raises(TypeError, match="role and content"):
        buffer.add("user", None)
    assert buffer.messages() == []


def test_truncating_summary_and_count_words():
    evicted = [{"role": "user", "content": "a b c"}]
    assert truncating_summary("", evicted, max_words=3) == "a b c"
    assert count_words("  a  b ") == 2


def test_long_term_memory_ranks_like_rank_bm25():
    from rank_bm25 import BM25Okapi  # the production implementation, test-only

    texts = ["user: my cat is called Miso", "assistant: what a nice name for a cat",
             "user: I live in Lyon", "user: my sister lives in Lyon too",
             "assistant: Lyon is lovely in spring", "user: I prefer tea to coffee"]
    memory = LongTermMemory()
    for t in texts:
        memory.add(t)
    query = "where does my sister live"
    scores = BM25Okapi([tokenize(t) for t in texts]).get_scores(tokenize(query))
    expected = sorted((i for i in range(len(texts)) if scores[i] > 0), key=lambda i: -scores[i])
    hits = memory.search(query, k=len(texts))
    assert [texts.index(t) for t, _ in hits] == expected
    assert [s for _, s in hits] == pytest.approx(sorted(scores[scores > 0], reverse=True))
    assert memory.search(query, k=1)[0][0] == "user: my sister lives in Lyon too"


def test_long_term_memory_edge_cases():
    memory = LongTermMemory()
    assert memory.search("anything") == []
    memory.add("...")
    assert memory.search("anything") == []  # no tokens at all
    with pytest.raises(ValueError, match="k must be a positive int"):
        memory.search("x", k=0)
    with pytest.raises(TypeError, match="text must be a str"):
        memory.add(3)
