"""Multiple-choice log-likelihood scoring and the LLM-as-judge protocol."""

import math

import pytest
import torch

from fmref.eval.judge import cohen_kappa, judge_pair, judge_pairs
from fmref.eval.multiple_choice import (
    continuation_logprob,
    multiple_choice_accuracy,
    score_choices,
)


def _tiny_gpt():
    from fmref.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, block_size=32, n_layer=1, n_head=2, n_embd=16)).eval()


def test_continuation_logprob_equals_the_chain_rule_token_by_token():
    model = _tiny_gpt()
    context, answer = [3, 4, 5], [6, 7, 8]
    total = 0.0
    with torch.no_grad():
        for i, tok in enumerate(answer):
            prefix = torch.tensor([context + answer[:i]])
            logp = torch.log_softmax(model(prefix)[0, -1].double(), -1)
            total += float(logp[tok])
    assert continuation_logprob(model, context, answer) == pytest.approx(total, abs=1e-5)


def test_length_normalisation_changes_the_choice():
    encode = lambda s: [ord(c) % 50 for c in s]  # noqa: E731
    logits = torch.zeros(50)
    logits[ord("a") % 50] = 3.0  # the model likes "a"

    def model(idx):
        return logits.expand(*idx.shape, 50)

    choices = ["b", "aaaa"]  # a short unlikely answer vs a long likely one
    summed = score_choices(model, encode, "q", choices, "sum")
    per_token = score_choices(model, encode, "q", choices, "token")
    per_char = score_choices(model, encode, "q", choices, "char")
    assert summed[0] > summed[1] and per_token[1] > per_token[0]
    assert per_char == per_token  # one token per character here
    items = [("q", choices, 1)]
    assert multiple_choice_accuracy(model, encode, items, "sum") == 0.0
    assert multiple_choice_accuracy(model, encode, items, "token") == 1.0


def test_multiple_choice_rejects_bad_input():
    uniform = lambda idx: torch.zeros(*idx.shape, 5)  # noqa: E731
    encode = lambda s: [1] * len(s)  # noqa: E731
    with pytest.raises(ValueError, match="context_ids and continuation_ids"):
        continuation_logprob(uniform, [], [1])
    with pytest.raises(ValueError, match="normalize must be one of"):
        score_choices(uniform, encode, "q", ["a"], normalize="mean")
    with pytest.raises(ValueError, match="choices must hold at least one"):
        score_choices(uniform, encode, "q", [])
    with pytest.raises(ValueError, match="items must hold at least one"):
        multiple_choice_accuracy(uniform, encode, [])
    with pytest.raises(ValueError, match="answer index must be in"):
        multiple_choice_accuracy(uniform, encode, [("q", ["a"], 1)])
    assert math.isclose(continuation_logprob(uniform, [1], [2]), math.log(1 / 5))


def test_position_swap_cancels_a_position_biased_judge():
    def biased(q, first, second):  # prefers longer answers, but says "first" when close
        if abs(len(first) - len(second)) <= 2:
            return "first"
        return "first" if len(first) > len(second) else "second"

    items = [("q", "long answer here", "short"), ("q", "abc", "abd"), ("q", "x", "a long one")]
    out = judge_pairs(biased, items)
    assert out["winners"] == ["a", "tie", "b"]
    assert out["consistency"] == pytest.approx(2 / 3)
    assert out["win_rate_a"] == out["win_rate_b"] == out["tie_rate"] == pytest.approx(1 / 3)
    unswapped = judge_pairs(biased, items, swap=False)
    assert unswapped["winners"] == ["a", "a", "b"] and unswapped["consistency"] == 1.0
    assert judge_pair(lambda q, x, y: "tie", "q", "a", "b") == ("tie", True)


def test_cohen_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    a = ["a", "b", "tie", "a", "a", "b", "b", "tie", "a", "b"]
    b = ["a", "b", "a", "a", "b", "b", "tie", "tie", "a", "a"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert cohen_kappa(["x"] * 3, ["x"] * 3) == 1.0


def test_judge_rejects_bad_input():
    with pytest.raises(ValueError, match="judge must return one of"):
        judge_pair(lambda q, x, y: "A", "q", "a", "b")
    with pytest.raises(ValueError, match="items must hold at least one"):
        judge_pairs(lambda q, x, y: "tie", [])
    with pytest.raises(ValueError, match="labels_1 and labels_2"):
        cohen_kappa(["a"], [])
