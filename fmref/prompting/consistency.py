"""Self-consistency: sample several reasoning paths, keep the most common answer.

A chain-of-thought sample ends with an answer; different samples reach it by
different paths. If each sample is right with probability ``p`` and the wrong
answers scatter, the majority answer of ``n`` samples is right far more often
than one sample is.
"""

from __future__ import annotations

import re

from fmref._validate import check_instance, check_positive_int

__all__ = ["extract_answer", "majority_vote", "self_consistency"]

_DEFAULT_PATTERN = r"answer is\s*\$?(-?[\d,]*\.?\d+)"


def extract_answer(text, pattern=_DEFAULT_PATTERN):
    """The last match of ``pattern``'s first group in ``text`` (commas removed), or None.

    Parameters
    ----------
    text : str
        A model's output.
    pattern : str, default ``r"answer is\\s*\\$?(-?[\\d,]*\\.?\\d+)"``
        Regular expression with one group.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from fmref.prompting.consistency import extract_answer
    >>> extract_answer("3 boxes of 4 is 12, plus 2. The answer is 14.")
    '14'
    >>> extract_answer("I am not sure.") is None
    True
    """
    check_instance("text", text, str)
    found = re.findall(pattern, text)
    return found[-1].replace(",", "") if found else None


def majority_vote(answers, weights=None):
    """Most frequent answer, or the one of largest total weight (``None`` answers ignored;
    ties go to the first seen).

    Parameters
    ----------
    answers : iterable
        Hashable answers.
    weights : iterable of float, optional
        One weight per answer (e.g. a reward model's score of each sample): the
        winner is the answer whose samples weigh most in total (weighted
        voting). Default: one vote each.

    Returns
    -------
    answer : object
    share : float
        Its fraction of the non-``None`` answers' votes (or weight).

    Raises
    ------
    ValueError
        If there is no non-``None`` answer, or ``weights`` does not hold one
        non-negative number per answer.

    Examples
    --------
    >>> from fmref.prompting.consistency import majority_vote
    >>> majority_vote(["14", "12", "14", None, "14", "13"])
    ('14', 0.6)
    >>> majority_vote(["14", "12", "14"], weights=[0.1, 0.8, 0.1])
    ('12', 0.8)
    """
    answers = list(answers)
    if weights is None:
        weights = [1.0] * len(answers)
    else:
        weights = [float(w) for w in weights]
        if len(weights) != len(answers) or any(not w >= 0 for w in weights):
            raise ValueError(f"weights must hold one number >= 0 per answer ({len(answers)}), "
                             f"got {weights}")
    votes = [(a, w) for a, w in zip(answers, weights) if a is not None]
    if not votes:
        raise ValueError("answers must contain at least one answer that is not None")
    totals: dict = {}
    for a, w in votes:
        totals[a] = totals.get(a, 0.0) + w
    best = max(totals.values())
    winner = next(a for a, _ in votes if totals[a] == best)  # first seen among the ties
    whole = sum(totals.values())
    return winner, (best / whole if whole > 0 else 1 / len(totals))


def self_consistency(sample, n_samples, extract=extract_answer):
    """Draw ``n_samples`` outputs with ``sample(i)`` and vote on their answers.

    Parameters
    ----------
    sample : callable
        ``int -> str``: the ``i``-th sampled output (e.g. a chain of thought at
        temperature 0.7).
    n_samples : int
        Samples to draw, ``>= 1``.
    extract : callable, default :func:`extract_answer`
        ``str -> answer or None``.

    Returns
    -------
    answer : object
    share : float
    answers : list
        The extracted answer of every sample.

    Raises
    ------
    ValueError
        If ``n_samples < 1`` or no sample has an answer.

    References
    ----------
    .. [1] Wang et al., "Self-Consistency Improves Chain of Thought Reasoning
       in Language Models", ICLR 2023.

    Examples
    --------
    >>> import random
    >>> from fmref.prompting.consistency import self_consistency
    >>> rng = random.Random(0)
    >>> def noisy_solver(i):  # right 40% of the time, else one of 4 wrong answers
    ...     answer = 14 if rng.random() < 0.4 else rng.choice([12, 13, 15, 16])
    ...     return f"... so the answer is {answer}."
    >>> answer, share, answers = self_consistency(noisy_solver, 25)
    >>> answer, len(answers)
    ('14', 25)
    """
    check_positive_int("n_samples", n_samples)
    answers = [extract(sample(i)) for i in range(n_samples)]
    answer, share = majority_vote(answers)
    return answer, share, answers
