r"""Test-time compute: sample N answers, then pick one with a verifier, a reward model or a vote.

A model that is right with probability :math:`p` per sample can be made
right more often by sampling :math:`N` answers and choosing well among them:

- **best-of-N** keeps the answer a scorer ranks highest. With a perfect
  verifier (unit tests, a proof checker, the rule of
  :func:`fmref.align.verifiable.verify`) it is right whenever any sample is,
  so its accuracy is pass@N (:func:`fmref.eval.passk.pass_at_k`); with a
  learned reward model it is right when the model ranks a right answer first;
- **majority voting** (self-consistency) keeps the most frequent final answer;
  **weighted voting** sums a reward model's scores per answer instead of
  counting (:func:`fmref.prompting.consistency.majority_vote` with weights).

The accuracy of each rule against :math:`N` is the *test-time scaling curve*.
It is estimated from :math:`n \ge N` samples per question without bias, as
pass@k is: :func:`best_of_n_accuracy` exactly (over every subset of size
:math:`N`), :func:`vote_accuracy` by averaging over random subsets.
:func:`sample_sums_answers` draws the samples of Chapters XI and XV's curves.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

from fmref._validate import check_instance, check_int, check_positive_int

__all__ = ["best_of_n", "best_of_n_accuracy", "vote_accuracy", "accuracy_against_n",
           "sample_sums_answers"]


def _check_samples(name, values, n=None):
    check_instance(name, values, (list, tuple))
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one sample, got none")
    if n is not None and len(values) != n:
        raise ValueError(f"{name} must hold one entry per sample ({n}), got {len(values)}")
    return list(values)


def best_of_n(answers, scores):
    """The answer with the highest score (the first of a tie).

    Parameters
    ----------
    answers : sequence
        The N sampled answers (any objects).
    scores : sequence of float
        A scorer's score of each.

    Returns
    -------
    object
        The chosen answer.

    Raises
    ------
    ValueError
        If there is no sample (N < 1) or the lengths differ.

    References
    ----------
    .. [1] Cobbe et al., "Training Verifiers to Solve Math Word Problems", 2021.

    Examples
    --------
    >>> from fmref.eval.testtime import best_of_n
    >>> best_of_n(["12", "13", "14"], [0.2, 0.9, 0.4])
    '13'
    """
    answers = _check_samples("answers", answers)
    scores = _check_samples("scores", scores, len(answers))
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return answers[best]


def best_of_n_accuracy(correct, scores, k):
    r"""Expected accuracy of best-of-k over a random k of the n samples, computed exactly.

    Sort the distinct scores; the best of a random k-subset lies at score level
    :math:`v` when the subset holds none of the :math:`a_v` samples above it
    and at least one of the :math:`m_v` samples at it, with probability
    :math:`\big[\binom{n - a_v}{k} - \binom{n - a_v - m_v}{k}\big] / \binom{n}{k}`;
    a tie is broken at random, so the chosen sample is then right with
    probability :math:`c_v / m_v` (the share of right samples at that level).
    With ``scores = correct`` (a perfect verifier) this is pass@k.

    Parameters
    ----------
    correct : sequence of bool
        Whether each of the n samples of one question is right.
    scores : sequence of float
        The scorer's score of each sample.
    k : int
        Samples drawn per attempt, ``1 <= k <= n``.

    Returns
    -------
    float
        The probability that the chosen sample is right, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If there is no sample, the lengths differ or ``k`` is outside ``[1, n]``.

    Examples
    --------
    >>> from fmref.eval.passk import pass_at_k
    >>> from fmref.eval.testtime import best_of_n_accuracy
    >>> correct = [True, False, False, True, False]
    >>> best_of_n_accuracy(correct, [0.9, 0.8, 0.1, 0.3, 0.5], k=2)  # 5 of the 10 pairs
    0.5
    >>> best_of_n_accuracy(correct, correct, 2) == pass_at_k(5, 2, 2)  # a perfect verifier
    True
    """
    correct = _check_samples("correct", correct)
    scores = _check_samples("scores", scores, len(correct))
    n = len(correct)
    check_int("k", k, low=1, high=n)
    total, above = Fraction(0), 0
    levels = Counter(scores)
    right = Counter(s for s, c in zip(scores, correct) if c)
    for v in sorted(levels, reverse=True):
        m = levels[v]
        p_level = Fraction(math.comb(n - above, k) - math.comb(n - above - m, k), math.comb(n, k))
        total += p_level * Fraction(right[v], m)
        above += m
    return float(total)


def vote_accuracy(answers, target, k, weights=None, draws=200, seed=0):
    """Expected accuracy of (weighted) majority voting over a random k of the n samples.

    Each draw takes k samples without replacement and votes with
    :func:`fmref.prompting.consistency.majority_vote` (ties go to the first
    seen, which in a random subset is a random one); ``None`` answers cast no
    vote, and a subset without any answer counts as wrong. With ``k == n`` the
    one subset is voted on once, and with ``k == 1`` the result is exactly the
    share of right answers.

    Parameters
    ----------
    answers : sequence
        The n sampled final answers (``None`` where none was given).
    target : object
        The right answer.
    k : int
        Samples per vote, ``1 <= k <= n``.
    weights : sequence of float, optional
        Each sample's weight (e.g. a reward model's score); default 1 each.
    draws : int, default 200
        Random subsets averaged over.
    seed : int, default 0
        Seed of the subsets.

    Returns
    -------
    float
        The share of the votes that ``target`` wins, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If there is no sample, the lengths differ, or ``k`` or ``draws`` is out of range.

    References
    ----------
    .. [1] Wang et al., "Self-Consistency Improves Chain of Thought Reasoning in
       Language Models", ICLR 2023.
    .. [2] Li et al., "Making Language Models Better Reasoners with Step-Aware
       Verifier", ACL 2023 (voting weighted by a verifier).

    Examples
    --------
    >>> from fmref.eval.testtime import vote_accuracy
    >>> answers = ["14", "12", "14", "13", None]
    >>> vote_accuracy(answers, "14", k=5)
    1.0
    >>> vote_accuracy(answers, "14", k=5, weights=[0.1, 0.9, 0.1, 0.2, 0.5])  # 12 weighs more
    0.0
    """
    from fmref.prompting.consistency import majority_vote

    answers = _check_samples("answers", answers)
    weights = [1.0] * len(answers) if weights is None else \
        _check_samples("weights", weights, len(answers))
    n = len(answers)
    check_int("k", k, low=1, high=n)
    check_positive_int("draws", draws)
    if k == 1:  # each sample alone: exactly the share of right answers
        return sum(a is not None and a == target for a in answers) / n
    rng = random.Random(seed)
    subsets = [list(range(n))] if k == n else [rng.sample(range(n), k) for _ in range(draws)]
    wins = 0
    for subset in subsets:
        if all(answers[i] is None for i in subset):
            continue
        winner, _ = majority_vote([answers[i] for i in subset], [weights[i] for i in subset])
        wins += winner == target
    return wins / len(subsets)


def accuracy_against_n(samples, targets, ns, scorers=("orm", "prm"), draws=100, seed=0):
    """The test-time scaling curves: accuracy of each selection rule against N, over questions.

    Parameters
    ----------
    samples : dict
        ``[question][sample]`` lists: ``answer`` (final answers, ``None`` for
        none), ``correct`` (bool) and one list of scores per name in ``scorers``
        (as :func:`sample_sums_answers` returns for one model).
    targets : sequence
        The right answer of each question.
    ns : sequence of int
        Numbers of samples N, each at most the samples per question.
    scorers : sequence of str, default ("orm", "prm")
        Score lists of ``samples`` to rank by (best-of-N) and to weight votes by.
    draws : int, default 100
        Random subsets per question for the voting curves (:func:`vote_accuracy`).
    seed : int, default 0
        Seed of those subsets.

    Returns
    -------
    dict
        A list of accuracies (one per N) for each rule: ``"pass@N"`` (best-of-N
        with a perfect verifier), ``"majority"``, and per scorer ``s``:
        ``"best-of-N <s>"`` and ``"weighted <s>"``.

    Raises
    ------
    ValueError
        If there is no question, ``targets`` does not match, or an N is out of range.

    Examples
    --------
    >>> from fmref.eval.testtime import accuracy_against_n
    >>> samples = {"answer": [[3, 4, 4], [7, 7, 8]], "correct": [[True, False, False],
    ...            [True, True, False]], "orm": [[0.9, 0.2, 0.3], [0.6, 0.5, 0.4]]}
    >>> curves = accuracy_against_n(samples, [3, 7], ns=[1, 3], scorers=["orm"])
    >>> for rule, acc in curves.items():
    ...     print(f"{rule:<14}", [round(a, 3) for a in acc])
    pass@N         [0.5, 1.0]
    majority       [0.5, 0.5]
    best-of-N orm  [0.5, 1.0]
    weighted orm   [0.5, 1.0]
    """
    check_instance("samples", samples, dict)
    answers = _check_samples("samples['answer']", samples.get("answer"))
    _check_samples("targets", targets, len(answers))
    curves = {"pass@N": [], "majority": []}
    for name in scorers:
        curves[f"best-of-N {name}"], curves[f"weighted {name}"] = [], []
    q = len(answers)
    for n in ns:
        acc = {rule: 0.0 for rule in curves}
        for i in range(q):
            right = samples["correct"][i]
            acc["pass@N"] += best_of_n_accuracy(right, right, n)
            acc["majority"] += vote_accuracy(answers[i], targets[i], n, None, draws, seed + i)
            for name in scorers:
                score = samples[name][i]
                acc[f"best-of-N {name}"] += best_of_n_accuracy(right, score, n)
                acc[f"weighted {name}"] += vote_accuracy(answers[i], targets[i], n, score,
                                                         draws, seed + i)
        for rule in curves:
            curves[rule].append(acc[rule] / q)
    return curves


def sample_sums_answers(use_cache=True, questions=120, n=16, seed=0):
    """N answers per held-out sums question from the base and the RL-trained model, scored.

    For each model (the base model of
    :func:`fmref.align.verifiable.train_base_model` and the GRPO policy of
    :func:`fmref.align.rlvr.train_rlvr`), ``n`` responses per held-out
    question at temperature 1, each with its final answer, whether it is
    right, its length, the ORM's score and the PRM's score
    (:func:`fmref.align.prm.train_reward_models`). Cached in :mod:`fmref.zoo`.

    Parameters
    ----------
    use_cache : bool, default True
        Load the samples (and the models) from the cache if present.
    questions : int, default 120
        Held-out questions.
    n : int, default 16
        Samples per question.
    seed : int, default 0
        Seed of the questions and the sampler.

    Returns
    -------
    dict
        ``answers`` (the right answers), ``terms`` (digits per question), and for
        ``"base"`` and ``"rlvr"`` a dict
        of ``[question][sample]`` lists: ``answer`` (int, or None), ``correct``
        (bool), ``length`` (tokens), ``orm`` and ``prm`` (probabilities).

    Raises
    ------
    ValueError
        If ``questions`` or ``n`` is below 1.

    Examples
    --------
    >>> from fmref.eval.testtime import sample_sums_answers
    >>> samples = sample_sums_answers()
    >>> len(samples["base"]["correct"]), len(samples["base"]["correct"][0])
    (120, 16)
    """
    check_positive_int("questions", questions)
    check_positive_int("n", n)
    settings = {"questions": questions, "n": n, "seed": seed}

    def run():
        import torch

        from fmref.align.prm import outcome_scores, process_scores, train_reward_models
        from fmref.align.rlvr import sample_responses, train_rlvr
        from fmref.align.verifiable import (
            TOKENIZER,
            _parse,
            sum_problem,
            train_base_model,
            verify,
        )
        from fmref.zoo import one_thread

        rng = random.Random(seed)
        problems = [sum_problem(rng, held_out=True) for _ in range(questions)]
        prompts = [p["prompt"] for p in problems]
        orm, prm, _ = train_reward_models(use_cache=use_cache)
        out = {"answers": [p["answer"] for p in problems],
               "terms": [len(p["digits"]) for p in problems]}
        models = {"base": train_base_model(use_cache=use_cache)[0],
                  "rlvr": train_rlvr(use_cache=use_cache)[0]}
        with one_thread():
            for name, model in models.items():
                gen = torch.Generator().manual_seed(seed)
                samples = sample_responses(model, prompts, n, generator=gen)
                flat_p = [p for p, group in zip(prompts, samples) for _ in group]
                flat_r = [r for group in samples for r in group]
                orm_s = outcome_scores(orm, flat_p, flat_r)
                prm_s = process_scores(prm, flat_p, flat_r)
                rows = {k: [] for k in ("answer", "correct", "length", "orm", "prm")}
                for q, (p, group) in enumerate(zip(problems, samples)):
                    at = slice(q * n, (q + 1) * n)
                    rows["answer"].append([_parse(r)[1] for r in group])
                    rows["correct"].append([verify(p["digits"], r) == 1.0 for r in group])
                    rows["length"].append([len(r) - (r[-1] == TOKENIZER.EOS) for r in group])
                    rows["orm"].append([round(v, 5) for v in orm_s[at]])
                    rows["prm"].append([round(v, 5) for v in prm_s[at]])
                out[name] = rows
        return out

    if use_cache:
        from fmref.zoo import cached

        return cached("sums-test-time", settings, run)
    return run()
