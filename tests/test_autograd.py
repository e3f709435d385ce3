"""Tests of fmref.autograd: the scalar engine and the hand-derived backward passes
against torch.autograd (float64)."""

import math
import random

import pytest
import torch

from fmref.autograd.engine import MLP, Layer, Neuron, Value
from fmref.autograd.manual import cross_entropy_backward, layer_norm_backward, linear_backward

UNARY = ["exp", "tanh", "relu", "log", "neg", "square", "inv"]
BINARY = ["+", "-", "*", "/"]


def _random_expression(rng, leaves, depth):
    """A random expression tree over ``leaves``, as a function of (ops-namespace, xs)."""
    if depth == 0:
        i = rng.randrange(len(leaves))
        return lambda xs: xs[i]
    if rng.random() < 0.4:
        op = rng.choice(UNARY)
        sub = _random_expression(rng, leaves, depth - 1)

        def unary(xs):
            a = sub(xs)
            if op == "exp":
                return (a * 0.3).exp()
            if op == "tanh":
                return a.tanh()
            if op == "relu":
                return a.relu()
            if op == "log":  # keep the argument positive
                return (a * a + 1.0).log()
            if op == "neg":
                return -a
            if op == "square":
                return a**2
            return 1.0 / (a * a + 0.5)

        return unary
    op = rng.choice(BINARY)
    left = _random_expression(rng, leaves, depth - 1)
    right = _random_expression(rng, leaves, depth - 1)

    def binary(xs):
        a, b = left(xs), right(xs)
        if op == "+":
            return 2.0 + a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / (b * b + 1.0)

    return binary


@pytest.mark.parametrize("seed", range(25))
def test_value_gradients_equal_torch_autograd_on_random_expressions(seed):
    rng = random.Random(seed)
    n = 4
    expr = _random_expression(rng, list(range(n)), depth=rng.randint(2, 5))
    data = [rng.uniform(-2, 2) for _ in range(n)]
    xs = [Value(d) for d in data]
    out = expr(xs)
    out = out if isinstance(out, Value) else Value(0.0) + out
    out.backward()
    ts = [torch.tensor(d, dtype=torch.float64, requires_grad=True) for d in data]
    ref = expr(ts)
    assert out.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    grads = torch.autograd.grad(ref, ts, allow_unused=True)
    for v, g in zip(xs, grads):
        expected = 0.0 if g is None else g.item()
        assert abs(v.grad - expected) <= 1e-9 * max(1.0, abs(expected))


def test_value_operators_and_reverse_operators():
    a, b = Value(3.0), Value(2.0)
    out = 1.0 - a / b + 2 * a - 4 / b + (a + 1) * 0.5 - (a - 1)
    out.backward()
    # d/da = -1/b + 2 + 0.5 - 1 = 1.0 ; d/db = a/b^2 + 4/b^2 = 0.75 + 1 = 1.75
    assert out.data == pytest.approx(1 - 1.5 + 6 - 2 + 2 - 2)
    assert a.grad == pytest.approx(1.0) and b.grad == pytest.approx(1.75)
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0)"


def test_value_reused_node_accumulates_gradient():
    x = Value(3.0)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == 7.0


def test_relu_gradient_is_zero_for_negative_input():
    x = Value(-1.0)
    y = x.relu() * 5
    y.backward()
    assert y.data == 0.0 and x.grad == 0.0


def test_deep_chain_does_not_hit_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_value_rejects_bad_input():
    with pytest.raises(TypeError, match="data must be an int or float"):
        Value("1")
    with pytest.raises(TypeError, match="data must be an int or float"):
        Value(True)
    with pytest.raises(TypeError, match="operand must be a Value"):
        Value(1.0) + "x"
    with pytest.raises(TypeError, match="exponent must be"):
        Value(1.0) ** Value(2.0)
    with pytest.raises(ValueError, match="log needs data > 0"):
        Value(0.0).log()


def test_mlp_gradients_match_torch_for_the_same_weights():
    net = MLP(3, [4, 2], seed=1)
    x = [0.5, -1.0, 2.0]
    out = net(x)
    loss = out[0] * out[0] + out[1]
    net.zero_grad()
    loss.backward()
    # the same network in torch
    W1 = torch.tensor(
        [[w.data for w in n.w] for n in net.layers[0].neurons],
        dtype=torch.float64,
        requires_grad=True,
    )
    b1 = torch.tensor(
        [n.b.data for n in net.layers[0].neurons], dtype=torch.float64, requires_grad=True
    )
    W2 = torch.tensor(
        [[w.data for w in n.w] for n in net.layers[1].neurons],
        dtype=torch.float64,
        requires_grad=True,
    )
    b2 = torch.tensor(
        [n.b.data for n in net.layers[1].neurons], dtype=torch.float64, requires_grad=True
    )
    h = torch.tanh(W1 @ torch.tensor(x, dtype=torch.float64) + b1)
    o = W2 @ h + b2  # linear output layer
    ref = o[0] ** 2 + o[1]
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), abs=1e-12)
    got = torch.tensor([[w.grad for w in n.w] for n in net.layers[0].neurons], dtype=torch.float64)
    torch.testing.assert_close(got, W1.grad, rtol=0, atol=1e-9)
    got = torch.tensor([n.b.grad for n in net.layers[1].neurons], dtype=torch.float64)
    torch.testing.assert_close(got, b2.grad, rtol=0, atol=1e-9)
    assert len(net.parameters()) == 3 * 4 + 4 + 4 * 2 + 2


def test_mlp_rejects_bad_sizes_and_layers_default_rng():
    with pytest.raises(ValueError, match="sizes must be positive ints"):
        MLP(2, [])
    with pytest.raises(ValueError, match="sizes must be positive ints"):
        MLP(2, [0, 1])
    assert len(Neuron(3).parameters()) == 4
    assert len(Layer(2, 3, nonlin=False)([1.0, 1.0])) == 3


# -- hand-derived backward passes -------------------------------------------------
def _gradcheck(fn, *inputs):
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


def test_linear_backward_matches_autograd_with_batch_and_time_dims():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, dtype=torch.float64, generator=g, requires_grad=True)
    W = torch.randn(4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, generator=g, requires_grad=True)
    _gradcheck(lambda x, W, b: x @ W.T + b, x, W, b)
    gout = torch.randn(2, 3, 4, dtype=torch.float64, generator=g)
    (x @ W.T + b).backward(gout)
    gx, gW, gb = linear_backward(x.detach(), W.detach(), gout)
    for ours, ref in ((gx, x.grad), (gW, W.grad), (gb, b.grad)):
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_cross_entropy_backward_matches_autograd_and_rows_sum_to_zero():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 7, dtype=torch.float64, generator=g, requires_grad=True) * 3
    t = torch.randint(0, 7, (6,), generator=g)
    z.retain_grad()
    torch.nn.functional.cross_entropy(z, t).backward()
    ours = cross_entropy_backward(z.detach(), t)
    torch.testing.assert_close(ours, z.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.sum(-1), torch.zeros(6, dtype=torch.float64))
    leaf = z.detach().requires_grad_()
    _gradcheck(lambda z: torch.nn.functional.cross_entropy(z, t), leaf)


def test_layer_norm_backward_matches_autograd():
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(3, 4, 8, dtype=torch.float64, generator=g) * 4 + 1).requires_grad_()
    w = torch.randn(8, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(8, dtype=torch.float64, generator=g, requires_grad=True)
    fn = lambda x, w, b: torch.nn.functional.layer_norm(x, (8,), w, b, eps=1e-5)  # noqa: E731
    _gradcheck(fn, x, w, b)
    gout = torch.randn(3, 4, 8, dtype=torch.float64, generator=g)
    fn(x, w, b).backward(gout)
    gx, gw, gb = layer_norm_backward(x.detach(), w.detach(), gout, eps=1e-5)
    for ours, ref in ((gx, x.grad), (gw, w.grad), (gb, b.grad)):
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_manual_backward_rejects_bad_input():
    x, W = torch.randn(2, 3), torch.randn(4, 3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        linear_backward([1.0], W, torch.randn(2, 4))
    with pytest.raises(ValueError, match="weight must have shape"):
        linear_backward(x, torch.randn(4, 5), torch.randn(2, 4))
    with pytest.raises(ValueError, match="grad_out must have shape"):
        linear_backward(x, W, torch.randn(2, 5))
    with pytest.raises(TypeError, match="targets must be an integer tensor"):
        cross_entropy_backward(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must be"):
        cross_entropy_backward(torch.randn(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="weight must have shape"):
        layer_norm_backward(x, torch.ones(4), x)
    with pytest.raises(ValueError, match="grad_out must have shape"):
        layer_norm_backward(x, torch.ones(3), torch.randn(3, 3))
    assert math.isfinite(float(cross_entropy_backward(torch.randn(1, 2), torch.tensor([1])).sum()))
