"""Published scaling laws: Kaplan et al. 2020, Hoffmann et al. 2022 (Chinchilla)."""

import math

import pytest

from fmref.scaling.laws import (
    BESIROGLU,
    CHINCHILLA,
    KAPLAN,
    PF_DAY,
    chinchilla_loss,
    compute_optimal,
    kaplan_compute_optimal,
    kaplan_loss,
    tokens_per_parameter_allocation,
)

# Hoffmann et al. 2022, Table 3 (Approach 1): parameters, FLOPs, tokens.
HOFFMANN_TABLE_3 = [
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
]


def test_published_constants():
    # Kaplan et al. 2020, eqs. 1.1-1.3 and Table 6.
    assert KAPLAN["alpha_N"] == 0.076 and KAPLAN["N_c"] == 8.8e13
    assert KAPLAN["alpha_D"] == 0.095 and KAPLAN["D_c"] == 5.4e13
    assert KAPLAN["alpha_C"] == 0.050 and KAPLAN["C_c"] == 3.1e8
    assert KAPLAN["N_e"] == 1.3e9 and KAPLAN["p_N"] == 0.73
    # Hoffmann et al. 2022, eq. 10; Besiroglu et al. 2024, Table 1.
    assert CHINCHILLA == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    assert BESIROGLU == {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    assert PF_DAY == 8.64e19


def test_kaplan_forms_match_their_equations():
    assert kaplan_loss(n_params=8.8e13) == pytest.approx(1.0)  # N = N_c
    assert kaplan_loss(n_tokens=5.4e13) == pytest.approx(1.0)
    assert kaplan_loss(compute=3.1e8) == pytest.approx(1.0)
    n, d = 1e9, 1e10
    joint = ((8.8e13 / n) ** (0.076 / 0.095) + 5.4e13 / d) ** 0.095
    assert kaplan_loss(n_params=n, n_tokens=d) == pytest.approx(joint)
    # with infinite data the joint law falls back to L(N)
    assert kaplan_loss(n_params=n, n_tokens=1e30) == pytest.approx(kaplan_loss(n_params=n))
    # ten times the parameters lowers the loss by the factor 10^-0.076
    assert kaplan_loss(n_params=1e10) / kaplan_loss(n_params=1e9) == pytest.approx(10**-0.076)


def test_kaplan_allocation_grows_the_model_faster():
    n1, d1 = kaplan_compute_optimal(1e21)
    n2, d2 = kaplan_compute_optimal(1e22)
    assert n2 / n1 == pytest.approx(10**0.73)
    assert d2 / d1 == pytest.approx(10**0.27)
    assert 6 * n1 * d1 == pytest.approx(1e21)
    # Chinchilla, Appendix D.4, reads Kaplan's law at C_min = C / 2: 4.68B at 1e21 FLOPs
    n_half, _ = kaplan_compute_optimal(0.5e21)
    assert n_half == pytest.approx(4.68e9, rel=0.01)


def test_chinchilla_loss_is_the_sum_of_three_terms():
    expected = 1.69 + 406.4 / 1e9**0.34 + 410.7 / 1e10**0.28
    assert chinchilla_loss(1e9, 1e10) == pytest.approx(expected)
    assert chinchilla_loss(1e40, 1e40) == pytest.approx(1.69, abs=1e-6)
    expected = 1.8172 + 482.01 / 1e9**0.3478 + 2085.43 / 1e10**0.3658
    assert chinchilla_loss(1e9, 1e10, **BESIROGLU) == pytest.approx(expected)


def test_compute_optimal_closed_form_is_the_minimum_of_the_isoflop_curve():
    C = 1e21
    n_opt, d_opt = compute_optimal(C)
    assert 6 * n_opt * d_opt == pytest.approx(C)
    best = chinchilla_loss(n_opt, d_opt)
    for factor in (0.8, 0.95, 1.05, 1.25):
        n = n_opt * factor
        assert chinchilla_loss(n, C / (6 * n)) > best


def test_compute_optimal_at_gophers_budget():
    # The rounded Approach 3 constants give ~32B / ~3.0T at 5.76e23 FLOPs (not
    # Table 3's 67B / 1.5T nor the paper's 40B): the discrepancy Chapter X explains.
    n, d = compute_optimal(5.76e23)
    assert n == pytest.approx(32.2e9, rel=0.01)
    assert d == pytest.approx(2.98e12, rel=0.01)
    # exponents a = beta / (alpha + beta), b = alpha / (alpha + beta)
    n10, d10 = compute_optimal(5.76e24)
    assert math.log10(n10 / n) == pytest.approx(0.28 / 0.62)
    assert math.log10(d10 / d) == pytest.approx(0.34 / 0.62)


def test_besiroglu_refit_is_close_to_twenty_tokens_per_parameter():
    for _, flops, _ in HOFFMANN_TABLE_3[:4]:
        n, d = compute_optimal(flops, **BESIROGLU)
        assert 15 < d / n < 30


def test_twenty_tokens_rule_reproduces_table_3_within_ten_percent():
    for params, flops, tokens in HOFFMANN_TABLE_3:
        n, d = tokens_per_parameter_allocation(flops)
        assert d == pytest.approx(20 * n)
        assert 6 * n * d == pytest.approx(flops)
        assert n == pytest.approx(params, rel=0.10)
        assert d == pytest.approx(tokens, rel=0.10)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_params": 0}, "n_params"),
        ({"n_tokens": -1.0}, "n_tokens"),
        ({"compute": 0.0}, "compute"),
        ({"n_params": float("nan")}, "n_params"),
    ],
)
def test_kaplan_loss_rejects_non_positive(kwargs, name):
    with pytest.raises(ValueError, match=name):
        kaplan_loss(**kwargs)


def test_bad_input_errors_name_the_argument():
    with pytest.raises(ValueError, match="compute alone"):
        kaplan_loss()
    with pytest.raises(ValueError, match="compute alone"):
        kaplan_loss(n_params=1e9, compute=1.0)
    with pytest.raises(TypeError, match="n_params"):
        kaplan_loss(n_params="1e9")
    with pytest.raises(TypeError, match="compute"):
        compute_optimal(True)
    with pytest.raises(ValueError, match="compute"):
        compute_optimal(-1.0)
    with pytest.raises(ValueError, match="compute"):
        kaplan_compute_optimal(0)
    with pytest.raises(ValueError, match="alpha"):
        compute_optimal(1e21, alpha=0.0)
    with pytest.raises(ValueError, match="n_tokens"):
        chinchilla_loss(1e9, 0)
    with pytest.raises(ValueError, match="beta"):
        chinchilla_loss(1e9, 1e9, beta=-0.1)
    with pytest.raises(ValueError, match="tokens_per_parameter"):
        tokens_per_parameter_allocation(1e21, tokens_per_parameter=0)
