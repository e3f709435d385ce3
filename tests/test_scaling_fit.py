"""Fitting scaling laws: recover known constants from synthetic data."""

import pytest
import torch

from fmref.scaling.fit import fit_power_law, fit_scaling_law, huber
from fmref.scaling.laws import BESIROGLU, CHINCHILLA, chinchilla_loss


def _synthetic_runs(constants, noise, seed=0):
    g = torch.Generator().manual_seed(seed)
    N = torch.logspace(7, 10, 8, dtype=torch.float64).repeat_interleave(6)  # 8 sizes
    D = N * torch.logspace(0.5, 2.5, 6, dtype=torch.float64).repeat(8)  # 3-300 tok/param
    L = torch.tensor(
        [chinchilla_loss(n, d, **constants) for n, d in zip(N.tolist(), D.tolist())],
        dtype=torch.float64,
    )
    return N, D, L * torch.exp(noise * torch.randn(L.shape, generator=g, dtype=torch.float64))


def test_recovers_chinchilla_constants_exactly_without_noise():
    fit = fit_scaling_law(*_synthetic_runs(CHINCHILLA, noise=0.0))
    for name, value in CHINCHILLA.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-3), name
    assert fit.residuals.abs().max() < 1e-6
    assert fit.n_starts == 32


@pytest.mark.parametrize("constants", [CHINCHILLA, BESIROGLU])
def test_recovers_constants_from_noisy_data(constants):
    fit = fit_scaling_law(*_synthetic_runs(constants, noise=0.005, seed=1))
    assert fit.alpha == pytest.approx(constants["alpha"], abs=0.04)
    assert fit.beta == pytest.approx(constants["beta"], abs=0.04)
    assert fit.E == pytest.approx(constants["E"], abs=0.05)
    # the residual spread is the noise we put in
    assert 0.002 < float(fit.residuals.std()) < 0.01


def test_fit_is_robust_to_an_outlier():
    N, D, L = _synthetic_runs(CHINCHILLA, noise=0.0)
    L[5] *= 1.5  # one broken run
    fit = fit_scaling_law(N, D, L)
    assert fit.alpha == pytest.approx(0.34, abs=0.01)
    assert float(fit.residuals[5]) == pytest.approx(0.405, abs=0.01)  # log 1.5


def test_explicit_grid_and_prediction():
    N, D, L = _synthetic_runs(CHINCHILLA, noise=0.0)
    fit = fit_scaling_law(N, D, L, grid=[(0.5, 0.5, 0.5, 5.0, 5.0)])
    assert fit.n_starts == 1
    assert fit.predict(1e9, 2e10) == pytest.approx(chinchilla_loss(1e9, 2e10), rel=1e-3)


def test_power_law_recovers_frontier_with_noise():
    g = torch.Generator().manual_seed(0)
    C = torch.logspace(10, 18, 12, dtype=torch.float64)
    L = (1.5 + 40.0 * C**-0.15) * torch.exp(
        0.002 * torch.randn(12, generator=g, dtype=torch.float64)
    )
    fit = fit_power_law(C, L)
    assert fit.alpha == pytest.approx(0.15, abs=0.03)
    assert fit.E == pytest.approx(1.5, abs=0.1)
    assert fit.residuals.shape == (12,)
    # units of C do not matter: refit in PF-days
    fit_pf = fit_power_law(C / 8.64e19, L)
    assert fit_pf.alpha == pytest.approx(fit.alpha, abs=1e-4)
    assert fit_pf.predict(1e12 / 8.64e19) == pytest.approx(fit.predict(1e12), rel=1e-5)


def test_huber_is_quadratic_then_linear():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64)
    assert huber(x, delta=1.0).tolist() == [1.5, 0.125, 0.0, 0.125, 1.5]
    with pytest.raises(ValueError, match="delta"):
        huber(x, delta=0)


def test_bad_input():
    ok = [1.0] * 5
    with pytest.raises(ValueError, match="same length"):
        fit_scaling_law(ok, ok, [1.0] * 6)
    with pytest.raises(ValueError, match="at least 5"):
        fit_scaling_law([1.0] * 4, [1.0] * 4, [1.0] * 4)
    with pytest.raises(ValueError, match="n_tokens"):
        fit_scaling_law(ok, [1.0, 2.0, 0.0, 1.0, 1.0], ok)
    with pytest.raises(TypeError, match="losses"):
        fit_scaling_law(ok, ok, ["a"] * 5)
    with pytest.raises(ValueError, match="grid"):
        fit_scaling_law(ok, ok, ok, grid="huge")
    with pytest.raises(ValueError, match="grid"):
        fit_scaling_law(ok, ok, ok, grid=[(1.0, 2.0)])
    with pytest.raises(ValueError, match="same length"):
        fit_power_law([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="compute"):
        fit_power_law([1.0, -2.0, 3.0], [1.0, 2.0, 3.0])
