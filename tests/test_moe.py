"""Tests for fmref.nn.moe: routing, gating, capacity and the Switch balancing loss."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.nn.moe import MoE, expert_capacity, load_balancing_loss, top_k_gating


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), e=st.integers(1, 9), data=st.data())
def test_top_k_gates_sum_to_one_and_pick_the_argmax_experts(n, e, data):
    k = data.draw(st.integers(1, e))
    logits = torch.randn(n, e, generator=torch.Generator().manual_seed(n * 31 + e))
    probs, gates, index = top_k_gating(logits, k)
    torch.testing.assert_close(gates.sum(-1), torch.ones(n))
    assert (index[:, 0] == logits.argmax(-1)).all()
    # Mixtral's formulation: softmax over the top-k logits gives the same gates.
    torch.testing.assert_close(gates, torch.softmax(logits.gather(-1, index), dim=-1))
    torch.testing.assert_close(probs.sum(-1), torch.ones(n))


def test_moe_output_equals_gate_weighted_sum_of_chosen_experts():
    torch.manual_seed(0)
    moe = MoE(6, 12, n_experts=4, top_k=2)
    x = torch.randn(7, 6)
    y, info = moe(x)
    for t in range(7):
        ref = sum(
            info.gates[t, s] * moe.experts[int(info.expert_index[t, s])](x[t]) for s in range(2)
        )
        torch.testing.assert_close(y[t], ref)
    assert info.tokens_per_expert.sum().item() == 14 and info.dropped == 0


def test_top_1_with_one_expert_is_a_dense_mlp():
    torch.manual_seed(0)
    moe = MoE(4, 8, n_experts=1, top_k=1)
    x = torch.randn(3, 5, 4)
    y, info = moe(x)
    torch.testing.assert_close(y, moe.experts[0](x))
    assert info.aux_loss.item() == pytest.approx(1.0)


def test_balancing_loss_is_one_for_uniform_router_and_n_experts_when_collapsed():
    # Fedus et al. 2022, sec. 2.2: the loss is minimised (=1) under uniform routing.
    n, e = 16, 4
    uniform = torch.full((n, e), 1 / e)
    mask = torch.eye(e).repeat(n // e, 1)
    assert load_balancing_loss(uniform, mask).item() == pytest.approx(1.0)
    # Everything on expert 0 with probability 1: E * 1 * 1 = E.
    collapsed = torch.zeros(n, e)
    collapsed[:, 0] = 1
    assert load_balancing_loss(collapsed, collapsed).item() == pytest.approx(e)
    # (N, k, E) one-hot input is accepted; top-2 uniform is still 1.
    one_hot = torch.stack(
        [torch.eye(e).repeat(n // e, 1), torch.eye(e).roll(1, 0).repeat(n // e, 1)], dim=1
    )
    assert load_balancing_loss(uniform, one_hot).item() == pytest.approx(1.0)


@pytest.mark.parametrize("top_k", [1, 2])
def test_balancing_loss_matches_transformers_mixtral_up_to_the_top_k_factor(top_k):
    # transformers' Mixtral loss counts f_i per token (sum f_i = k);
    # ours divides by k (sum f_i = 1).
    from transformers.models.mixtral import modeling_mixtral as mixtral
    torch.manual_seed(0)
    logits = torch.randn(40, 8)
    probs, _, index = top_k_gating(logits, top_k)
    mask = torch.nn.functional.one_hot(index, 8).sum(1)
    theirs = mixtral.load_balancing_loss_func((logits,), num_experts=8, top_k=top_k)
    torch.testing.assert_close(load_balancing_loss(probs, mask) * top_k, theirs)


def test_balancing_loss_gradient_pushes_towards_balance():
    torch.manual_seed(0)
    moe = MoE(8, 8, n_experts=4, top_k=1)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0] = 1.0  # skew towards expert 0
    x = torch.rand(64, 8)
    opt = torch.optim.SGD(moe.router.parameters(), lr=1.0)
    before = moe(x)[1].aux_loss.item()
    for _ in range(50):
        opt.zero_grad()
        moe(x)[1].aux_loss.backward()
        opt.step()
    assert moe(x)[1].aux_loss.item() < before


def test_capacity_drops_overflow_tokens_in_order():
    torch.manual_seed(0)
    moe = MoE(4, 8, n_experts=2, top_k=1, capacity_factor=1.0)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0, 0] = 10.0  # every token with x[0] > 0 prefers expert 0
    x = torch.randn(10, 4).abs()
    y, info = moe(x)
    cap = expert_capacity(10, 2, 1, 1.0)  # 5
    assert info.tokens_per_expert.tolist() == [cap, 0]
    assert info.dropped == 10 - cap
    assert (y[cap:] == 0).all() and (y[:cap] != 0).any()  # the first 5 tokens won the slots


def test_capacity_serves_first_choices_before_second_choices():
    moe = MoE(2, 4, n_experts=2, top_k=2, capacity_factor=0.5)  # capacity ceil(0.5*4*2/2) = 2
    with torch.no_grad():
        moe.router.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    _, info = moe(x)
    assert info.tokens_per_expert.tolist() == [2, 2]
    # every token keeps its first choice; all four second choices are dropped
    assert info.dropped == 4
    assert info.expert_mask.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]


def test_expert_capacity_golden():
    # Switch Transformer, sec. 2.2: capacity = tokens per batch / experts * capacity factor.
    assert expert_capacity(1024, 8, 1, 1.0) == 128
    assert expert_capacity(1024, 8, 1, 1.25) == 160
    assert expert_capacity(10, 3) == 4


def test_bad_input_raises_naming_the_argument():
    with pytest.raises(ValueError, match="top_k"):
        MoE(4, 8, n_experts=2, top_k=3)
    with pytest.raises(ValueError, match="top_k"):
        top_k_gating(torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match="capacity_factor"):
        MoE(4, 8, n_experts=2, capacity_factor=0)
    with pytest.raises(ValueError, match="capacity_factor"):
        expert_capacity(8, 2, capacity_factor=-1)
    with pytest.raises(ValueError, match="expert_mask"):
        load_balancing_loss(torch.rand(4, 3), torch.ones(4, 2))
