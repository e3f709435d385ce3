"""fmref.optim against torch.optim: 20 steps of each optimiser on the same gradients."""

import pytest
import torch

from fmref.optim import adam_step, adamw_step, sgd_step, state_numel


def _compare(torch_opt_cls, torch_kwargs, ours, ours_kwargs, steps=20):
    g = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (3,), (2, 2, 2)]
    ref = [torch.randn(s, dtype=torch.float64, generator=g, requires_grad=True) for s in shapes]
    mine = [p.detach().clone() for p in ref]
    states = [{} for _ in mine]
    opt = torch_opt_cls(ref, **torch_kwargs)
    for _ in range(steps):
        grads = [torch.randn(s, dtype=torch.float64, generator=g) for s in shapes]
        for p, gr in zip(ref, grads):
            p.grad = gr.clone()
        opt.step()
        for p, gr, st in zip(mine, grads, states):
            ours(p, gr, st, **ours_kwargs)
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=1e-12)
    return states


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    ],
)
def test_sgd_step_equals_torch_optim_sgd_over_20_steps(kwargs):
    states = _compare(torch.optim.SGD, kwargs, sgd_step, kwargs)
    assert ("momentum_buffer" in states[0]) == ("momentum" in kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=1e-2),
        dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ],
)
def test_adam_step_equals_torch_optim_adam_over_20_steps(kwargs):
    states = _compare(torch.optim.Adam, kwargs, adam_step, kwargs)
    assert states[0]["step"] == 20


@pytest.mark.parametrize(
    "kwargs", [dict(lr=1e-2), dict(lr=3e-2, weight_decay=0.3, betas=(0.9, 0.95))]
)
def test_adamw_step_equals_torch_optim_adamw_over_20_steps(kwargs):
    _compare(torch.optim.AdamW, kwargs, adamw_step, kwargs)


def test_adam_and_adamw_differ_when_weight_decay_is_on():
    p1, p2 = torch.ones(3), torch.ones(3)
    grad = torch.tensor([1.0, 10.0, 100.0])
    adam_step(p1, grad, {}, lr=0.1, weight_decay=0.5)
    adamw_step(p2, grad, {}, lr=0.1, weight_decay=0.5)
    assert not torch.allclose(p1, p2)


def test_state_numel_counts_optimiser_memory():
    w = torch.zeros(4, 5)
    s = {}
    sgd_step(w, torch.ones(4, 5), s, lr=0.1)  # no momentum: no state
    assert state_numel([s]) == 0
    adam_step(w, torch.ones(4, 5), s)
    assert state_numel([s, {}]) == 40


def test_optimisers_reject_bad_input():
    w = torch.zeros(3)
    with pytest.raises(TypeError, match="param and grad must be torch.Tensors"):
        sgd_step([0.0], w, {}, lr=0.1)
    with pytest.raises(ValueError, match="grad must have the shape"):
        sgd_step(w, torch.zeros(4), {}, lr=0.1)
    with pytest.raises(TypeError, match="state must be a dict"):
        sgd_step(w, w, None, lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        adam_step(w, w, {}, lr=-1.0)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        sgd_step(w, w, {}, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov needs momentum"):
        sgd_step(w, w, {}, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must be in"):
        adam_step(w, w, {}, betas=(1.0, 0.9))
