"""Tests of fmref.diffusion: schedules, forward process, samplers, guidance."""

import diffusers
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.diffusion.guidance import classifier_free_guidance, drop_condition
from fmref.diffusion.samplers import (
    ddim_step,
    ddpm_loss,
    ddpm_step,
    inference_timesteps,
    predict_x0,
    sample,
)
from fmref.diffusion.schedules import (
    alphas_cumprod,
    beta_schedule,
    cosine_beta_schedule,
    linear_beta_schedule,
    q_sample,
    signal_to_noise,
)

# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize("name, hf_name", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_schedules_match_diffusers_betas_and_alphas_cumprod(name, hf_name):
    sched = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=hf_name)
    betas = beta_schedule(name, 1000)
    torch.testing.assert_close(betas, sched.betas, rtol=0, atol=1e-6)
    torch.testing.assert_close(alphas_cumprod(betas), sched.alphas_cumprod, rtol=0, atol=1e-6)


def test_linear_schedule_endpoints_are_the_ddpm_paper_values():
    # Ho et al. 2020, section 4: beta_1 = 1e-4 ... beta_T = 0.02, T = 1000
    betas = linear_beta_schedule()
    assert betas.shape == (1000,)
    assert betas[0].item() == pytest.approx(1e-4)
    assert betas[-1].item() == pytest.approx(0.02)


def test_cosine_schedule_caps_beta_and_alpha_bar_falls_slower_than_linear_midway():
    cos, lin = alphas_cumprod(cosine_beta_schedule()), alphas_cumprod(linear_beta_schedule())
    assert cosine_beta_schedule().max().item() == pytest.approx(0.999)
    assert cos[500] > lin[500]  # Nichol & Dhariwal fig. 5: linear destroys information too fast


def test_signal_to_noise_is_decreasing():
    snr = signal_to_noise(alphas_cumprod(linear_beta_schedule()))
    assert bool((snr[1:] < snr[:-1]).all())


def test_add_noise_matches_diffusers():
    sched = diffusers.DDPMScheduler(num_train_timesteps=1000)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 3, 2, 2, generator=g), torch.randn(4, 3, 2, 2, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    ours = q_sample(x0, t, noise, alphas_cumprod(linear_beta_schedule()))
    torch.testing.assert_close(ours, sched.add_noise(x0, noise, t), rtol=0, atol=1e-6)


def test_q_sample_is_nearly_x0_at_t0_and_nearly_standard_normal_at_the_end():
    abar = alphas_cumprod(linear_beta_schedule())
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000,), 3.0)
    noise = torch.randn(20000, generator=g)
    x_first = q_sample(x0, 0, noise, abar)
    assert (x_first - x0).abs().max() < 0.05
    x_last = q_sample(x0, 999, noise, abar)
    assert abs(x_last.mean().item()) < 0.05 and abs(x_last.std().item() - 1) < 0.05


@given(st.integers(0, 999), st.floats(-5, 5))
@settings(max_examples=30, deadline=None)
def test_q_sample_preserves_unit_variance(t, _):
    # Var(sqrt(abar) x0 + sqrt(1 - abar) eps) = abar + (1 - abar) = 1 for unit-variance x0
    abar = alphas_cumprod(cosine_beta_schedule())
    total = abar[t] + (1 - abar[t])
    assert total.item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: linear_beta_schedule(0), "T"),
        (lambda: linear_beta_schedule(10, 0.5, 0.1), "beta_start"),
        (lambda: cosine_beta_schedule(10, s=-1), "s"),
        (lambda: cosine_beta_schedule(10, max_beta=1.5), "max_beta"),
        (lambda: beta_schedule("quadratic"), "name"),
        (lambda: alphas_cumprod(torch.zeros(3)), "betas"),
        (lambda: q_sample(torch.zeros(2), 1000, torch.zeros(2), torch.full((1000,), 0.5)), "t"),
        (lambda: q_sample(torch.zeros(2), -1, torch.zeros(2), torch.full((1000,), 0.5)), "t"),
        (lambda: q_sample(torch.zeros(2), 0, torch.zeros(3), torch.full((1000,), 0.5)), "noise"),
    ],
)
def test_bad_schedule_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_float_timestep_raises_type_error():
    with pytest.raises(TypeError, match="t must"):
        q_sample(torch.zeros(2), torch.tensor(1.5), torch.zeros(2), torch.full((10,), 0.5))


# ---------------------------------------------------------------- samplers


def _fixed(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("hf_name", ["linear", "squaredcos_cap_v2"])
def test_ddpm_step_matches_diffusers_over_all_timesteps(hf_name):
    sched = diffusers.DDPMScheduler(
        num_train_timesteps=50, beta_schedule=hf_name, clip_sample=False
    )
    abar = sched.alphas_cumprod
    x = _fixed((2, 3, 4), 0)
    for t in range(49, -1, -1):
        eps, noise = _fixed((2, 3, 4), 100 + t), _fixed((2, 3, 4), 1000 + t)
        ours = ddpm_step(eps, t, x, abar, noise=noise)
        # diffusers draws its noise from the generator: seed it to draw `noise`
        ref = sched.step(eps, t, x, generator=torch.Generator().manual_seed(1000 + t)).prev_sample
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
        x = ref


def test_strided_ddpm_step_matches_diffusers_with_set_timesteps():
    sched = diffusers.DDPMScheduler(num_train_timesteps=1000, clip_sample=False)
    sched.set_timesteps(10)
    ts = sched.timesteps.tolist()
    assert ts == inference_timesteps(1000, 10)
    x = _fixed((2, 5), 0)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        eps = _fixed((2, 5), 10 + i)
        ours = ddpm_step(
            eps,
            t,
            x,
            sched.alphas_cumprod,
            t_prev=t_prev,
            generator=torch.Generator().manual_seed(i),
        )
        ref = sched.step(eps, t, x, generator=torch.Generator().manual_seed(i)).prev_sample
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
        x = ref


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("hf_name", ["linear", "squaredcos_cap_v2"])
def test_ddim_step_matches_diffusers(eta, hf_name):
    sched = diffusers.DDIMScheduler(
        num_train_timesteps=1000, beta_schedule=hf_name, clip_sample=False
    )
    sched.set_timesteps(20)
    ts = sched.timesteps.tolist()
    assert ts == inference_timesteps(1000, 20)
    x = _fixed((2, 1, 4, 4), 0)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        eps, noise = _fixed((2, 1, 4, 4), 10 + i), _fixed((2, 1, 4, 4), 100 + i)
        ours = ddim_step(eps, t, t_prev, x, sched.alphas_cumprod, eta=eta, noise=noise)
        ref = sched.step(eps, t, x, eta=eta, variance_noise=noise).prev_sample
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
        x = ref


def test_ddim_with_eta_zero_is_deterministic_and_eta_positive_is_not():
    abar = alphas_cumprod(linear_beta_schedule(100))

    def model(x, t):
        return 0.1 * x

    a = sample(
        model, (3, 2), abar, sampler="ddim", steps=10, generator=torch.Generator().manual_seed(0)
    )
    x_T = torch.randn((3, 2), generator=torch.Generator().manual_seed(0))
    b = x_T
    for i, t in enumerate(inference_timesteps(100, 10)):
        t_prev = inference_timesteps(100, 10)[i + 1] if i < 9 else -1
        b = ddim_step(model(b, t), t, t_prev, b, abar)
    torch.testing.assert_close(a, b)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    c = ddim_step(torch.zeros(3), 50, 40, torch.ones(3), abar, eta=1.0, generator=g1)
    d = ddim_step(
        torch.zeros(3),
        50,
        40,
        torch.ones(3),
        abar,
        eta=1.0,
        generator=torch.Generator().manual_seed(2),
    )
    e = ddim_step(torch.zeros(3), 50, 40, torch.ones(3), abar, eta=1.0, generator=g2)
    assert not torch.equal(c, d) and torch.equal(c, e)


def test_ddpm_step_at_t0_adds_no_noise_and_draws_noise_from_generator():
    abar = alphas_cumprod(linear_beta_schedule(10))
    x = torch.ones(3)
    assert torch.equal(
        ddpm_step(torch.zeros(3), 0, x, abar),
        ddpm_step(torch.zeros(3), 0, x, abar, noise=torch.ones(3)),
    )
    a = ddpm_step(torch.zeros(3), 5, x, abar, generator=torch.Generator().manual_seed(0))
    b = ddpm_step(torch.zeros(3), 5, x, abar, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_predict_x0_inverts_q_sample():
    abar = alphas_cumprod(cosine_beta_schedule())
    x0, eps = _fixed((6,), 0), _fixed((6,), 1)
    torch.testing.assert_close(predict_x0(eps, 300, q_sample(x0, 300, eps, abar), abar), x0)


def test_ddpm_loss_is_zero_for_an_oracle_and_passes_labels():
    abar = alphas_cumprod(linear_beta_schedule(100))
    x0 = _fixed((8, 2), 0)
    noise = _fixed((8, 2), 1)
    seen = {}

    def oracle(x_t, t, y=None):
        seen["y"] = y
        return noise

    assert ddpm_loss(oracle, x0, abar, noise=noise).item() == 0.0
    y = torch.arange(8)
    ddpm_loss(oracle, x0, abar, t=torch.zeros(8, dtype=torch.long), noise=noise, y=y)
    assert torch.equal(seen["y"], y)


def test_ddpm_sampling_of_a_gaussian_with_the_exact_score_recovers_it():
    # data N(2, 0.5^2): the optimal eps-predictor is known in closed form
    abar = alphas_cumprod(linear_beta_schedule(1000))
    mu, s2 = 2.0, 0.25

    def exact(x, t):
        a = abar[t].unsqueeze(-1)
        var = a * s2 + (1 - a)
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / var

    for sampler, steps in [("ddpm", None), ("ddim", 50)]:
        x = sample(
            exact,
            (4000, 1),
            abar,
            sampler=sampler,
            steps=steps,
            generator=torch.Generator().manual_seed(0),
        )
        assert x.mean().item() == pytest.approx(mu, abs=0.05)
        assert x.std().item() == pytest.approx(0.5, abs=0.05)


def test_sample_with_guidance_calls_model_with_and_without_labels():
    abar = alphas_cumprod(linear_beta_schedule(10))
    calls = []

    def model(x, t, y=None):
        calls.append(y)
        return torch.zeros_like(x) if y is None else torch.ones_like(x)

    sample(model, (2, 2), abar, steps=2, labels=torch.tensor([0, 1]), guidance_scale=2.0)
    assert calls[0] is None and calls[1] is not None and len(calls) == 4
    calls.clear()
    sample(model, (2, 2), abar, steps=2, labels=torch.tensor([0, 1]))
    assert len(calls) == 2 and all(c is not None for c in calls)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"sampler": "euler"}, "sampler"),
        ({"guidance_scale": 2.0}, "labels"),
        ({"guidance_scale": -1.0, "labels": torch.tensor([0, 0])}, "scale"),
        ({"steps": 0}, "steps"),
        ({"steps": 11}, "steps"),
    ],
)
def test_bad_sample_input_raises_value_error_naming_the_argument(kwargs, arg):
    abar = alphas_cumprod(linear_beta_schedule(10))
    with pytest.raises(ValueError, match=arg):
        sample(lambda x, t, y=None: x, (2, 2), abar, **kwargs)


def test_bad_step_input_raises():
    abar = alphas_cumprod(linear_beta_schedule(10))
    with pytest.raises(ValueError, match="t_prev"):
        ddpm_step(torch.zeros(2), 5, torch.zeros(2), abar, t_prev=5)
    with pytest.raises(ValueError, match="eta"):
        ddim_step(torch.zeros(2), 5, 4, torch.zeros(2), abar, eta=-0.1)
    with pytest.raises(ValueError, match="t must"):
        ddim_step(torch.zeros(2), 10, 4, torch.zeros(2), abar)


# ---------------------------------------------------------------- guidance


@given(st.floats(0, 10), st.lists(st.floats(-10, 10), min_size=2, max_size=2))
@settings(max_examples=30, deadline=None)
def test_guidance_is_linear_in_scale_and_equals_ho_salimans_with_w_equal_scale_minus_one(
    scale, vals
):
    u, c = torch.tensor(vals), torch.tensor(vals[::-1])
    w = scale - 1  # Ho & Salimans 2022, eq. 6: (1 + w) eps_c - w eps_u
    torch.testing.assert_close(classifier_free_guidance(u, c, scale), (1 + w) * c - w * u)


def test_guidance_rejects_negative_scale_and_shape_mismatch():
    with pytest.raises(ValueError, match="scale"):
        classifier_free_guidance(torch.zeros(2), torch.zeros(2), -0.5)
    with pytest.raises(ValueError, match="eps_cond"):
        classifier_free_guidance(torch.zeros(2), torch.zeros(3), 1.0)


def test_drop_condition_extremes_and_bad_probability():
    y = torch.arange(5)
    assert torch.equal(drop_condition(y, 0.0, 10), y)
    assert torch.equal(drop_condition(y, 1.0, 10), torch.full((5,), 10))
    with pytest.raises(ValueError, match="p_uncond"):
        drop_condition(y, 1.5, 10)
