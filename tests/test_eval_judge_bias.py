"""Tests of model-graded evaluation in fmref.eval.judge: swap symmetry, position and
verbosity bias recovered from a judge with planted biases, agreement with reference labels
(Cohen's kappa checked against scikit-learn), the mitigations, and bad input."""

import math

import pytest

from fmref.eval.bootstrap import bootstrap_ci
from fmref.eval.judge import (
    SimulatedJudge,
    agreement,
    grade_single,
    judge_items,
    judge_pair,
    judge_pairs,
    pad_answer,
    position_bias,
    verbosity_bias,
)

ITEMS, LABELS = judge_items(1000, seed=0)
MIRROR = {"a": "b", "b": "a", "tie": "tie"}


@pytest.mark.parametrize("judge", [SimulatedJudge(), SimulatedJudge(position=1.0),
                                   lambda q, x, y: "first"])
def test_swap_and_keep_consistent_is_symmetric_for_any_judge(judge):
    for question, a, b, _ in ITEMS[:300]:
        win_ab, ok_ab = judge_pair(judge, question, a, b)
        win_ba, ok_ba = judge_pair(judge, question, b, a)
        assert win_ba == MIRROR[win_ab] and ok_ab == ok_ba


def test_an_order_blind_judge_shows_no_position_bias():
    judge = SimulatedJudge(position=0.0)
    assert position_bias(judge, ITEMS) == {"first_rate": 0.5, "consistency": 1.0,
                                           "decisive": pytest.approx(0.65, abs=0.03)}
    single = judge_pairs(judge, [item[:3] for item in ITEMS], swap=False)
    swapped = judge_pairs(judge, [item[:3] for item in ITEMS], swap=True)
    assert single["winners"] == swapped["winners"]  # nothing for swapping to remove


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_position_bias_recovers_the_planted_rate(p):
    # Unsure with probability 1 - s (s = 0.6), the judge picks the first answer with
    # probability p: decisive first wins are s/2 + (1 - s) p out of s + (1 - s) p
    # (ignoring the rare verbosity verdicts, switched off here).
    s = 0.6
    expected = (s / 2 + (1 - s) * p) / (s + (1 - s) * p)
    out = position_bias(SimulatedJudge(skill=s, position=p, verbosity=0.0), ITEMS)
    assert out["first_rate"] == pytest.approx(expected, abs=0.03)
    # unsure, the judge is consistent only if it follows position in neither order
    # (tie, tie); first-first names a and then b, first-tie names a and then nobody
    assert 1 - out["consistency"] == pytest.approx((1 - s) * (1 - (1 - p) ** 2), abs=0.04)


def test_verbosity_bias_recovers_the_planted_rate_and_skill_removes_it():
    # padding the worse answer wins it the verdict when the judge is unsure (1 - s) and
    # follows length (v), in both orders since the length draw is per pair
    s, v = 0.6, 0.7
    out = verbosity_bias(SimulatedJudge(skill=s, position=0.0, verbosity=v), ITEMS, LABELS)
    assert out["worse_wins"] < 0.03
    assert out["worse_wins_padded"] == pytest.approx((1 - s) * v, abs=0.04)
    assert verbosity_bias(SimulatedJudge(skill=1.0), ITEMS, LABELS)["worse_wins_padded"] == 0.0
    assert verbosity_bias(SimulatedJudge(verbosity=0.0, position=0.0), ITEMS[:200],
                          LABELS[:200]) == {"worse_wins": 0.0, "worse_wins_padded": 0.0}


def test_reference_guided_grading_agrees_with_the_labels():
    judge = SimulatedJudge()
    plain = agreement(judge_pairs(judge, [i[:3] for i in ITEMS])["winners"], LABELS)
    guided = agreement(judge_pairs(judge, ITEMS)["winners"], LABELS)
    assert guided == {"agreement": 1.0, "low": 1.0, "high": 1.0, "kappa": 1.0}
    assert plain["high"] < 0.75 and plain["low"] < plain["agreement"] < plain["high"]


def test_agreement_kappa_matches_scikit_learn_and_interval_matches_bootstrap():
    from sklearn.metrics import cohen_kappa_score

    winners = judge_pairs(SimulatedJudge(), [i[:3] for i in ITEMS[:400]])["winners"]
    out = agreement(winners, LABELS[:400], seed=3)
    assert out["kappa"] == pytest.approx(cohen_kappa_score(winners, LABELS[:400]), abs=1e-12)
    ci = bootstrap_ci([float(w == lab) for w, lab in zip(winners, LABELS[:400])], seed=3)
    assert (out["agreement"], out["low"], out["high"]) == tuple(ci)


def test_grade_single_with_and_without_reference():
    assert grade_single(lambda q, a: 7, "q", "a") == 7
    assert grade_single(lambda q, a, r: 1 + 4 * (r in a), "q", "42!", reference="42",
                        scale=(1, 5)) == 5
    for bad in (0, 11, 5.0, True, "7"):
        with pytest.raises(ValueError, match=r"int score in \[1, 10\]"):
            grade_single(lambda q, a, bad=bad: bad, "q", "a")
    for scale in ((5, 5), (1,), [1, 10], (1.0, 10)):
        with pytest.raises(ValueError, match="scale must be a pair of ints"):
            grade_single(lambda q, a: 1, "q", "a", scale=scale)


def test_pad_answer_adds_words_not_digits():
    padded = pad_answer("The answer is 611.", 3)
    assert padded.startswith("The answer is 611. ") and len(padded) > 5 * len("611")
    assert [t for t in padded.split() if any(c.isdigit() for c in t)] == ["611.", "611."]
    assert pad_answer("x", 0) == "x"


def test_judge_items_are_deterministic_and_labelled():
    items, labels = judge_items(50, seed=4)
    assert (items, labels) == judge_items(50, seed=4)
    for (question, a, b, ref), lab in zip(items, labels):
        better = a if lab == "a" else b
        assert better == f"The answer is {ref}." and a != b
        assert str(eval(question[8:-1])) == ref  # the question's arithmetic, checked


def test_simulated_judge_edge_cases():
    judge = SimulatedJudge(skill=1.0, position=0.0, verbosity=0.0)
    assert judge("Explain gravity.", "Mass attracts.", "It is 4.") == "tie"  # cannot check
    assert judge("What is 2 + 2?", "I do not know.", "The answer is 4.") == "tie"
    assert SimulatedJudge(skill=0, position=0, verbosity=1)("q", "long answer", "short") == "first"


def test_bad_input_is_refused():
    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="must be a probability in"):
            SimulatedJudge(position=bad)
    with pytest.raises(ValueError, match="items must hold at least one"):
        position_bias(SimulatedJudge(), [])
    with pytest.raises(ValueError, match="items must be tuples of at least 3"):
        position_bias(SimulatedJudge(), [("q", "a")])
    with pytest.raises(ValueError, match="labels must hold 'a' or 'b'"):
        verbosity_bias(SimulatedJudge(), ITEMS[:2], ["a"])
    with pytest.raises(ValueError, match="labels must hold 'a' or 'b'"):
        verbosity_bias(SimulatedJudge(), ITEMS[:1], ["tie"])
    with pytest.raises(ValueError, match="sentences must be a non-negative int"):
        pad_answer("x", -1)
    with pytest.raises(ValueError, match="n must be a positive int"):
        judge_items(0)
    with pytest.raises(ValueError, match="reference must hold one label per prediction"):
        agreement(["a"], ["a", "b"])
    assert math.isnan(position_bias(lambda q, x, y: "tie", ITEMS[:3])["first_rate"])
