"""Tests of fmref.train.loop.fit, the package's one optimiser loop, and its helpers."""

import ast
import math
import pathlib

import pytest
import torch
from torch import nn

import fmref
from fmref.train.loop import chunk_means, cosine_schedule, epoch_batches, fit, minimize_lbfgs

X = torch.linspace(-1, 1, 16)[:, None].repeat(1, 3)  # (16, 3)
Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])  # (16, 1)


def tiny(dropout=0.0):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Dropout(dropout), nn.Tanh(), nn.Linear(8, 1))


def mse(model, idx):
    return ((model(X[idx]) - Y[idx]) ** 2).mean()


def test_fit_reproduces_a_hand_written_loop_exactly():
    # the loop fit replaced in every recipe: shuffled epochs, LambdaLR warm-up + cosine,
    # AdamW with decay, clipping
    epochs, batch, lr = 4, 5, 0.05
    steps = epochs * math.ceil(len(X) / batch)
    ref = tiny()
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.AdamW(ref.parameters(), lr=lr, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: cosine_schedule(s, 3, steps, 1.0, 0.0)
    )
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), batch):
            loss = mse(ref, perm[i : i + batch])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
            opt.step()
            sched.step()
            losses.append(loss.item())

    model = tiny()
    g = torch.Generator().manual_seed(1)
    history = fit(
        model,
        epoch_batches(len(X), batch, epochs, g),
        mse,
        steps,
        lr=lambda s: lr * cosine_schedule(s, 3, steps, 1.0, 0.0),
        weight_decay=0.1,
        grad_clip=0.5,
    )
    assert history["loss"] == losses
    for a, b in zip(ref.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_schedule_sets_the_rate_of_every_step():
    model = tiny()
    opt = torch.optim.SGD(model.parameters(), lr=9.0)  # a given optimiser: fit sets its rate
    seen = []

    def loss_fn(model, idx):
        seen.append(opt.param_groups[0]["lr"])  # the rate of the step being taken
        return mse(model, idx)

    schedule = [0.3, 0.2, 0.1, 0.05]
    history = fit(model, lambda s: torch.arange(4), loss_fn, 4, lr=lambda s: schedule[s],
                  optimizer=opt)
    assert seen == history["lr"] == schedule and history["step"] == [1, 2, 3, 4]


def test_eval_hook_steps_mode_and_grad():
    calls = []

    def probe(model):
        calls.append((model.training, torch.is_grad_enabled()))
        return len(calls)

    model = tiny().eval()
    history = fit(model, lambda s: torch.arange(4), mse, 10, eval_fn=probe, eval_every=3)
    assert history["eval_step"] == [3, 6, 9, 10] and history["eval"] == [1, 2, 3, 4]
    assert calls == [(False, False)] * 4
    assert not model.training  # the caller's mode comes back
    history = fit(tiny(), lambda s: torch.arange(4), mse, 5, eval_fn=probe)  # eval_every=0
    assert history["eval_step"] == [5]


def test_after_step_runs_every_step_without_grad():
    seen = []

    def clamp(model):
        seen.append(torch.is_grad_enabled())
        model[0].weight.clamp_(-0.01, 0.01)

    model = tiny()
    fit(model, lambda s: torch.arange(16), mse, 4, lr=0.5, after_step=clamp)
    assert seen == [False] * 4 and model[0].weight.abs().max().item() <= 0.01


def test_seed_determinism_and_caller_rng():
    def run(seed):
        model = tiny(dropout=0.5)
        torch.manual_seed(123)
        history = fit(model, lambda s: torch.arange(16), mse, 5, lr=0.01, seed=seed)
        return history["loss"], torch.rand(1)

    (a, after_a), (b, _), (c, _) = run(7), run(7), run(8)
    assert a == b and a != c
    torch.manual_seed(123)
    assert torch.equal(after_a, torch.rand(1))  # the fork left the caller's RNG as it was
    unseeded = run(None)  # draws dropout masks from the caller's RNG
    torch.manual_seed(123)
    expected = torch.rand(1)
    assert not torch.equal(unseeded[1], expected)


def test_decay_matrices_only():
    def one_step(decay):
        model = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
        nn.init.ones_(model[1].bias)  # not 0, which decay would leave as it is
        before = [p.detach().clone() for p in model.parameters()]
        zero = lambda m, b: sum(p.sum() for p in m.parameters()) * 0.0  # noqa: E731
        fit(model, [None], zero, 1, lr=0.1, weight_decay=0.5, decay=decay)
        return [torch.equal(a, b) for a, b in zip(before, model.parameters())]

    # zero gradients: only the decoupled decay moves a parameter, by the factor 1 - 0.05
    assert one_step("matrices") == [False, True, True, True]  # weight | bias, gain, bias
    assert one_step("all") == [False, False, False, False]


def test_grad_norm_recorded_and_clipped(capsys):
    model = tiny()
    history = fit(model, lambda s: torch.arange(16), mse, 2, lr=0.0, grad_clip=1e-3,
                  eval_fn=lambda m: 0.5, log_every=1)
    assert history["grad_norm"][0] > 1e-3  # the norm before clipping
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert grads.norm().item() == pytest.approx(1e-3, rel=1e-3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("step     2/2  loss")
    assert lines[1].endswith("eval 0.5000")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be a positive int"),
        ({"steps": 2.0}, "steps must be a positive int"),
        ({"eval_every": -1}, "eval_every must be a non-negative int"),
        ({"log_every": 0.5}, "log_every must be a non-negative int"),
        ({"decay": "biases"}, "decay must be 'all' or 'matrices'"),
    ],
)
def test_fit_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny(), lambda s: torch.arange(4), mse, **{"steps": 3, **kwargs})


def test_batches_running_out():
    with pytest.raises(ValueError, match="batches ran out after 2 steps"):
        fit(tiny(), [torch.arange(4)] * 2, mse, 3)


def test_epoch_batches_and_chunk_means():
    g = torch.Generator().manual_seed(0)
    batches = list(epoch_batches(7, 3, 2, g))
    assert [len(b) for b in batches] == [3, 3, 1, 3, 3, 1]
    assert sorted(torch.cat(batches[:3]).tolist()) == list(range(7))  # each once per epoch
    assert chunk_means([1.0, 2.0, 3.0, 4.0, 5.0], 2) == [1.5, 3.5]
    with pytest.raises(ValueError, match="size must be a positive int"):
        chunk_means([1.0], 0)


def test_cosine_schedule_rejects_lr_min_above_lr_max():
    with pytest.raises(ValueError, match="lr_min must be <= lr_max"):
        cosine_schedule(0, 0, 10, lr_max=0.1, lr_min=0.2)


def _logistic_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g, dtype=torch.float64)
    y = (x[:, 0] - x[:, 1] > 0).double()
    w = torch.zeros(6, dtype=torch.float64, requires_grad=True)

    def objective():
        z = x @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        return loss + 0.05 * (w[:-1] @ w[:-1])

    return w, objective


def test_minimize_lbfgs_reproduces_a_hand_written_lbfgs_solve_exactly():
    # the solve it replaced in agents/guard.py: one LBFGS.step over a closure
    w_ref, objective_ref = _logistic_problem()
    opt = torch.optim.LBFGS([w_ref], max_iter=30, tolerance_grad=1e-10, tolerance_change=1e-14,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective_ref()
        loss.backward()
        return loss

    opt.step(closure)
    w, objective = _logistic_problem()
    loss = minimize_lbfgs(objective, [w], 30, history_size=20, tolerance_grad=1e-10,
                          tolerance_change=1e-14)
    assert torch.equal(w, w_ref)
    with torch.no_grad():
        assert loss == float(objective_ref())


def test_minimize_lbfgs_finds_known_minima():
    # a quadratic's minimiser solves A x = b; Rosenbrock's minimum is 0 at (1, 1)
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    loss = minimize_lbfgs(lambda: 0.5 * x @ a @ x - b @ x, [x], steps=20)
    solution = torch.linalg.solve(a, b)
    assert torch.allclose(x.detach(), solution, atol=1e-8)
    assert loss == pytest.approx(float(-0.5 * b @ solution), abs=1e-12)
    xy = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    loss = minimize_lbfgs(lambda: (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2, [xy], 100,
                          tolerance_grad=1e-12, tolerance_change=1e-15)
    assert torch.allclose(xy.detach(), torch.ones(2, dtype=torch.float64), atol=1e-6)
    assert 0 <= loss < 1e-12
    few = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    minimize_lbfgs(lambda: (1 - few[0]) ** 2 + 100 * (few[1] - few[0] ** 2) ** 2, [few], 2)
    assert not torch.allclose(few.detach(), torch.ones(2, dtype=torch.float64), atol=1e-2)


def test_minimize_lbfgs_rejects_bad_arguments():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="objective must be a callable"):
        minimize_lbfgs(None, [w])
    with pytest.raises(ValueError, match="params must hold at least one tensor"):
        minimize_lbfgs(lambda: w.sum(), [])
    with pytest.raises(ValueError, match=r"params\[0\] must be a leaf tensor"):
        minimize_lbfgs(lambda: w.sum(), [torch.zeros(2)])
    with pytest.raises(ValueError, match="history_size must be a positive int"):
        minimize_lbfgs(lambda: w.sum(), [w], history_size=0)
    with pytest.raises(ValueError, match="tolerance_grad must be a positive"):
        minimize_lbfgs(lambda: w.sum(), [w], tolerance_grad=-1.0)


def test_no_optimiser_step_outside_fmref_train():
    """fit is the one training loop: no module outside fmref/train/ steps an optimiser."""
    root = pathlib.Path(fmref.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "train":
            continue
        for node in ast.walk(ast.parse(path.read_text())):  # code only: docstrings are strings
            name = None
            if isinstance(node, ast.Attribute) and node.attr in ("optim", "lr_scheduler"):
                name = node.attr  # torch.optim.AdamW(...), torch.optim.lr_scheduler...
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr = node.func.attr
                if attr in ("zero_grad", "backward", "clip_grad_norm_"):
                    name = attr
                elif attr == "step" and not node.args:  # optimizer.step(), sched.step()
                    name = attr
            if name:
                found.append(f"{rel}:{node.lineno} {name}")
    assert found == []
    assert len(list(root.rglob("*.py"))) > 50  # the walk saw the package
