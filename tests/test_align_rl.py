"""Tests of fmref.align's preference and RL objectives: Bradley–Terry, GAE, PPO-clip,
the KL estimators, DPO and GRPO, each against hand-computed values and an
independently written reference formula, plus bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.align.dpo import dpo_loss
from fmref.align.grpo import GRPO_EPS, grpo_advantages
from fmref.align.ppo import gae, kl_penalty, ppo_clip_loss
from fmref.align.reward import bradley_terry_loss

small = st.floats(-5, 5, allow_nan=False, width=32)


def _log1pexp(x):
    return math.log1p(math.exp(x))  # -log sigmoid(-x)


# ----------------------------------------------------------------- Bradley–Terry
def test_bradley_terry_hand_computed():
    # r_w - r_l = 1 and -2:  -log sigma(1) = log(1 + e^-1) = 0.3132617,
    # -log sigma(-2) = log(1 + e^2) = 2.1269280; mean = 1.2200948.
    loss = bradley_terry_loss(torch.tensor([1.5, 0.0]), torch.tensor([0.5, 2.0]))
    assert loss.item() == pytest.approx((0.3132617 + 2.1269280) / 2, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(small, small), min_size=1, max_size=8))
def test_bradley_terry_is_logistic_regression_on_the_difference(pairs):
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    # torch's binary cross-entropy with label 1 on the logit r_w - r_l
    ref = F.binary_cross_entropy_with_logits(a - b, torch.ones_like(a))
    assert bradley_terry_loss(a, b).item() == pytest.approx(ref.item(), abs=1e-5)
    # swapping the labels: L(a, b) - L(b, a) = mean(b - a), since log sigma(d) - log sigma(-d) = d
    swap = bradley_terry_loss(a, b) - bradley_terry_loss(b, a)
    assert swap.item() == pytest.approx((b - a).mean().item(), abs=1e-4)
    # only differences matter
    shifted = bradley_terry_loss(a + 3.0, b + 3.0)
    assert shifted.item() == pytest.approx(bradley_terry_loss(a, b).item(), abs=1e-5)


def test_bradley_terry_bad_input():
    with pytest.raises(ValueError, match="reward_rejected"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="reward_rejected"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(TypeError, match="reward_chosen"):
        bradley_terry_loss([1.0], torch.zeros(1))
    with pytest.raises(TypeError, match="reward_rejected"):
        bradley_terry_loss(torch.zeros(1), torch.zeros(1, dtype=torch.long))


# ----------------------------------------------------------------- GAE
def _gae_loop(rewards, values, gamma, lam):
    """Reference: the backward recursion A_t = delta_t + gamma lam A_{t+1} of the paper."""
    T = len(rewards)
    adv = [0.0] * T
    running = 0.0
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * values[t + 1] - values[t]
        running = delta + gamma * lam * running
        adv[t] = running
    return adv, [a + v for a, v in zip(adv, values[:-1])]


def test_gae_hand_computed():
    # gamma = 0.9, lam = 0.8 (gamma lam = 0.72):
    # delta_0 = 1 + 0.9 * 1.0 - 0.5 = 1.4; delta_1 = 0 + 0.9 * 0 - 1.0 = -1.0;
    # delta_2 = 2 + 0.9 * 0.3 - 0 = 2.27
    # A_2 = 2.27; A_1 = -1 + 0.72 * 2.27 = 0.6344; A_0 = 1.4 + 0.72 * 0.6344 = 1.856768
    adv, ret = gae(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.5, 1.0, 0.0, 0.3]), 0.9, 0.8)
    assert adv.tolist() == pytest.approx([1.856768, 0.6344, 2.27], abs=1e-5)
    assert ret.tolist() == pytest.approx([2.356768, 1.6344, 2.27], abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(1, 12),
    gamma=st.floats(0, 1),
    lam=st.floats(0, 1),
    seed=st.integers(0, 10_000),
)
def test_gae_matches_the_backward_loop(T, gamma, lam, seed):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(3, T, generator=g, dtype=torch.float64)
    values = torch.randn(3, T + 1, generator=g, dtype=torch.float64)
    adv, ret = gae(rewards, values, gamma, lam)
    for b in range(3):
        ref_adv, ref_ret = _gae_loop(rewards[b].tolist(), values[b].tolist(), gamma, lam)
        np.testing.assert_allclose(adv[b].numpy(), ref_adv, atol=1e-9)
        np.testing.assert_allclose(ret[b].numpy(), ref_ret, atol=1e-9)


def test_gae_limits_are_td_error_and_monte_carlo_return():
    g = torch.Generator().manual_seed(0)
    r, v = torch.randn(5, generator=g), torch.randn(6, generator=g)
    adv0, _ = gae(r, v, gamma=0.9, lam=0.0)
    torch.testing.assert_close(adv0, r + 0.9 * v[1:] - v[:-1])
    _, ret1 = gae(r, v, gamma=0.9, lam=1.0)  # returns = discounted reward-to-go + bootstrap
    mc = [sum(0.9**k * r[t + k] for k in range(5 - t)) + 0.9 ** (5 - t) * v[5] for t in range(5)]
    torch.testing.assert_close(ret1, torch.stack(mc))


def test_gae_detaches_its_inputs():
    v = torch.zeros(4, requires_grad=True)
    adv, ret = gae(torch.ones(3), v)
    assert not adv.requires_grad and not ret.requires_grad


def test_gae_bad_shapes_and_ranges():
    with pytest.raises(ValueError, match="values"):
        gae(torch.zeros(2, 5), torch.zeros(2, 5))  # needs T + 1 values
    with pytest.raises(ValueError, match="values"):
        gae(torch.zeros(2, 5), torch.zeros(3, 6))
    with pytest.raises(ValueError, match="rewards"):
        gae(torch.zeros(2, 0), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="gamma"):
        gae(torch.zeros(3), torch.zeros(4), gamma=1.5)
    with pytest.raises(ValueError, match="lam"):
        gae(torch.zeros(3), torch.zeros(4), lam=-0.1)
    with pytest.raises(TypeError, match="values"):
        gae(torch.zeros(3), [0.0] * 4)


# ----------------------------------------------------------------- PPO-clip
def _ppo_reference(logp_new, logp_old, adv, eps):
    """Schulman et al. Eq. 7, element by element in plain Python."""
    terms = []
    for n, o, a in zip(logp_new, logp_old, adv):
        rho = math.exp(n - o)
        terms.append(min(rho * a, max(min(rho, 1 + eps), 1 - eps) * a))
    return -sum(terms) / len(terms)


def test_ppo_clip_hand_computed():
    # ratios 1.5, 1.5, 0.5, 0.5 with advantages +1, -1, +1, -1 and eps = 0.2:
    # min(1.5, 1.2) = 1.2; min(-1.5, -1.2) = -1.5; min(0.5, 0.8) = 0.5; min(-0.5, -0.8) = -0.8
    # objective mean = (1.2 - 1.5 + 0.5 - 0.8) / 4 = -0.15, so the loss is 0.15
    new = torch.tensor([1.5, 1.5, 0.5, 0.5]).log()
    loss = ppo_clip_loss(new, torch.zeros(4), torch.tensor([1.0, -1.0, 1.0, -1.0]))
    assert loss.item() == pytest.approx(0.15, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(small, small, small), min_size=1, max_size=8),
    st.floats(0.01, 0.9),
)
def test_ppo_clip_matches_the_paper_formula(rows, eps):
    new, old, adv = (torch.tensor([r[i] / 5 for r in rows]) for i in range(3))
    ours = ppo_clip_loss(new, old, adv, clip_eps=eps).item()
    ref = _ppo_reference(new.tolist(), old.tolist(), adv.tolist(), eps)
    assert ours == pytest.approx(ref, rel=1e-4, abs=1e-5)


def test_ppo_clip_gradient_is_zero_only_beyond_the_clip_in_the_favoured_direction():
    cases = [  # (ratio, advantage, gradient is zero?)
        (1.5, 1.0, True),  # moved past 1 + eps where A > 0: no more incentive
        (1.1, 1.0, False),
        (0.5, 1.0, False),  # unfavoured direction: never clipped
        (0.5, -1.0, True),  # moved past 1 - eps where A < 0
        (1.5, -1.0, False),
    ]
    for rho, a, zero in cases:
        new = torch.tensor([math.log(rho)], requires_grad=True)
        ppo_clip_loss(new, torch.zeros(1), torch.tensor([a])).backward()
        assert (new.grad.item() == 0.0) == zero, (rho, a)


def test_ppo_clip_at_ratio_one_is_minus_mean_advantage():
    adv = torch.tensor([0.3, -1.2, 2.0])
    assert ppo_clip_loss(torch.zeros(3), torch.zeros(3), adv).item() == pytest.approx(
        -adv.mean().item()
    )


def test_ppo_clip_bad_input():
    z = torch.zeros(3)
    for eps in (0.0, -0.1, True, "0.2"):
        with pytest.raises(ValueError, match="clip_eps"):
            ppo_clip_loss(z, z, z, clip_eps=eps)
    with pytest.raises(ValueError, match="logp_old"):
        ppo_clip_loss(z, torch.zeros(2), z)
    with pytest.raises(ValueError, match="advantages"):
        ppo_clip_loss(z, z, torch.zeros(3, 1))
    with pytest.raises(TypeError, match="logp_new"):
        ppo_clip_loss([0.0], z, z)


# ----------------------------------------------------------------- KL estimators
def test_kl_estimators_expectations_against_exact_kl():
    # Two categorical distributions; expectations under q computed exactly as sums.
    q = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    exact = (q * (q / p).log()).sum()  # KL(q || p) = 0.2749...
    lq, lp = q.log(), p.log()
    e = {k: (q * kl_penalty(lq, lp, k)).sum() for k in ("k1", "k2", "k3")}
    assert e["k1"].item() == pytest.approx(exact.item(), abs=1e-12)  # unbiased
    assert e["k3"].item() == pytest.approx(exact.item(), abs=1e-12)  # unbiased
    assert abs(e["k2"].item() - exact.item()) > 1e-3  # biased
    # k1 is negative on some samples, k3 never: lower variance
    assert kl_penalty(lq, lp, "k1").min() < 0
    var = {k: (q * (kl_penalty(lq, lp, k) - e[k]) ** 2).sum() for k in ("k1", "k3")}
    assert var["k3"] < var["k1"]


def test_kl_estimators_monte_carlo():
    torch.manual_seed(0)
    q = torch.distributions.Categorical(probs=torch.tensor([0.6, 0.3, 0.1]))
    p = torch.tensor([0.3, 0.3, 0.4])
    x = q.sample((200_000,))
    exact = torch.distributions.kl_divergence(q, torch.distributions.Categorical(probs=p))
    for k in ("k1", "k3"):
        est = kl_penalty(q.log_prob(x), p.log()[x], k).mean()
        assert est.item() == pytest.approx(exact.item(), abs=0.01)


@settings(max_examples=50, deadline=None)
@given(small, small)
def test_k2_k3_are_non_negative_and_zero_when_equal(a, b):
    lp, lr = torch.tensor([a]), torch.tensor([b])
    assert kl_penalty(lp, lr, "k3").item() >= 0
    assert kl_penalty(lp, lr, "k2").item() >= 0
    for k in ("k1", "k2", "k3"):
        assert kl_penalty(lp, lp, k).item() == 0


def test_kl_bad_input():
    with pytest.raises(ValueError, match="estimator"):
        kl_penalty(torch.zeros(2), torch.zeros(2), "k4")
    with pytest.raises(ValueError, match="logp_ref"):
        kl_penalty(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="logp"):
        kl_penalty(torch.zeros(2, dtype=torch.long), torch.zeros(2))


# ----------------------------------------------------------------- DPO
def _dpo_paper(pc, pr, rc, rr, beta):
    """Rafailov et al. Eq. 7 per pair: -log sigma(beta log(pi_w/ref_w) - beta log(pi_l/ref_l))."""
    h = beta * (pc - rc) - beta * (pr - rr)
    return -math.log(1 / (1 + math.exp(-h)))


def test_dpo_hand_computed():
    # beta = 0.1; chosen log-ratio -10 - (-11) = 1, rejected -12 - (-11) = -1
    # rewards 0.1 and -0.1; h = 0.2; loss = log(1 + e^-0.2) = 0.5981389
    loss, rc, rr = dpo_loss(
        torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0])
    )
    assert loss.item() == pytest.approx(0.5981389, abs=1e-6)
    assert rc.item() == pytest.approx(0.1) and rr.item() == pytest.approx(-0.1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(small, small, small, small), min_size=1, max_size=6), st.floats(0.01, 2))
def test_dpo_matches_the_paper_formula_and_gradient(rows, beta):
    pc, pr, rc, rr = (torch.tensor([r[i] for r in rows], dtype=torch.float64) for i in range(4))
    pc.requires_grad_(True)
    pr.requires_grad_(True)
    loss, cr, rj = dpo_loss(pc, pr, rc, rr, beta)
    ref = sum(_dpo_paper(*map(float, r), beta) for r in rows) / len(rows)
    assert loss.item() == pytest.approx(ref, rel=1e-9, abs=1e-12)
    torch.testing.assert_close(cr, beta * (pc.detach() - rc))
    torch.testing.assert_close(rj, beta * (pr.detach() - rr))
    # The paper's gradient (Section 4): -beta sigma(r_l - r_w) [grad log pi(y_w) - grad log pi(y_l)]
    loss.backward()
    weight = torch.sigmoid(rj - cr)
    torch.testing.assert_close(pc.grad, -beta * weight / len(rows))
    torch.testing.assert_close(pr.grad, beta * weight / len(rows))


def test_dpo_is_bradley_terry_on_implicit_rewards_and_starts_at_log_2():
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = torch.randn(4, 5, generator=g)
    loss, cr, rj = dpo_loss(pc, pr, rc, rr, beta=0.3)
    assert loss.item() == pytest.approx(bradley_terry_loss(cr, rj).item(), abs=1e-6)
    loss0, *_ = dpo_loss(rc, rr, rc, rr)  # policy == reference
    assert loss0.item() == pytest.approx(math.log(2))


def test_dpo_rewards_are_detached_and_reference_gets_no_gradient():
    ref = torch.zeros(2, requires_grad=True)
    pol = torch.zeros(2, requires_grad=True)
    loss, cr, rj = dpo_loss(pol, pol * 2, ref, ref)
    loss.backward()
    assert not cr.requires_grad and not rj.requires_grad
    assert ref.grad is None and pol.grad is not None


def test_dpo_bad_input_names_the_argument():
    z = torch.zeros(4)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        dpo_loss(z, torch.zeros(3), z, z)
    with pytest.raises(ValueError, match="ref_chosen_logps"):
        dpo_loss(z, z, torch.zeros(5), z)
    with pytest.raises(ValueError, match="ref_rejected_logps"):
        dpo_loss(z, z, z, torch.zeros(2))
    with pytest.raises(ValueError, match="policy_chosen_logps"):
        dpo_loss(torch.zeros(4, 1), z, z, z)
    for beta in (0, -0.1, True):
        with pytest.raises(ValueError, match="beta"):
            dpo_loss(z, z, z, z, beta=beta)
    with pytest.raises(TypeError, match="ref_rejected_logps"):
        dpo_loss(z, z, z, [0.0] * 4)


# ----------------------------------------------------------------- GRPO
def test_grpo_hand_computed():
    # group 1: rewards 1, 0, 0, 0: mean 0.25, sample std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5
    # group 2: rewards 2, 4, 3, 3: mean 3, sample std sqrt((1 + 1 + 0 + 0) / 3) = sqrt(2/3)
    adv = grpo_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 4.0, 3.0, 3.0]), 4)
    e = 0.5 + GRPO_EPS
    s = math.sqrt(2 / 3) + GRPO_EPS
    expected = [0.75 / e, -0.25 / e, -0.25 / e, -0.25 / e, -1 / s, 1 / s, 0.0, 0.0]
    assert adv.tolist() == pytest.approx(expected, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(2, 6), st.integers(0, 10_000))
def test_grpo_matches_trl_formula_with_numpy(prompts, G, seed):
    rewards = np.random.default_rng(seed).normal(size=prompts * G).astype(np.float32)
    groups = rewards.reshape(prompts, G)
    # TRL's GRPOTrainer: (r - mean) / (std + 1e-4) with torch.std, i.e. ddof = 1
    ref = (groups - groups.mean(1, keepdims=True)) / (groups.std(1, ddof=1, keepdims=True) + 1e-4)
    ours = grpo_advantages(torch.from_numpy(rewards), G)
    np.testing.assert_allclose(ours.numpy(), ref.reshape(-1), rtol=1e-4, atol=1e-5)
    assert abs(ours.view(prompts, G).sum(1)).max() < 1e-4  # zero mean in each group


def test_grpo_equal_rewards_give_zero_advantage():
    assert torch.equal(grpo_advantages(torch.ones(6), 3), torch.zeros(6))


def test_grpo_bad_input():
    with pytest.raises(ValueError, match="group_size"):
        grpo_advantages(torch.zeros(6), 4)
    with pytest.raises(ValueError, match="group_size"):
        grpo_advantages(torch.zeros(6), 1)
    with pytest.raises(ValueError, match="rewards"):
        grpo_advantages(torch.zeros(2, 3), 3)
    with pytest.raises(TypeError, match="rewards"):
        grpo_advantages([1.0, 0.0], 2)
