"""LLM-as-a-judge: a protocol for pairwise comparisons, with its biases measured.

A strong model can compare two answers to the same question and say which is
better; Zheng et al. (2023) found such judges agree with people about as often
as people agree with each other, but also that they prefer the answer shown
first (*position bias*), longer answers, and their own. The protocol here asks
the judge twice with the answers swapped and only counts a win when both orders
agree; the disagreement rate measures position bias. Agreement with human
labels is reported beyond chance with Cohen's kappa. The judge is any callable,
so the same code runs a scripted judge in a doctest or an API-backed model.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["VERDICTS", "judge_pair", "judge_pairs", "cohen_kappa"]

#: What a judge callable may return: the first answer shown wins, the second, or a tie.
VERDICTS = ("first", "second", "tie")


def _ask(judge, question, first, second):
    verdict = judge(question, first, second)
    if verdict not in VERDICTS:
        raise ValueError(f"judge must return one of {VERDICTS}, got {verdict!r}")
    return verdict


def judge_pair(judge, question, answer_a, answer_b, swap=True):
    """Ask a judge which of two answers is better, in both orders.

    Parameters
    ----------
    judge : callable
        ``judge(question, first, second)`` returns ``"first"``, ``"second"`` or ``"tie"``.
    question : str
        The prompt both answers respond to.
    answer_a, answer_b : str
        The two systems' answers.
    swap : bool, default True
        Ask again with the answers swapped; a winner must win in both orders.

    Returns
    -------
    winner : {"a", "b", "tie"}
        ``"tie"`` also when the two orders disagree (the judge followed the position).
    consistent : bool
        Whether both orders gave the same verdict (always ``True`` without ``swap``).

    Raises
    ------
    ValueError
        If the judge returns something outside :data:`VERDICTS`.

    References
    ----------
    .. [1] Zheng et al., "Judging LLM-as-a-Judge with MT-Bench and Chatbot
       Arena", NeurIPS 2023 Datasets and Benchmarks.

    Examples
    --------
    >>> from fmref.eval.judge import judge_pair
    >>> def longer(question, first, second):   # a scripted judge: the longer answer wins
    ...     if len(first) == len(second):
    ...         return "tie"
    ...     return "first" if len(first) > len(second) else "second"
    >>> judge_pair(longer, "Why is the sky blue?", "Rayleigh scattering of sunlight.", "Magic.")
    ('a', True)
    >>> always_first = lambda q, x, y: "first"
    >>> judge_pair(always_first, "Why is the sky blue?", "Rayleigh scattering.", "Magic.")
    ('tie', False)
    """
    if not callable(judge):
        raise TypeError(f"judge must be callable, got {type(judge).__name__}")
    v1 = _ask(judge, question, answer_a, answer_b)  # a shown first
    w1 = {"first": "a", "second": "b", "tie": "tie"}[v1]
    if not swap:
        return w1, True
    v2 = _ask(judge, question, answer_b, answer_a)  # b shown first
    w2 = {"first": "b", "second": "a", "tie": "tie"}[v2]
    return (w1, True) if w1 == w2 else ("tie", False)


def judge_pairs(judge, items, swap=True):
    """Run :func:`judge_pair` over many items and summarise.

    Parameters
    ----------
    judge : callable
        As for :func:`judge_pair`.
    items : sequence of tuple of str
        ``(question, answer_a, answer_b)``.
    swap : bool, default True
        Ask in both orders.

    Returns
    -------
    dict
        ``"winners"`` (list of ``"a"``/``"b"``/``"tie"``), ``"win_rate_a"``,
        ``"win_rate_b"``, ``"tie_rate"`` and ``"consistency"`` (fraction of
        items on which both orders agreed).

    Raises
    ------
    ValueError
        If ``items`` is empty or the judge returns an unknown verdict.

    Examples
    --------
    >>> from fmref.eval.judge import judge_pairs
    >>> biased = lambda q, x, y: "first"
    >>> judge_pairs(biased, [("q", "x", "y")] * 4)["consistency"]
    0.0
    """
    if isinstance(items, str) or len(items) == 0:
        raise ValueError("items must hold at least one (question, answer_a, answer_b), got none")
    if any(not isinstance(it, (tuple, list)) or len(it) != 3 for it in items):
        raise ValueError("items must be (question, answer_a, answer_b) triples")
    results = [judge_pair(judge, q, a, b, swap) for q, a, b in items]
    winners = [w for w, _ in results]
    n = len(results)
    counts = Counter(winners)
    return {
        "winners": winners,
        "win_rate_a": counts["a"] / n,
        "win_rate_b": counts["b"] / n,
        "tie_rate": counts["tie"] / n,
        "consistency": sum(c for _, c in results) / n,
    }


def cohen_kappa(labels_1, labels_2):
    """Cohen's kappa: agreement of two raters beyond what chance would give.

    .. math:: \\kappa = \\frac{p_o - p_e}{1 - p_e}

    with :math:`p_o` the observed agreement and :math:`p_e` the agreement of two
    independent raters with the same label frequencies.

    Parameters
    ----------
    labels_1, labels_2 : sequence
        The two raters' labels on the same items.

    Returns
    -------
    float
        1 for perfect agreement, 0 for chance level, negative below chance;
        1.0 when both raters give one and the same label to everything.

    Raises
    ------
    ValueError
        If the sequences are empty or of different lengths.

    References
    ----------
    .. [1] Cohen, "A Coefficient of Agreement for Nominal Scales", Educational
       and Psychological Measurement, 1960.

    Examples
    --------
    >>> from fmref.eval.judge import cohen_kappa
    >>> human = ["a", "a", "b", "b", "a", "tie"]
    >>> model = ["a", "a", "b", "a", "a", "tie"]
    >>> round(cohen_kappa(human, model), 4)
    0.7143
    """
    labels_1, labels_2 = list(labels_1), list(labels_2)
    if not labels_1 or len(labels_1) != len(labels_2):
        raise ValueError(
            "labels_1 and labels_2 must be non-empty and of equal length, got "
            f"{len(labels_1)} and {len(labels_2)}"
        )
    n = len(labels_1)
    p_o = sum(x == y for x, y in zip(labels_1, labels_2)) / n
    c1, c2 = Counter(labels_1), Counter(labels_2)
    p_e = sum(c1[k] * c2[k] for k in c1) / (n * n)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)
