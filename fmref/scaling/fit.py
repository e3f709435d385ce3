"""Fitting scaling laws to measured losses, the way Hoffmann et al. do.

Both fits minimise a Huber loss on *log* residuals with L-BFGS, started from a
grid of initial values, and keep the best local minimum (Hoffmann et al.,
Section 3.3 and Appendix D.2). Working in log space makes a residual a relative
error, so small and large runs count alike; the Huber loss with a small
``delta`` (1e-3) behaves like an absolute-value loss and shrugs off outliers.

:func:`fit_scaling_law` fits the five constants of
``L(N, D) = E + A / N^α + B / D^β``, written as
``log L = LSE(a - α log N, b - β log D, e)`` with ``A, B, E = exp(a, b, e)``.
:func:`fit_power_law` fits the three constants of the compute frontier
``L(C) = E + a C^(-α)``, which is what a study of a handful of runs supports.
Only torch is needed: a small L-BFGS that runs every start at once, in float64.
:func:`mini_scaling_run` trains one run of the gallery's small isoFLOP study
(a byte-level GPT on the Python docs) whose losses these fits take.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

__all__ = [
    "ScalingLawFit",
    "PowerLawFit",
    "fit_scaling_law",
    "fit_power_law",
    "huber",
    "mini_scaling_run",
]

#: Hoffmann et al., Appendix D.2: alpha, beta in {0, 0.5, ..., 2}, e in
#: {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25} (4,500 starts).
PAPER_GRID = {
    "alpha": [0.0, 0.5, 1.0, 1.5, 2.0],
    "beta": [0.0, 0.5, 1.0, 1.5, 2.0],
    "e": [-1.0, -0.5, 0.0, 0.5, 1.0],
    "a": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
    "b": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
}
#: The default: 2 values per constant inside the paper's ranges (32 starts).
SMALL_GRID = {
    "alpha": [0.2, 0.6],
    "beta": [0.2, 0.6],
    "e": [-1.0, 0.5],
    "a": [2.0, 10.0],
    "b": [2.0, 10.0],
}


def huber(x, delta=1e-3):
    """Huber loss, elementwise: ``x²/2`` for ``|x| <= delta``, else ``delta (|x| - delta/2)``.

    Parameters
    ----------
    x : torch.Tensor
        Residuals.
    delta : float, default 1e-3
        Where the loss turns from quadratic to linear.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``.

    Raises
    ------
    ValueError
        If ``delta`` is not positive.

    Examples
    --------
    >>> import torch
    >>> from fmref.scaling.fit import huber
    >>> [round(v, 8) for v in huber(torch.tensor([0.0, 0.001, 0.1]), delta=0.01).tolist()]
    [0.0, 5e-07, 0.00095]
    """
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta!r}")
    ax = x.abs()
    return torch.where(ax <= delta, 0.5 * x * x, delta * (ax - 0.5 * delta))


@dataclass
class ScalingLawFit:
    """Result of :func:`fit_scaling_law`: ``L(N, D) = E + A / N^α + B / D^β``.

    Parameters
    ----------
    E, A, B, alpha, beta : float
        The fitted constants.
    residuals : torch.Tensor
        ``log L - log L̂`` at every data point (float64).
    objective : float
        The summed Huber loss at the optimum.
    n_starts : int
        How many initialisations were tried.

    Examples
    --------
    >>> from fmref.scaling.fit import ScalingLawFit
    >>> import torch
    >>> fit = ScalingLawFit(1.69, 406.4, 410.7, 0.34, 0.28, torch.zeros(1), 0.0, 1)
    >>> round(fit.predict(70e9, 1.4e12), 3)
    1.937
    >>> sorted(fit.constants())
    ['A', 'B', 'E', 'alpha', 'beta']
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    residuals: torch.Tensor
    objective: float
    n_starts: int

    def constants(self):
        """The five constants as a dict, ready for ``compute_optimal(C, **fit.constants())``."""
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}

    def predict(self, n_params, n_tokens):
        """Predicted loss at ``N`` parameters and ``D`` tokens (floats or tensors)."""
        return self.E + self.A / n_params**self.alpha + self.B / n_tokens**self.beta


@dataclass
class PowerLawFit:
    """Result of :func:`fit_power_law`: ``L(C) = E + a C^(-α)``.

    Parameters
    ----------
    E, a, alpha : float
        The fitted constants (``a`` for ``C`` in the units given).
    residuals : torch.Tensor
        ``log L - log L̂`` at every data point (float64).
    objective : float
        The summed Huber loss at the optimum.

    Examples
    --------
    >>> from fmref.scaling.fit import PowerLawFit
    >>> import torch
    >>> fit = PowerLawFit(E=1.0, a=10.0, alpha=0.5, residuals=torch.zeros(1), objective=0.0)
    >>> fit.predict(100.0)
    2.0
    """

    E: float
    a: float
    alpha: float
    residuals: torch.Tensor
    objective: float

    def predict(self, compute):
        """Predicted loss at ``compute`` (float or tensor)."""
        return self.E + self.a * compute ** (-self.alpha)


def _as_positive_1d(name, values):
    try:
        t = torch.as_tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a sequence of positive numbers") from None
    t = t.flatten()
    if t.numel() == 0 or not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueError(f"{name} must be non-empty, finite and positive")
    return t


def _batched_lbfgs(x0, objective, max_iter, history=10):
    """Minimise ``objective`` from every row of ``x0`` at once, each row on its own.

    A plain L-BFGS (two-loop recursion) with a backtracking Armijo line search,
    batched: every start keeps its own history and step size, so the result is
    the same as running the starts one after the other, only vectorised.
    ``objective`` maps ``(S, P)`` parameters to ``(S,)`` values.
    """
    x = x0.clone()

    def value_and_grad(z):
        z = z.detach().requires_grad_(True)
        f = objective(z)
        (g,) = torch.autograd.grad(f.sum(), z)
        return f.detach(), g

    f, g = value_and_grad(x)
    s_hist, y_hist, rho_hist = [], [], []
    done = torch.zeros_like(f, dtype=torch.bool)  # converged or stalled: frozen
    for _ in range(max_iter):
        q = g.clone()
        alphas = []
        for s_i, y_i, rho_i in zip(reversed(s_hist), reversed(y_hist), reversed(rho_hist)):
            a_i = rho_i * (s_i * q).sum(1)
            q -= a_i[:, None] * y_i
            alphas.append(a_i)
        if s_hist:
            sy, yy = (s_hist[-1] * y_hist[-1]).sum(1), (y_hist[-1] ** 2).sum(1)
            gamma = torch.where(
                (sy > 1e-20) & (yy > 0), sy / yy.clamp_min(1e-300), torch.ones_like(sy)
            )
            q = gamma[:, None] * q
        for s_i, y_i, rho_i, a_i in zip(s_hist, y_hist, rho_hist, reversed(alphas)):
            b_i = rho_i * (y_i * q).sum(1)
            q += (a_i - b_i)[:, None] * s_i
        d = -q
        slope = (g * d).sum(1)
        bad = ~(slope < 0) | ~torch.isfinite(slope)
        d = torch.where(bad[:, None], -g, d)  # fall back to steepest descent
        slope = (g * d).sum(1)
        t = torch.ones_like(f)
        accepted = done.clone()
        x_new, f_new = x.clone(), f.clone()
        for _ in range(40):  # backtracking, each start with its own step
            with torch.no_grad():
                trial = x + t[:, None] * d
                f_trial = objective(trial)
            ok = ~accepted & torch.isfinite(f_trial) & (f_trial <= f + 1e-4 * t * slope)
            x_new[ok], f_new[ok] = trial[ok], f_trial[ok]
            accepted |= ok
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, 0.5 * t)
        done |= ~accepted  # no decrease along a descent direction: a (local) minimum
        f_new_, g_new = value_and_grad(x_new)
        s_k, y_k = x_new - x, g_new - g
        sy = (s_k * y_k).sum(1)
        rho = torch.where(sy > 1e-20, 1.0 / sy.clamp_min(1e-20), torch.zeros_like(sy))
        s_hist.append(s_k)
        y_hist.append(y_k)
        rho_hist.append(rho)
        if len(s_hist) > history:
            s_hist.pop(0), y_hist.pop(0), rho_hist.pop(0)
        done |= (f - f_new_).abs() <= 1e-13 * (1 + f.abs())
        done |= g_new.abs().amax(1) <= 1e-12
        x, f, g = x_new, f_new_, g_new
        if bool(done.all()):
            break
    return x, f


def _best(x, f):
    f = torch.where(torch.isfinite(f), f, torch.full_like(f, math.inf))
    i = int(torch.argmin(f))
    return x[i], float(f[i])


def fit_scaling_law(n_params, n_tokens, losses, delta=1e-3, grid="small", max_iter=500):
    """Fit ``L(N, D) = E + A / N^α + B / D^β`` to measured losses (Chinchilla Approach 3).

    Minimises ``Σ Huber_δ(LSE(a - α log N_i, b - β log D_i, e) - log L_i)``
    with L-BFGS from every point of ``grid`` and keeps the lowest objective.

    Parameters
    ----------
    n_params, n_tokens, losses : sequence of float or torch.Tensor
        One entry per training run: parameters, tokens and final loss.
    delta : float, default 1e-3
        The Huber threshold (the paper's value).
    grid : {"small", "paper"} or iterable of (alpha, beta, e, a, b)
        Initialisations: ``"small"`` has 32 starts; ``"paper"`` is Hoffmann et
        al.'s grid of 4,500 (run as one batch; about a minute).
    max_iter : int, default 500
        L-BFGS iterations per start.

    Returns
    -------
    ScalingLawFit
        The best fit over all starts.

    Raises
    ------
    ValueError
        If the inputs differ in length, have fewer than 5 points, are not
        positive, or ``grid`` is an unknown name.
    TypeError
        If an input is not a sequence of numbers.

    References
    ----------
    .. [1] Hoffmann et al., "Training Compute-Optimal Large Language Models",
       2022, Section 3.3 and Appendix D.2.
    .. [2] Besiroglu et al., "Chinchilla Scaling: A Replication Attempt", 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.scaling.fit import fit_scaling_law
    >>> from fmref.scaling.laws import chinchilla_loss
    >>> N = torch.logspace(7, 10, 6).repeat_interleave(5)  # 6 sizes x 5 budgets
    >>> D = N * torch.tensor([5.0, 10, 20, 40, 80]).repeat(6)
    >>> L = torch.tensor([chinchilla_loss(n, d) for n, d in zip(N.tolist(), D.tolist())])
    >>> fit = fit_scaling_law(N, D, L)
    >>> round(fit.alpha, 2), round(fit.beta, 2), round(fit.E, 2)
    (0.34, 0.28, 1.69)
    """
    N = _as_positive_1d("n_params", n_params)
    D = _as_positive_1d("n_tokens", n_tokens)
    L = _as_positive_1d("losses", losses)
    if not N.numel() == D.numel() == L.numel():
        raise ValueError(
            f"n_params, n_tokens and losses must have the same length, got "
            f"{N.numel()}, {D.numel()} and {L.numel()}"
        )
    if N.numel() < 5:
        raise ValueError(f"losses must have at least 5 points for 5 constants, got {L.numel()}")
    if isinstance(grid, str):
        if grid not in ("small", "paper"):
            raise ValueError(f"grid must be 'small', 'paper' or a list of starts, got {grid!r}")
        g = SMALL_GRID if grid == "small" else PAPER_GRID
        starts = list(itertools.product(g["alpha"], g["beta"], g["e"], g["a"], g["b"]))
    else:
        starts = [tuple(float(v) for v in s) for s in grid]
        if not starts or any(len(s) != 5 for s in starts):
            raise ValueError("grid must hold (alpha, beta, e, a, b) tuples")
    logN, logD, logL = N.log(), D.log(), L.log()

    def objective(p):  # p: (S, 5) = (alpha, beta, e, a, b) per start
        terms = torch.stack(
            [
                p[:, 3:4] - p[:, 0:1] * logN,
                p[:, 4:5] - p[:, 1:2] * logD,
                p[:, 2:3].expand(-1, logN.numel()),
            ]
        )  # (3, S, n)
        return huber(torch.logsumexp(terms, dim=0) - logL, delta).sum(1)  # (S,)

    x, f = _batched_lbfgs(torch.tensor(starts, dtype=torch.float64), objective, max_iter)
    best, best_value = _best(x, f)
    alpha, beta, e, a, b = best.tolist()
    fit = ScalingLawFit(
        E=math.exp(e),
        A=math.exp(a),
        B=math.exp(b),
        alpha=alpha,
        beta=beta,
        residuals=torch.zeros(0),
        objective=best_value,
        n_starts=len(starts),
    )
    fit.residuals = logL - torch.log(fit.predict(N, D))
    return fit


def fit_power_law(compute, losses, delta=1e-3, max_iter=500):
    """Fit the compute frontier ``L(C) = E + a C^(-α)`` (three constants).

    The same recipe as :func:`fit_scaling_law` (Huber on log residuals, L-BFGS
    from a grid of 27 starts) on ``log L = LSE(e, k - α log(C / C_0))``, where
    ``C_0`` is the geometric mean of ``compute`` (so the fit does not depend
    on the units of ``C``) and ``a = exp(k) C_0^α``.

    Parameters
    ----------
    compute, losses : sequence of float or torch.Tensor
        One entry per run (or per compute budget: its best run).
    delta : float, default 1e-3
        The Huber threshold.
    max_iter : int, default 500
        L-BFGS iterations per start.

    Returns
    -------
    PowerLawFit
        The best fit.

    Raises
    ------
    ValueError
        If the inputs differ in length, have fewer than 3 points or are not positive.
    TypeError
        If an input is not a sequence of numbers.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020, Section 6.
    .. [2] Hoffmann et al., "Training Compute-Optimal Large Language Models", 2022.

    Examples
    --------
    >>> import torch
    >>> from fmref.scaling.fit import fit_power_law
    >>> C = torch.logspace(12, 16, 8)
    >>> L = 2.0 + 300.0 * C ** -0.2
    >>> fit = fit_power_law(C, L)
    >>> round(fit.E, 3), round(fit.alpha, 3), round(fit.a, 1)
    (2.0, 0.2, 300.0)
    """
    C = _as_positive_1d("compute", compute)
    L = _as_positive_1d("losses", losses)
    if C.numel() != L.numel():
        raise ValueError(
            f"compute and losses must have the same length, got {C.numel()} and {L.numel()}"
        )
    if C.numel() < 3:
        raise ValueError(f"losses must have at least 3 points for 3 constants, got {L.numel()}")
    log_c0 = C.log().mean()
    x, logL = C.log() - log_c0, L.log()
    floor = float(L.min())
    starts = list(
        itertools.product(
            [math.log(0.3 * floor), math.log(0.7 * floor), math.log(0.95 * floor)],  # e
            [math.log(0.05 * floor), math.log(0.3 * floor), math.log(floor)],  # k
            [0.05, 0.3, 1.0],  # alpha
        )
    )

    def objective(p):  # p: (S, 3) = (e, k, alpha) per start
        terms = torch.stack([p[:, 0:1].expand(-1, x.numel()), p[:, 1:2] - p[:, 2:3] * x])
        return huber(torch.logsumexp(terms, dim=0) - logL, delta).sum(1)  # (S,)

    xs, f = _batched_lbfgs(torch.tensor(starts, dtype=torch.float64), objective, max_iter)
    best, best_value = _best(xs, f)
    e, k, alpha = best.tolist()
    fit = PowerLawFit(
        E=math.exp(e),
        a=math.exp(k + alpha * float(log_c0)),
        alpha=alpha,
        residuals=torch.zeros(0),
        objective=best_value,
    )
    fit.residuals = logL - torch.log(fit.predict(C))
    return fit


def mini_scaling_run(width, steps, batch=16, block=64, lr=5e-3):
    """One run of a small scaling study: a byte-level GPT on the Python docs; cached.

    A 2-layer, 2-head GPT of width ``width`` (vocabulary of 256 bytes) is
    trained with :func:`fmref.train.loop.train` on the bytes of
    :func:`fmref.text.corpus.python_docs` (AdamW, linear warm-up over a tenth of
    the steps, cosine decay from ``lr`` to ``lr / 10`` ending at the last step,
    seed 0, one thread), and validated once, after the last step, on 16
    batches of the validation split.

    Parameters
    ----------
    width : int
        Model width ``n_embd`` (even: two heads).
    steps : int
        Optimiser steps (the compute budget is ``6 N * steps * batch * block``).
    batch : int, default 16
        Sequences per step.
    block : int, default 64
        Bytes per sequence (the context length).
    lr : float, default 5e-3
        Peak learning rate.

    Returns
    -------
    dict
        ``{"val_loss": float, "seconds": float}``: the final validation loss in
        nats per byte and the training time of the run that was cached.

    Examples
    --------
    >>> from fmref.scaling.fit import mini_scaling_run
    >>> run = mini_scaling_run(width=8, steps=2, batch=2, block=8)
    >>> sorted(run), 4.0 < run["val_loss"] < 6.5  # near ln 256 = 5.55 before training
    (['seconds', 'val_loss'], True)
    """
    from fmref._validate import check_positive, check_positive_int

    for name, value in (("width", width), ("steps", steps), ("batch", batch), ("block", block)):
        check_positive_int(name, value)
    check_positive("lr", lr)

    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.corpus import python_docs
    from fmref.train.loop import TrainConfig, train
    from fmref.zoo import cached, one_thread

    def as_bytes(text):
        return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()

    @one_thread()  # the result must not depend on the caller's thread count
    @torch.enable_grad()  # the caller may be inside torch.no_grad()
    def run():
        train_data = as_bytes(python_docs("train"))
        val_data = as_bytes(python_docs("validation"))
        torch.manual_seed(0)
        config = GPTConfig(vocab_size=256, block_size=block, n_layer=2, n_head=2, n_embd=width)
        model = GPT(config)
        settings = TrainConfig(
            steps=steps,
            batch_size=batch,
            block_size=block,
            lr_max=lr,
            lr_min=lr / 10,
            warmup=max(1, steps // 10),
            eval_interval=steps,
            eval_batches=16,
            seed=0,
        )
        history = train(model, train_data, settings, val_data=val_data)
        return {"val_loss": history["val_loss"][-1], "seconds": history["seconds"]}

    settings = {"width": width, "steps": steps, "batch": batch, "block": block, "lr": lr}
    return cached("mini-scaling-study", settings, run)
