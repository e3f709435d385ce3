"""Agentic retrieval, and what stuffing a long context costs instead.

**Agentic RAG.** A retriever asked once gets one chance; an agent can search,
read what came back, and search again with a better query. :func:`search_tool`
wraps a retriever as a tool of :mod:`fmref.agents` (it returns passage numbers,
topics and the start of each passage, and logs every ranking it produced);
:class:`FeedbackPolicy` is a scripted stand-in for the model that drives
:func:`fmref.agents.react.run_agent`: its first query is the question's content
words (*query rewriting*), each next query adds the terms that stand out in the
passages it has read (*pseudo-relevance feedback*, Rocchio's idea, a second
hop), and it answers with the passages found. :func:`agentic_rankings` runs the
loop for every question and fuses the rankings of its searches by reciprocal
rank, counting the tokens the agent's transcripts cost.

**Long context against retrieval.** A model with a long enough window could read
the whole corpus instead. :func:`recall_within_budget` measures, for a budget
of ``B`` prompt tokens, how many relevant topics a prompt can hold: passages
are added in a ranking's order until the next one would not fit. Stuffing the
corpus is the same function with every question given the corpus order, so the
two are compared on the same questions and the same token counts.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter

from fmref._validate import check_int, check_positive_int

__all__ = [
    "STOPWORDS",
    "content_words",
    "search_tool",
    "FeedbackPolicy",
    "agentic_rankings",
    "recall_within_budget",
]

#: Function words and question words dropped from a question to make a search query;
#: Python's keywords (``for``, ``if``, ``in``, ``with`` ...) are kept: in this corpus
#: they are the subject.
STOPWORDS = frozenset(
    """a about after all also an and any are as at be been before being both but by can
    could did do does doing for from get gets give gives had has have how i if in inside
    into is it its itself just me more my no not of on once one only or other our out own
    same should so some such than that the their them then there these they this those
    through to too under until up use used using very was way we were what when where which
    while who whom why will with without would write you your""".split()
) - {w.lower() for w in keyword.kwlist}


def content_words(text):
    """The words of a text that are not :data:`STOPWORDS`, in order, each once.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    list of str
        Lower-cased :func:`fmref.rag.bm25.tokenize` words.

    Raises
    ------
    TypeError
        If ``text`` is not a str.

    Examples
    --------
    >>> from fmref.rag.agentic import content_words
    >>> content_words("How do I leave a loop early, and is the loop's else run?")  # keeps and, is
    ['leave', 'loop', 'early', 'and', 'is', 's', 'else', 'run']
    """
    from fmref.rag.bm25 import tokenize

    words = [w for w in tokenize(text) if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def search_tool(search, texts, topics, k=3, preview_words=25):
    """A retriever as an agent tool that logs every ranking it returns.

    Parameters
    ----------
    search : callable
        ``search(query) -> ranking``: passage indices, best first.
    texts, topics : list of str
        Every passage and its topic.
    k : int, default 3
        Passages shown per search.
    preview_words : int, default 25
        Words of each passage shown in the observation.

    Returns
    -------
    tool : fmref.agents.tools.Tool
        ``search(query: str)``, whose result lists ``[index] (topic) words...``.
    log : list of list of int
        Every ranking the tool produced, in call order (the caller reads it).

    Raises
    ------
    ValueError
        If ``k`` or ``preview_words`` is not a positive int, or ``texts`` and
        ``topics`` differ in length. The tool itself raises ``ValueError`` on an
        empty query, which the agent loop turns into an ``Error:`` observation.

    Examples
    --------
    >>> from fmref.rag.agentic import search_tool
    >>> texts = ["break leaves the loop", "continue skips ahead", "pass does nothing"]
    >>> tool, log = search_tool(lambda q: [1, 0, 2], texts, ["break", "continue", "pass"], k=2)
    >>> tool(query="skip")
    '[1] (continue) continue skips ahead\\n[0] (break) break leaves the loop'
    >>> log
    [[1, 0, 2]]
    """
    from fmref.agents.tools import Tool

    check_positive_int("k", k)
    check_positive_int("preview_words", preview_words)
    if len(texts) != len(topics):
        raise ValueError(f"topics must have one entry per text ({len(texts)}), got {len(topics)}")
    log = []

    def search_passages(query: str) -> str:
        """Search the documentation.

        Parameters
        ----------
        query : str
            Words to look for.
        """
        if not query.strip():
            raise ValueError("query must be a non-empty str")
        ranking = list(search(query))
        log.append(ranking)
        return "\n".join(
            f"[{i}] ({topics[i]}) " + " ".join(texts[i].split()[:preview_words])
            for i in ranking[:k]
        )

    return Tool.from_function(search_passages, name="search"), log


class FeedbackPolicy:
    """A scripted agent: rewrite the question, search, read, search again, answer.

    A stand-in for a language model that drives :func:`fmref.agents.react.run_agent`
    with the ``search`` tool of :func:`search_tool`. Its first query is the
    question's :func:`content_words`; every later query is the first one plus the
    ``feedback_terms`` words that occur most in the passages it has read (in the
    observations only) and not in the question, rare words first among equals
    (pseudo-relevance feedback). After ``hops`` searches it answers with the
    passage numbers it saw.

    Parameters
    ----------
    hops : int, default 2
        Searches before answering (1: query rewriting only).
    feedback_terms : int, default 5
        Words added per later search.

    Raises
    ------
    ValueError
        If ``hops`` or ``feedback_terms`` is not a positive int.

    References
    ----------
    .. [1] Rocchio, "Relevance Feedback in Information Retrieval", in The SMART
       Retrieval System, 1971.
    .. [2] Yao et al., "ReAct: Synergizing Reasoning and Acting in Language Models",
       ICLR 2023.

    Examples
    --------
    >>> from fmref.agents.react import run_agent
    >>> from fmref.rag.agentic import FeedbackPolicy, search_tool
    >>> texts = ["the break statement ends the enclosing loop", "while loops repeat",
    ...          "a loop else clause runs unless break ended the loop"]
    >>> rankings = {"leave loop early": [0, 1, 2]}
    >>> tool, log = search_tool(lambda q: rankings.get(q, [2, 0, 1]), texts,
    ...                         ["break", "while", "for"], k=1)
    >>> result = run_agent(FeedbackPolicy(hops=2, feedback_terms=2), [tool],
    ...                    "How do I leave a loop early?")
    >>> [s.action.arguments["query"] for s in result.steps if s.action]
    ['leave loop early', 'leave loop early enclosing statement']
    >>> result.answer, log
    ('passages 0, 2', [[0, 1, 2], [2, 0, 1]])
    """

    def __init__(self, hops=2, feedback_terms=5):
        check_positive_int("hops", hops)
        check_positive_int("feedback_terms", feedback_terms)
        self.hops = hops
        self.feedback_terms = feedback_terms

    def __call__(self, transcript):
        from fmref.agents.parse import format_tool_call

        question = transcript.split("\n", 1)[0].removeprefix("Question: ")
        observations = re.findall(r"^Observation: (.*)$", transcript, flags=re.MULTILINE)
        seen = list(dict.fromkeys(re.findall(r"\[(\d+)\]", " ".join(observations))))
        base = content_words(question) or question.split()
        if len(observations) >= self.hops:
            return f"Thought: I have searched {len(observations)} times.\nAnswer: passages " + (
                ", ".join(seen) if seen else "none"
            )
        if not observations:
            return (
                "Thought: search with the question's content words.\n"
                + format_tool_call("search", {"query": " ".join(base)})
            )
        read = Counter(
            w
            for obs in observations
            for w in content_words(re.sub(r"\[\d+\] \([^)]*\)", " ", obs))
            if w not in base and not w.isdigit()
        )
        # the most frequent words of what was read; among equals, the longer (rarer) first
        extra = sorted(read, key=lambda w: (-read[w], -len(w), w))[: self.feedback_terms]
        return (
            "Thought: search again with words from the passages found.\n"
            + format_tool_call("search", {"query": " ".join(base + extra)})
        )


def agentic_rankings(search, texts, topics, questions, policy=None, k=3):
    """Run the agent on every question; fuse its searches' rankings.

    Parameters
    ----------
    search : callable
        ``search(query) -> ranking`` of passage indices.
    texts, topics : list of str
        The passages and their topics.
    questions : list of str
        Non-empty questions.
    policy : callable, optional
        The agent's policy; default ``FeedbackPolicy()``.
    k : int, default 3
        Passages shown per search (:func:`search_tool`).

    Returns
    -------
    rankings : list of list of int
        For each question, the reciprocal rank fusion of its searches' rankings.
    cost : dict
        ``searches`` and ``model_calls`` per question, and ``transcript_words``
        per question (what the model reads at its last call), as means.

    Raises
    ------
    ValueError
        If ``questions`` is empty or holds an empty question, or as :func:`search_tool`.

    Examples
    --------
    >>> from fmref.rag.agentic import agentic_rankings
    >>> texts = ["break ends a loop", "while repeats", "else runs unless break"]
    >>> fixed = lambda q: [0, 1, 2] if "statement" in q else [2, 0, 1]
    >>> rankings, cost = agentic_rankings(fixed, texts, ["break", "while", "for"],
    ...                                   ["What ends a loop?"])
    >>> rankings, cost["searches"], cost["model_calls"]
    ([[2, 0, 1]], 2.0, 3.0)
    """
    from fmref.agents.react import run_agent
    from fmref.rag.dense import reciprocal_rank_fusion

    if isinstance(questions, str) or len(questions) == 0:
        raise ValueError("questions must be a non-empty list of str")
    policy = FeedbackPolicy() if policy is None else policy
    rankings, searches, calls, words = [], 0, 0, 0
    for q in questions:
        tool, log = search_tool(search, texts, topics, k=k)
        result = run_agent(policy, [tool], q, max_steps=10)
        if not log:  # the agent never searched: nothing retrieved
            log = [[]]
        rankings.append([d for d, _ in reciprocal_rank_fusion(log)])
        searches += len([r for r in log if r])
        calls += result.model_calls
        words += len(result.transcript.split())
    n = len(questions)
    return rankings, {"searches": searches / n, "model_calls": calls / n,
                      "transcript_words": words / n}  # fmt: skip


def recall_within_budget(rankings, questions, chunk_tokens, chunk_topics, budget):
    """Mean recall of relevant topics among the passages that fit a token budget.

    Passages are taken in each ranking's order while their tokens fit in
    ``budget`` (the first that does not fit ends the prompt); a topic counts as
    found if one of its passages is in.

    Parameters
    ----------
    rankings : list of list of int
        One passage ranking per question (for stuffing: the corpus order).
    questions : list of dict
        Each with ``"relevant"``: ``{topic: grade}``.
    chunk_tokens : sequence of int
        Tokens of every passage.
    chunk_topics : sequence of str
        Topic of every passage.
    budget : int
        Prompt tokens available for passages.

    Returns
    -------
    recall : float
        Mean over questions of the fraction of relevant topics in the prompt.
    tokens : float
        Mean tokens used.

    Raises
    ------
    ValueError
        If ``budget`` is negative or the numbers of rankings and questions differ.

    Examples
    --------
    >>> from fmref.rag.agentic import recall_within_budget
    >>> q = [{"relevant": {"b": 2}}]
    >>> recall_within_budget([[0, 1, 2]], q, [100, 100, 100], ["a", "b", "c"], 250)
    (1.0, 200.0)
    >>> recall_within_budget([[0, 1, 2]], q, [100, 100, 100], ["a", "b", "c"], 150)
    (0.0, 100.0)
    """
    check_int("budget", budget, low=0)
    if len(rankings) != len(questions):
        raise ValueError(
            f"rankings must hold one ranking per question ({len(questions)}), got {len(rankings)}"
        )
    total_recall = total_tokens = 0.0
    for ranking, q in zip(rankings, questions):
        used, found = 0, set()
        for i in ranking:
            if used + chunk_tokens[i] > budget:
                break
            used += chunk_tokens[i]
            found.add(chunk_topics[i])
        relevant = {t for t, g in q["relevant"].items() if g > 0}
        total_recall += len(relevant & found) / len(relevant)
        total_tokens += used
    n = len(questions)
    return round(total_recall / n, 4), round(total_tokens / n, 1)
