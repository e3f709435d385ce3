"""LLM-as-a-judge: a protocol for pairwise comparisons, with its biases measured.

A strong model can compare two answers to the same question and say which is
better; Zheng et al. (2023) found such judges agree with people about as often
as people agree with each other, but also that they prefer the answer shown
first (*position bias*), longer answers, and their own. The protocol here asks
the judge twice with the answers swapped and only counts a win when both orders
agree; the disagreement rate measures position bias. Agreement with human
labels is reported beyond chance with Cohen's kappa. The judge is any callable,
so the same code runs a scripted judge in a doctest or an API-backed model.

Model-graded evaluation also grades one answer at a time on a scale
(:func:`grade_single`). The biases are measured, not assumed:
:func:`position_bias` asks every pair in both orders and counts how often the
answer shown first wins; :func:`verbosity_bias` pads the worse answer with words
that add nothing and counts how often that wins it the verdict; :func:`agreement`
compares verdicts with reference labels, with a bootstrap interval. The
mitigations are swap-and-keep-consistent (``judge_pair(swap=True)``) and
reference-guided grading (``reference=``, passed to the judge). Since no judge
model runs on a laptop in seconds, :class:`SimulatedJudge` plants known biases in
a judge of arithmetic answers (:func:`judge_items`), so that the measurements can
be checked to find them.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

import numpy as np

from fmref.eval.bootstrap import bootstrap_ci

__all__ = [
    "VERDICTS",
    "judge_pair",
    "judge_pairs",
    "cohen_kappa",
    "grade_single",
    "position_bias",
    "pad_answer",
    "verbosity_bias",
    "agreement",
    "judge_items",
    "SimulatedJudge",
]

#: What a judge callable may return: the first answer shown wins, the second, or a tie.
VERDICTS = ("first", "second", "tie")


def _ask(judge, question, first, second, reference=None):
    verdict = (judge(question, first, second) if reference is None
               else judge(question, first, second, reference))
    if verdict not in VERDICTS:
        raise ValueError(f"judge must return one of {VERDICTS}, got {verdict!r}")
    return verdict


def judge_pair(judge, question, answer_a, answer_b, swap=True, reference=None):
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
    reference : str, optional
        A reference answer, passed to the judge as a fourth argument
        (reference-guided grading).

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
    v1 = _ask(judge, question, answer_a, answer_b, reference)  # a shown first
    w1 = {"first": "a", "second": "b", "tie": "tie"}[v1]
    if not swap:
        return w1, True
    v2 = _ask(judge, question, answer_b, answer_a, reference)  # b shown first
    w2 = {"first": "b", "second": "a", "tie": "tie"}[v2]
    return (w1, True) if w1 == w2 else ("tie", False)


def judge_pairs(judge, items, swap=True):
    """Run :func:`judge_pair` over many items and summarise.

    Parameters
    ----------
    judge : callable
        As for :func:`judge_pair`.
    items : sequence of tuple of str
        ``(question, answer_a, answer_b)``, or ``(question, answer_a, answer_b,
        reference)`` for reference-guided grading.
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
    if any(not isinstance(it, (tuple, list)) or len(it) not in (3, 4) for it in items):
        raise ValueError("items must be (question, answer_a, answer_b[, reference]) tuples")
    results = [judge_pair(judge, *item[:3], swap=swap,
                          reference=item[3] if len(item) > 3 else None) for item in items]
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


def grade_single(judge, question, answer, reference=None, scale=(1, 10)):
    """Single-answer grading: the judge gives one answer a score on a scale.

    Parameters
    ----------
    judge : callable
        ``judge(question, answer)`` (or ``judge(question, answer, reference)``)
        returns an int score.
    question, answer : str
        The prompt and the answer to grade.
    reference : str, optional
        A reference answer for reference-guided grading.
    scale : tuple of int, default (1, 10)
        Lowest and highest score.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If the judge returns something that is not an int on the scale, or
        ``scale`` is not an increasing pair of ints.

    Examples
    --------
    >>> from fmref.eval.judge import grade_single
    >>> def strict(question, answer, reference):
    ...     return 10 if reference in answer else 2
    >>> grade_single(strict, "What is 6 * 7?", "It is 42.", reference="42")
    10
    """
    lo, hi = _scale(scale)
    score = judge(question, answer) if reference is None else judge(question, answer, reference)
    if isinstance(score, bool) or not isinstance(score, (int, np.integer)) or not lo <= score <= hi:
        raise ValueError(f"judge must return an int score in [{lo}, {hi}], got {score!r}")
    return int(score)


def _scale(scale):
    if (not isinstance(scale, tuple) or len(scale) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale)
            or scale[0] >= scale[1]):
        raise ValueError(f"scale must be a pair of ints (low, high) with low < high, got {scale!r}")
    return scale


def _items(items, width=3):
    items = list(items)
    if not items:
        raise ValueError("items must hold at least one (question, answer_a, answer_b), got none")
    for item in items:
        if not isinstance(item, tuple) or len(item) < width:
            raise ValueError(f"items must be tuples of at least {width} strings, got {item!r}")
    return items


def position_bias(judge, items):
    """How often the answer shown first wins, with every pair asked in both orders.

    An order-blind judge picks the first answer in exactly half of its decisive
    verdicts (each pair is shown both ways), whatever the answers; the excess over
    one half is position bias.

    Parameters
    ----------
    judge : callable
        As for :func:`judge_pair`.
    items : sequence of tuple of str
        ``(question, answer_a, answer_b, ...)``; extra fields are ignored.

    Returns
    -------
    dict
        ``first_rate`` (share of decisive verdicts won by the first answer;
        ``nan`` if there were none), ``consistency`` (share of items whose two
        verdicts name the same winner) and ``decisive`` (share of the verdicts
        that were not ties).

    Raises
    ------
    ValueError
        If ``items`` is empty or malformed, or the judge returns an unknown verdict.

    Examples
    --------
    >>> from fmref.eval.judge import position_bias
    >>> def longer_else_first(question, first, second):
    ...     return "second" if len(second) > len(first) else "first"
    >>> position_bias(longer_else_first, [("q", "ab", "cd"), ("q", "a", "bcd")])
    {'first_rate': 0.75, 'consistency': 0.5, 'decisive': 1.0}
    """
    first = decisive = consistent = 0
    items = _items(items)
    for question, a, b, *_ in items:
        v1, v2 = _ask(judge, question, a, b), _ask(judge, question, b, a)
        for v in (v1, v2):
            decisive += v != "tie"
            first += v == "first"
        w1 = {"first": "a", "second": "b", "tie": "tie"}[v1]
        w2 = {"first": "b", "second": "a", "tie": "tie"}[v2]
        consistent += w1 == w2
    n = len(items)
    return {"first_rate": first / decisive if decisive else float("nan"),
            "consistency": consistent / n, "decisive": decisive / (2 * n)}


def pad_answer(answer, sentences=3):
    """An answer made longer without adding information.

    Restates the answer and appends generic sentences, the "verbosity attack"
    of Zheng et al. (2023) in miniature.

    Parameters
    ----------
    answer : str
        The answer.
    sentences : int, default 3
        Filler sentences to add (at most 3 distinct ones, then repeated).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``sentences`` is not a non-negative int.

    Examples
    --------
    >>> from fmref.eval.judge import pad_answer
    >>> pad_answer("It is 42.", 1)
    'It is 42. To restate the result clearly: It is 42.'
    >>> len(pad_answer("It is 42.", 3).split())
    35
    """
    if isinstance(sentences, bool) or not isinstance(sentences, int) or sentences < 0:
        raise ValueError(f"sentences must be a non-negative int, got {sentences!r}")
    filler = [f"To restate the result clearly: {answer}",
              "This follows from a careful, step-by-step check of every part of the question.",
              "Each intermediate value was verified, so the conclusion above is reliable."]
    return " ".join([answer] + [filler[i % 3] for i in range(sentences)])


def verbosity_bias(judge, items, labels, pad=pad_answer, swap=True):
    """How often padding the worse answer wins it the verdict.

    Parameters
    ----------
    judge : callable
        As for :func:`judge_pair`.
    items : sequence of tuple of str
        ``(question, answer_a, answer_b, ...)``.
    labels : sequence of {"a", "b"}
        Which answer is the better one, per item.
    pad : callable, default pad_answer
        ``pad(answer) -> str``, longer and no better.
    swap : bool, default True
        Judge in both orders (:func:`judge_pair`).

    Returns
    -------
    dict
        ``worse_wins`` before padding and ``worse_wins_padded`` after padding the
        worse answer (shares of items); their difference is the verbosity bias.

    Raises
    ------
    ValueError
        If the lengths differ or a label is not ``"a"`` or ``"b"``.

    Examples
    --------
    >>> from fmref.eval.judge import verbosity_bias
    >>> def longer(question, first, second):
    ...     if len(first) == len(second):
    ...         return "tie"
    ...     return "first" if len(first) > len(second) else "second"
    >>> verbosity_bias(longer, [("2 + 2?", "4", "5")], ["a"])
    {'worse_wins': 0.0, 'worse_wins_padded': 1.0}
    """
    items, labels = _items(items), list(labels)
    if len(labels) != len(items) or any(lab not in ("a", "b") for lab in labels):
        raise ValueError("labels must hold 'a' or 'b' for every item")
    before = after = 0
    for (question, a, b, *_), lab in zip(items, labels):
        worse = "b" if lab == "a" else "a"
        before += judge_pair(judge, question, a, b, swap)[0] == worse
        padded = (a, pad(b)) if worse == "b" else (pad(a), b)
        after += judge_pair(judge, question, *padded, swap)[0] == worse
    n = len(items)
    return {"worse_wins": before / n, "worse_wins_padded": after / n}


def agreement(predicted, reference, n_resamples=2000, confidence=0.95, seed=0):
    """Agreement of a judge's verdicts with reference labels, with a bootstrap interval.

    Parameters
    ----------
    predicted, reference : sequence
        Labels per item (e.g. ``"a"``, ``"b"``, ``"tie"``).
    n_resamples, confidence, seed
        As for :func:`fmref.eval.bootstrap.bootstrap_ci`.

    Returns
    -------
    dict
        ``agreement`` (share of equal labels), ``low`` and ``high`` (its
        percentile bootstrap interval over items) and ``kappa`` (:func:`cohen_kappa`).

    Raises
    ------
    ValueError
        If the sequences are empty or of different lengths.

    Examples
    --------
    >>> from fmref.eval.judge import agreement
    >>> r = agreement(["a"] * 80 + ["b"] * 20, ["a"] * 70 + ["b"] * 30)
    >>> round(r["agreement"], 2), round(r["low"], 2), round(r["high"], 2), round(r["kappa"], 3)
    (0.9, 0.84, 0.95, 0.737)
    """
    if len(predicted) != len(reference) or len(reference) == 0:
        raise ValueError(
            f"reference must hold one label per prediction ({len(predicted)}), got {len(reference)}"
        )
    predicted, reference = list(predicted), list(reference)
    kappa = cohen_kappa(predicted, reference)  # checks the lengths
    ci = bootstrap_ci([float(p == r) for p, r in zip(predicted, reference)],
                      n_resamples, confidence, seed)
    return {"agreement": ci.estimate, "low": ci.low, "high": ci.high, "kappa": kappa}


def judge_items(n=200, seed=0):
    """Arithmetic questions, each with a right and a wrong answer in random order.

    Parameters
    ----------
    n : int, default 200
        Number of items.
    seed : int, default 0
        Random seed.

    Returns
    -------
    list of tuple
        ``(question, answer_a, answer_b, reference)``.
    list of str
        The better answer per item, ``"a"`` or ``"b"``.

    Raises
    ------
    ValueError
        If ``n`` is not a positive int.

    Examples
    --------
    >>> from fmref.eval.judge import judge_items
    >>> items, labels = judge_items(2, seed=1)
    >>> items[0], labels[0]
    (('What is 52 * 56?', 'The answer is 2912.', 'The answer is 2922.', '2912'), 'a')
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    items, labels = [], []
    for _ in range(n):
        x, y = (int(v) for v in rng.integers(11, 99, size=2))
        op = "+-*"[int(rng.integers(3))]
        right = {"+": x + y, "-": x - y, "*": x * y}[op]
        wrong = right + int(rng.choice([-10, -2, -1, 1, 2, 10]))
        answers = [f"The answer is {right}.", f"The answer is {wrong}."]
        label = "a" if rng.random() < 0.5 else "b"
        if label == "b":
            answers.reverse()
        items.append((f"What is {x} {op} {y}?", *answers, str(right)))
        labels.append(label)
    return items, labels


class SimulatedJudge:
    """A judge of arithmetic answers with planted biases, standing in for a model.

    For each comparison the judge works the question out itself with probability
    ``skill`` and then prefers the correct answer. Otherwise it is unsure: with
    probability ``position`` it picks the answer shown first, else with
    probability ``verbosity`` the longer one (when the lengths differ), else it
    calls a tie. Given a reference answer it needs no skill: it compares with the
    reference. Its randomness is a hash of the call, so a judge is a pure
    function and asking it the same thing twice gives the same verdict; whether
    it can check a pair, and whether it follows length, are drawn per pair, and
    only the position draw depends on the order, so a judge with ``position=0``
    is exactly order-blind.

    Parameters
    ----------
    skill : float, default 0.6
        Probability of checking the answers without a reference.
    position : float, default 0.3
        Probability of picking the first answer when unsure.
    verbosity : float, default 0.7
        Probability of picking the longer answer when unsure and not position-led.
    seed : int, default 0
        Seed of the hash.

    Raises
    ------
    ValueError
        If a probability is outside [0, 1].

    Examples
    --------
    >>> from fmref.eval.judge import SimulatedJudge
    >>> judge = SimulatedJudge(skill=0.0, position=1.0)
    >>> judge("What is 2 + 2?", "The answer is 5.", "The answer is 4.")
    'first'
    >>> judge("What is 2 + 2?", "The answer is 5.", "The answer is 4.", "4")
    'second'
    """

    def __init__(self, skill=0.6, position=0.3, verbosity=0.7, seed=0):
        for name, value in (("skill", skill), ("position", position), ("verbosity", verbosity)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        self.skill, self.position, self.verbosity, self.seed = skill, position, verbosity, seed

    def _uniform(self, *parts):
        key = "\x1f".join((str(self.seed),) + parts).encode("utf-8")
        return zlib.crc32(key) / 2**32

    @staticmethod
    def _correct(question, answer):
        m = re.fullmatch(r"What is (-?\d+) ([-+*]) (-?\d+)\?", question)
        found = re.findall(r"-?\d+", answer)
        if m is None or not found:
            return None
        x, op, y = int(m.group(1)), m.group(2), int(m.group(3))
        return int(found[0]) == {"+": x + y, "-": x - y, "*": x * y}[op]

    def __call__(self, question, first, second, reference=None):
        pair = sorted((first, second))  # what does not depend on the order is drawn per pair
        if reference is not None:
            ok = [reference in re.findall(r"-?\d+", s)[:1] for s in (first, second)]
        elif self._uniform(question, *pair, "skill") < self.skill:
            ok = [self._correct(question, s) for s in (first, second)]
        else:
            ok = [None, None]
        if ok[0] != ok[1] and None not in ok:
            return "first" if ok[0] else "second"
        if self._uniform(question, first, second, "position") < self.position:
            return "first"
        longer_one = len(first) != len(second)
        if longer_one and self._uniform(question, *pair, "verbosity") < self.verbosity:
            return "first" if len(first) > len(second) else "second"
        return "tie"
