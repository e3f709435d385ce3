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


# ---- DeepSeek-V3: sigmoid routing, group-limited top-k, shared experts, bias balancing ----


def _hf_moe_config(**kw):
    import transformers

    base = dict(hidden_size=16, moe_intermediate_size=8, n_routed_experts=8, num_experts_per_tok=3,
                n_group=4, topk_group=2, n_shared_experts=2, routed_scaling_factor=2.5)  # fmt: skip
    return transformers.DeepseekV3Config(**{**base, **kw})


@pytest.mark.parametrize("n_group, topk_group, norm", [(4, 2, True), (1, 1, True), (2, 1, False)])
def test_sigmoid_gating_equals_transformers_router(n_group, topk_group, norm):
    # transformers' DeepseekV3TopkRouter is the reference for DeepSeek-V3's routing.
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3TopkRouter

    from fmref.nn.moe import sigmoid_gating

    cfg = _hf_moe_config(n_group=n_group, topk_group=topk_group, norm_topk_prob=norm)
    router = DeepseekV3TopkRouter(cfg)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        router.weight.copy_(torch.randn(8, 16, generator=g))
        router.e_score_correction_bias.copy_(0.3 * torch.randn(8, generator=g))
    x = torch.randn(50, 16, generator=g)
    logits, hf_gates, hf_index = router(x)
    scores, gates, index = sigmoid_gating(
        logits, 3, router.e_score_correction_bias, n_group, topk_group, norm, 2.5
    )
    # same experts (as sets: both top-k are unsorted) and the same gate per expert
    order, hf_order = index.argsort(-1), hf_index.argsort(-1)
    assert torch.equal(index.gather(1, order), hf_index.gather(1, hf_order))
    torch.testing.assert_close(gates.gather(1, order), hf_gates.gather(1, hf_order))
    torch.testing.assert_close(scores, logits.sigmoid())
    if topk_group < n_group:  # every token's experts lie in at most topk_group groups
        groups = index // (8 // n_group)
        assert max(len(set(row)) for row in groups.tolist()) <= topk_group


def test_deepseek_moe_equals_transformers_moe():
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3MoE

    from fmref.nn.moe import DeepSeekMoE

    cfg = _hf_moe_config()
    hf = DeepseekV3MoE(cfg).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in hf.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
        hf.gate.e_score_correction_bias.copy_(0.2 * torch.randn(8, generator=g))
    ours = DeepSeekMoE(16, 8, 8, 3, n_shared_experts=2, n_group=4, topk_group=2,
                       routed_scaling_factor=2.5).eval()  # fmt: skip
    state = {
        "gate.weight": hf.gate.weight,
        "e_score_correction_bias": hf.gate.e_score_correction_bias,
    }
    for w, name in (("w1", "gate_proj"), ("w3", "up_proj"), ("w2", "down_proj")):
        state[f"shared_experts.{w}.weight"] = getattr(hf.shared_experts, name).weight
    for e in range(8):
        state[f"experts.{e}.w1.weight"] = hf.experts.gate_up_proj[e, :8]
        state[f"experts.{e}.w3.weight"] = hf.experts.gate_up_proj[e, 8:]
        state[f"experts.{e}.w2.weight"] = hf.experts.down_proj[e]
    ours.load_state_dict(state)
    x = torch.randn(2, 9, 16, generator=g)
    with torch.no_grad():
        y, info = ours(x)
        torch.testing.assert_close(y, hf(x), atol=1e-5, rtol=0)
    assert int(info.tokens_per_expert.sum()) == 18 * 3


def test_bias_update_rule_and_it_balances_a_skewed_router():
    from fmref.nn.moe import DeepSeekMoE, update_routing_bias

    # DeepSeek-V3 sec. 2.1.2: overloaded experts lose gamma, underloaded ones gain it.
    bias = update_routing_bias(torch.zeros(3), torch.tensor([5.0, 1.0, 3.0]), update_rate=0.1)
    torch.testing.assert_close(bias, torch.tensor([-0.1, 0.1, 0.0]))
    torch.manual_seed(0)
    moe = DeepSeekMoE(8, 4, n_routed_experts=8, top_k=2, n_shared_experts=0).train()
    with torch.no_grad():
        moe.gate.weight.normal_(0, 1)
        moe.gate.weight[0] += 2.0  # experts 0 and 1 favoured by every token
        moe.gate.weight[1] += 2.0
    x = torch.randn(256, 8) + 1.0

    def max_load():
        with torch.no_grad():
            return int(moe(x)[1].tokens_per_expert.max())

    before = max_load()
    moe.tokens_per_expert.zero_()
    for _ in range(60):
        with torch.no_grad():
            moe(x)
        moe.update_bias(update_rate=0.05)
    after = max_load()
    assert before > 1.5 * 512 / 8 and after < 0.6 * before  # mean load is 64


@pytest.mark.parametrize(
    "kw, name",
    [(dict(top_k=9), "top_k"), (dict(n_group=3), "n_group"), (dict(topk_group=5), "topk_group"),
     (dict(n_group=4, topk_group=1, top_k=3), "top_k")],
)  # fmt: skip
def test_deepseek_routing_bad_arguments_name_them(kw, name):
    from fmref.nn.moe import DeepSeekMoE, sigmoid_gating

    args = {**dict(top_k=2, n_group=4, topk_group=2), **kw}
    with pytest.raises(ValueError, match=name):
        DeepSeekMoE(8, 4, 8, **args)
    with pytest.raises(ValueError, match=name):
        sigmoid_gating(torch.randn(3, 8), **args)
