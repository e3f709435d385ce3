"""Reasoning RL and test-time compute: the sums task and its rule-based reward, GRPO's
loss against the paper's formula, the GRPO run's reward rising, the outcome and process
reward models, and the best-of-N and voting estimators against brute force."""

import itertools
import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.align.grpo import grpo_loss
from fmref.align.prm import train_reward_models
from fmref.align.rlvr import response_logprobs, sample_responses, train_rlvr
from fmref.align.verifiable import (
    TOKENIZER,
    is_held_out,
    step_labels,
    sum_problem,
    train_base_model,
    verify,
    worked_response,
)
from fmref.eval.passk import pass_at_k
from fmref.eval.testtime import best_of_n, best_of_n_accuracy, vote_accuracy
from fmref.prompting.consistency import majority_vote

digits = st.lists(st.integers(1, 9), min_size=2, max_size=4)


# ----------------------------------------------------------------- the task and its reward
@settings(max_examples=60, deadline=None)
@given(digits, st.integers(0, 3), st.sampled_from([-2, -1, 1, 2]))
def test_worked_responses_verify_and_label_each_step(ds, slip, by):
    right = TOKENIZER.encode(worked_response(ds))
    assert TOKENIZER.decode(right) == worked_response(ds)  # the tokenizer round-trips
    assert verify(ds, right + [TOKENIZER.EOS]) == 1.0
    assert [label for _, label in step_labels(ds, right)] == [1] * len(ds)
    slip = slip % (len(ds) - 1)
    wrong = TOKENIZER.encode(worked_response(ds, slip_at=slip, slip_by=by))
    assert verify(ds, wrong) == 0.0
    labels = [label for _, label in step_labels(ds, wrong)]
    # only the slipped step and the answer are wrong: later steps carry the total on correctly
    assert labels == [int(t != slip) for t in range(len(ds) - 1)] + [0]
    for pos, _ in step_labels(ds, wrong)[:-1]:
        assert wrong[pos] == TOKENIZER.COMMA


@pytest.mark.parametrize("text, reward", [
    ("answer 3", 1.0), ("answer 13", 0.0), ("4+7=11, 1+2=3, answer 3", 1.0),
    ("4+7=11, 1+2=3", 0.0),  # no answer
    ("answer 3, answer 3", 0.0), ("answer answer 3", 0.0), ("3", 0.0),
    ("4+7=99, answer 3", 1.0),  # only the outcome counts: a wrong step is not penalised
])
def test_verify_reads_only_a_final_answer_in_the_format(text, reward):
    ids = TOKENIZER.encode(text)
    assert verify([4, 7, 2], ids) == reward
    assert verify([4, 7, 2], ids + [TOKENIZER.EOS, 5, 6]) == reward  # after <eos>: ignored


def test_held_out_split_is_a_ninth_and_disjoint():
    rng = random.Random(0)
    train = {tuple(sum_problem(rng)["digits"]) for _ in range(400)}
    held = {tuple(sum_problem(rng, held_out=True)["digits"]) for _ in range(400)}
    assert not train & held and all(is_held_out(d) for d in held)
    every = list(itertools.product(range(1, 10), repeat=3))
    assert sum(map(is_held_out, every)) / len(every) == pytest.approx(1 / 9)  # ends in 5
    with pytest.raises(ValueError, match="max_terms"):
        sum_problem(rng, max_terms=12)
    with pytest.raises(ValueError, match="text"):
        TOKENIZER.encode("4*7=")


# ----------------------------------------------------------------------- GRPO's loss
def _grpo_loop(logp, logp_old, logp_ref, adv, mask, eps, beta):
    """DeepSeekMath's Equation 3, written as its sums (k3 KL, 1/|o_i| per answer)."""
    total = 0.0
    for i in range(len(logp)):
        terms = []
        for t in range(len(logp[0])):
            if not mask[i][t]:
                continue
            ratio = math.exp(logp[i][t] - logp_old[i][t])
            clipped = min(max(ratio, 1 - eps), 1 + eps)
            surrogate = min(ratio * adv[i], clipped * adv[i])
            r = math.exp(logp_ref[i][t] - logp[i][t])
            terms.append(surrogate - beta * (r - math.log(r) - 1))
        total += sum(terms) / len(terms)
    return -total / len(logp)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 0.5), st.floats(0.0, 0.5))
def test_grpo_loss_matches_the_paper_formula(seed, eps, beta):
    g = torch.Generator().manual_seed(seed)
    N, T = 6, 5
    logp = -torch.rand(N, T, generator=g) * 3
    logp_old = logp + 0.4 * torch.randn(N, T, generator=g)  # ratios beyond the clip too
    logp_ref = logp + 0.5 * torch.randn(N, T, generator=g)
    adv = torch.randn(N, generator=g)
    mask = torch.rand(N, T, generator=g) < 0.7
    mask[:, 0] = True
    got = grpo_loss(logp, logp_old, adv, mask, logp_ref, clip_eps=eps, kl_coef=beta).item()
    want = _grpo_loop(logp.tolist(), logp_old.tolist(), logp_ref.tolist(), adv.tolist(),
                      mask.tolist(), eps, beta)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_grpo_loss_bad_input():
    logp, mask = torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="mask"):
        grpo_loss(logp, logp, torch.zeros(2), torch.zeros(2, 3, dtype=torch.bool), kl_coef=0)
    with pytest.raises(ValueError, match="logp_ref"):
        grpo_loss(logp, logp, torch.zeros(2), mask, kl_coef=0.1)
    with pytest.raises(ValueError, match="kl_coef"):
        grpo_loss(logp, logp, torch.zeros(2), mask, logp, kl_coef=-1.0)
    with pytest.raises(ValueError, match="advantages"):
        grpo_loss(logp, logp, torch.zeros(3), mask, kl_coef=0)


# ------------------------------------------------------------------ the GRPO run
@pytest.fixture(scope="module")
def models():
    base, _ = train_base_model()
    policy, history = train_rlvr()
    return base, policy, history


def _sampled_accuracy(model, problems, n):
    gen = torch.Generator().manual_seed(7)
    out = sample_responses(model, [p["prompt"] for p in problems], n, generator=gen)
    return [verify(p["digits"], r) for p, group in zip(problems, out) for r in group]


def test_grpo_raises_the_reward_on_held_out_questions(models):
    # Fresh samples (temperature 1) on 150 held-out questions, 4 each, from the base model
    # and from the seed-fixed GRPO run of the zoo: the mean reward must rise by more than
    # 3 standard errors of the difference (600 samples a side; a one-sided z-test at
    # p < 0.0015, and the samples of one question are correlated, so the margin is loose).
    base, policy, history = models
    rng = random.Random(99)
    problems = [sum_problem(rng, held_out=True) for _ in range(150)]
    before, after = _sampled_accuracy(base, problems, 4), _sampled_accuracy(policy, problems, 4)
    p0, p1 = sum(before) / len(before), sum(after) / len(after)
    se = math.sqrt(p0 * (1 - p0) / len(before) + p1 * (1 - p1) / len(after))
    assert p1 - p0 > 3 * se, (p0, p1, se)
    # the run's own record agrees: its greedy held-out accuracy ends above where it began
    assert history["heldout_accuracy"][-1] > history["heldout_accuracy"][0]
    assert len(history["reward"]) == len(history["length"]) == len(history["step"])


def test_response_logprobs_equal_the_models_own_next_token_distribution(models):
    base, _, _ = models
    prompt, response = TOKENIZER.encode("4+7+2="), TOKENIZER.encode("answer 3") + [0]
    logp, mask = response_logprobs(base, [prompt, prompt[:2]], [response, response[:1]])
    logits = base(torch.tensor([prompt + response]))[0]  # (T, V)
    want = torch.log_softmax(logits, -1)[len(prompt) - 1:-1].gather(
        1, torch.tensor(response)[:, None])[:, 0]
    torch.testing.assert_close(logp[0], want, rtol=1e-5, atol=1e-5)
    assert mask.tolist() == [[True] * 3, [True, False, False]]


# -------------------------------------------------------------------- reward models
def test_reward_models_rank_right_answers_above_wrong_ones():
    # AUC of each model's score on base-model answers to held-out questions, which no model
    # trained on: the chance that a right answer outscores a wrong one (0.5 is chance)
    _, _, history = train_reward_models()
    assert history["orm_auc"] > 0.75 and history["prm_auc"] > 0.75, history
    assert 0.2 < history["right"] < 0.8  # both kinds of answer are there to rank


# ---------------------------------------------------------------- test-time estimators
def _brute_best_of(correct, scores, k):
    """Average over every k-subset, ties broken uniformly among the top-scored samples."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(correct)), k))
    for sub in subsets:
        top = max(scores[i] for i in sub)
        tied = [i for i in sub if scores[i] == top]
        total += sum(correct[i] for i in tied) / len(tied)
    return total / len(subsets)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=7),
       st.integers(1, 7))
def test_best_of_n_accuracy_equals_brute_force_and_pass_at_k(rows, k):
    correct, scores = [c for c, _ in rows], [float(s) for _, s in rows]
    k = min(k, len(rows))
    assert best_of_n_accuracy(correct, scores, k) == pytest.approx(
        _brute_best_of(correct, scores, k), abs=1e-12)
    # a perfect verifier is pass@k (Chen et al. 2021's estimator)
    assert best_of_n_accuracy(correct, correct, k) == pytest.approx(
        pass_at_k(len(rows), sum(correct), k), abs=1e-12)


def test_vote_accuracy_is_within_three_standard_errors_of_the_exact_expectation():
    answers, weights = ["a", "b", "a", "c", None, "b", "b"], [0.9, 0.2, 0.8, 0.5, 0.1, 0.1, 0.3]
    for w in (None, weights):
        ww = w or [1.0] * len(answers)
        perms = list(itertools.permutations(range(len(answers)), 3))  # order breaks ties
        exact = sum(
            any(answers[i] for i in p)
            and majority_vote([answers[i] for i in p], [ww[i] for i in p])[0] == "a"
            for p in perms
        ) / len(perms)
        got = vote_accuracy(answers, "a", 3, weights=w, draws=4000, seed=1)
        assert abs(got - exact) < 3 * math.sqrt(exact * (1 - exact) / 4000)


def test_selection_rules_and_bad_input():
    assert best_of_n(["x", "y", "z"], [0.5, 0.5, 0.1]) == "x"  # a tie: the first
    assert majority_vote(["a", "b", "a"], weights=[0.1, 1.0, 0.1]) == ("b", pytest.approx(0.8333,
                                                                                         abs=1e-4))
    with pytest.raises(ValueError, match="answers"):
        best_of_n([], [])
    with pytest.raises(ValueError, match="scores"):
        best_of_n(["a"], [0.1, 0.2])
    with pytest.raises(ValueError, match="k"):
        best_of_n_accuracy([True], [1.0], 0)  # N < 1
    with pytest.raises(ValueError, match="k"):
        vote_accuracy(["a"], "a", 2)  # N above the samples
    with pytest.raises(ValueError, match="weights"):
        majority_vote(["a"], weights=[-1.0])
    assert vote_accuracy([None, None], "a", 2) == 0.0  # no answer at all: wrong
