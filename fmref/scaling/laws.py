"""Published scaling laws: Kaplan et al. 2020 and Hoffmann et al. 2022 (Chinchilla).

A scaling law predicts the final loss of a language model from its number of
parameters ``N``, its number of training tokens ``D`` or its training compute
``C ≈ 6 N D`` FLOPs. Two families are in use:

* Kaplan et al. fit pure power laws, ``L(N) = (N_c / N)^α_N`` and
  ``L(D) = (D_c / D)^α_D``, on *non-embedding* parameters, and conclude that
  a compute-efficient run grows the model faster than the data
  (``N_opt ∝ C^0.73``).
* Hoffmann et al. fit ``L(N, D) = E + A / N^α + B / D^β`` on *all* parameters
  with every run trained to the end of its cosine schedule, and conclude that
  ``N`` and ``D`` should grow at about the same rate (about 20 tokens per
  parameter).

:func:`compute_optimal` minimises the Chinchilla law under ``C = 6 N D`` in
closed form; :func:`tokens_per_parameter_allocation` is the rule of thumb.
"""

from __future__ import annotations

import math

from fmref._validate import check_positive

__all__ = [
    "KAPLAN",
    "CHINCHILLA",
    "BESIROGLU",
    "PF_DAY",
    "kaplan_loss",
    "kaplan_compute_optimal",
    "chinchilla_loss",
    "compute_optimal",
    "tokens_per_parameter_allocation",
]

#: FLOPs in one petaflop/s-day (Kaplan et al.'s unit of compute): 1e15 x 86,400.
PF_DAY = 1e15 * 24 * 3600

#: Kaplan et al. 2020, equations 1.1-1.3 and Table 6 (N: non-embedding
#: parameters, D: tokens, C_min: PF-days; loss in nats per token on WebText2).
KAPLAN = {
    "alpha_N": 0.076,
    "N_c": 8.8e13,  # eq. 1.1
    "alpha_D": 0.095,
    "D_c": 5.4e13,  # eq. 1.2
    "alpha_C": 0.050,
    "C_c": 3.1e8,  # eq. 1.3, compute-efficient frontier C_min
    "N_e": 1.3e9,
    "p_N": 0.73,  # Table 6 / Figure 14: N_opt = N_e * C_min^p_N
}

#: Hoffmann et al. 2022, Section 3.3, equation (10): the rounded Approach 3 fit.
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

#: Besiroglu et al. 2024, "Chinchilla Scaling: A Replication Attempt", Table 1:
#: the Approach 3 refit on data read from the Chinchilla paper's Figure 4.
BESIROGLU = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def kaplan_loss(n_params=None, n_tokens=None, compute=None):
    """Loss predicted by the power laws of Kaplan et al. 2020.

    Exactly one of three forms is used, chosen by the arguments given:

    * ``n_params`` only: ``L(N) = (N_c / N)^0.076``, a model trained to
      convergence on enough data (eq. 1.1);
    * ``n_tokens`` only: ``L(D) = (D_c / D)^0.095``, a large model stopped
      early when it starts to overfit ``D`` tokens (eq. 1.2);
    * both: ``L(N, D) = [(N_c / N)^(α_N / α_D) + D_c / D]^α_D`` (eq. 1.5);
    * ``compute`` only: ``L(C_min) = (C_c / C_min)^0.050`` on the
      compute-efficient frontier, ``C_min`` in PF-days (eq. 1.3).

    ``N`` counts *non-embedding* parameters: Kaplan et al. found that the
    trends are much cleaner without the embedding matrices. Plugging in a
    total count (as Chinchilla does) over-states ``N`` for small models, whose
    embeddings are a large share of the total; this is one reason the two
    papers disagree (see Chapter X).

    Parameters
    ----------
    n_params : float, optional
        Non-embedding parameters ``N``.
    n_tokens : float, optional
        Training tokens ``D``.
    compute : float, optional
        Training compute in PF-days (``1 PF-day =`` :data:`PF_DAY` FLOPs).

    Returns
    -------
    float
        Test loss in nats per token (WebText2, GPT-2 tokenizer).

    Raises
    ------
    ValueError
        If a value is not positive, or the combination of arguments is not one
        of the four above.
    TypeError
        If a value is not a number.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020.

    Examples
    --------
    >>> from fmref.scaling.laws import kaplan_loss
    >>> round(kaplan_loss(n_params=1.5e9), 3)  # GPT-2 XL-sized, converged
    2.304
    >>> round(kaplan_loss(n_tokens=3e11), 3)  # a very large model, early-stopped
    1.638
    >>> round(kaplan_loss(n_params=1.5e9, n_tokens=3e11), 3)  # both limits at once
    2.31
    >>> round(kaplan_loss(compute=1.0), 3)  # one PF-day on the frontier
    2.658
    """
    given = tuple(x is not None for x in (n_params, n_tokens, compute))
    k = KAPLAN
    if given == (True, False, False):
        return (k["N_c"] / check_positive("n_params", n_params)) ** k["alpha_N"]
    if given == (False, True, False):
        return (k["D_c"] / check_positive("n_tokens", n_tokens)) ** k["alpha_D"]
    if given == (True, True, False):
        n = check_positive("n_params", n_params)
        d = check_positive("n_tokens", n_tokens)
        return ((k["N_c"] / n) ** (k["alpha_N"] / k["alpha_D"]) + k["D_c"] / d) ** k["alpha_D"]
    if given == (False, False, True):
        return (k["C_c"] / check_positive("compute", compute)) ** k["alpha_C"]
    raise ValueError(
        "give n_params, n_tokens, both n_params and n_tokens, or compute alone; "
        f"got n_params={n_params!r}, n_tokens={n_tokens!r}, compute={compute!r}"
    )


def kaplan_compute_optimal(compute):
    """Kaplan et al.'s compute-efficient allocation, ``N_opt = 1.3e9 · C_min^0.73``.

    ``C_min`` is in PF-days in the paper; this function takes FLOPs so that it
    can be set beside :func:`compute_optimal`, converts with :data:`PF_DAY`,
    and spends the rest of the budget on tokens, ``D = C / (6 N)``.

    Parameters
    ----------
    compute : float
        Training compute in FLOPs.

    Returns
    -------
    tuple of float
        ``(n_params, n_tokens)``; ``n_params`` is non-embedding parameters.

    Raises
    ------
    ValueError
        If ``compute`` is not positive.
    TypeError
        If ``compute`` is not a number.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
       Table 6 and Figure 14.

    Examples
    --------
    >>> from fmref.scaling.laws import kaplan_compute_optimal
    >>> n, d = kaplan_compute_optimal(5.76e23)  # Gopher's budget
    >>> f"N = {n / 1e9:.0f}B, D = {d / 1e9:.0f}B tokens, {d / n:.1f} tokens/param"
    'N = 804B, D = 119B tokens, 0.1 tokens/param'
    """
    c = check_positive("compute", compute)
    n = KAPLAN["N_e"] * (c / PF_DAY) ** KAPLAN["p_N"]
    return n, c / (6.0 * n)


def chinchilla_loss(n_params, n_tokens, E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28):
    """The Chinchilla parametric loss ``L(N, D) = E + A / N^α + B / D^β``.

    ``E`` is the entropy of text (the loss of an ideal model), ``A / N^α`` the
    excess loss of a finite model trained forever and ``B / D^β`` the excess
    loss of finite data. The defaults are the rounded constants of Hoffmann et
    al., Section 3.3 (Approach 3); :data:`BESIROGLU` holds a later refit.

    Parameters
    ----------
    n_params : float
        Parameters ``N`` (all of them, embeddings included).
    n_tokens : float
        Training tokens ``D``.
    E, A, B, alpha, beta : float
        The law's constants; all positive.

    Returns
    -------
    float
        Predicted loss in nats per token (MassiveText, SentencePiece).

    Raises
    ------
    ValueError
        If any argument is not positive.
    TypeError
        If any argument is not a number.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022.

    Examples
    --------
    >>> from fmref.scaling.laws import chinchilla_loss
    >>> round(chinchilla_loss(70e9, 1.4e12), 3)  # Chinchilla
    1.937
    >>> round(chinchilla_loss(280e9, 300e9), 3)  # Gopher: same compute, higher loss
    1.993
    """
    n = check_positive("n_params", n_params)
    d = check_positive("n_tokens", n_tokens)
    for name, v in (("E", E), ("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
        check_positive(name, v)
    return E + A / n**alpha + B / d**beta


def compute_optimal(compute, E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28):
    """Parameters and tokens that minimise :func:`chinchilla_loss` at ``6 N D = C``.

    Substituting ``D = C / (6 N)`` and setting the derivative to zero gives
    (Hoffmann et al., eq. 4)

    ``N_opt = G (C/6)^a``, ``D_opt = G^-1 (C/6)^b``, with
    ``G = (α A / (β B))^(1/(α+β))``, ``a = β/(α+β)``, ``b = α/(α+β)``.

    ``E`` does not move the optimum; it is accepted so that the constants of a
    fit can be passed as they are.

    Parameters
    ----------
    compute : float
        Training compute in FLOPs.
    E, A, B, alpha, beta : float
        Constants of the law (default: Chinchilla's rounded Approach 3 values).

    Returns
    -------
    tuple of float
        ``(n_params, n_tokens)``, with ``6 * n_params * n_tokens == compute``.

    Raises
    ------
    ValueError
        If ``compute`` or a constant is not positive.
    TypeError
        If an argument is not a number.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models",
       2022, Section 3.3 and Appendix D.2.

    Examples
    --------
    >>> from fmref.scaling.laws import compute_optimal
    >>> n, d = compute_optimal(5.76e23)  # Gopher's budget
    >>> f"N = {n / 1e9:.1f}B, D = {d / 1e12:.2f}T tokens, {d / n:.0f} tokens/param"
    'N = 32.2B, D = 2.98T tokens, 93 tokens/param'
    """
    c = check_positive("compute", compute)
    for name, v in (("E", E), ("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
        check_positive(name, v)
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    return G * (c / 6.0) ** a, (c / 6.0) ** b / G


def tokens_per_parameter_allocation(compute, tokens_per_parameter=20.0):
    """The rule of thumb: train on a fixed number of tokens per parameter.

    With ``D = r N`` and ``C = 6 N D`` the budget fixes both:
    ``N = sqrt(C / (6 r))``, ``D = r N``. Hoffmann et al.'s Approach 1 and 2
    give about ``r = 20`` over the range they measured (Chinchilla itself:
    70B parameters, 1.4T tokens). The rule keeps ``r`` constant, which is what
    ``a ≈ b ≈ 0.5`` means; :func:`compute_optimal` with the rounded Approach 3
    constants instead lets ``r`` grow with ``C``.

    Parameters
    ----------
    compute : float
        Training compute in FLOPs.
    tokens_per_parameter : float, default 20.0
        The ratio ``r = D / N``.

    Returns
    -------
    tuple of float
        ``(n_params, n_tokens)``.

    Raises
    ------
    ValueError
        If ``compute`` or ``tokens_per_parameter`` is not positive.
    TypeError
        If an argument is not a number.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022.

    Examples
    --------
    >>> from fmref.scaling.laws import tokens_per_parameter_allocation
    >>> n, d = tokens_per_parameter_allocation(5.76e23)
    >>> f"N = {n / 1e9:.1f}B, D = {d / 1e12:.2f}T tokens"
    'N = 69.3B, D = 1.39T tokens'
    """
    c = check_positive("compute", compute)
    r = check_positive("tokens_per_parameter", tokens_per_parameter)
    n = math.sqrt(c / (6.0 * r))
    return n, r * n
