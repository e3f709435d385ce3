"""A scalar reverse-mode automatic differentiation engine, and an MLP built on it.

Every :class:`Value` remembers the values it was computed from and a closure that
pushes its gradient back to them (the chain rule, one operation at a time).
:meth:`Value.backward` sorts the graph topologically and runs those closures in
reverse order. The design follows Karpathy's *micrograd*; the method is
Linnainmaa's reverse mode (1970), the one every deep-learning framework uses.
"""

from __future__ import annotations

import math
import random

from fmref._validate import check_positive_int

__all__ = ["Value", "Neuron", "Layer", "MLP"]


def _as_value(x):
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"operand must be a Value, int or float, got {type(x).__name__}")
    return Value(x)


class Value:
    """A scalar that records how it was computed, so it can be differentiated.

    Parameters
    ----------
    data : float
        The scalar's value.
    _children : tuple of Value, optional
        The operands it was computed from (set by the operators).
    _op : str, optional
        Name of the operation that produced it, for display.

    Attributes
    ----------
    data : float
        The value.
    grad : float
        ``d(output)/d(self)`` after :meth:`backward` was called on an output;
        gradients accumulate (``+=``), as in PyTorch.

    Raises
    ------
    TypeError
        If ``data`` is not a real number.

    References
    ----------
    .. [1] Linnainmaa, "The representation of the cumulative rounding error of an
       algorithm as a Taylor expansion of the local rounding errors", 1970.
    .. [2] Karpathy, "micrograd", https://github.com/karpathy/micrograd, 2020.

    Examples
    --------
    >>> from fmref.autograd.engine import Value
    >>> x, y = Value(2.0), Value(-3.0)
    >>> z = x * y + x.exp()      # z = xy + e^x
    >>> z.backward()
    >>> round(z.data, 4), round(x.grad, 4), y.grad   # dz/dx = y + e^x, dz/dy = x
    (1.3891, 4.3891, 2.0)
    """

    __slots__ = ("data", "grad", "_backward", "_prev", "_op")

    def __init__(self, data, _children=(), _op=""):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"data must be an int or float, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None  # pushes self.grad to the children
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    # -- the primitive operations, each with its local derivative ---------------
    def __add__(self, other):
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(f"exponent must be an int or float, got {type(exponent).__name__}")
        out = Value(self.data**exponent, (self,), f"**{exponent}")

        def _backward():  # d(a^p)/da = p a^(p-1)
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        """``e**self``; its derivative is itself."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        """Natural logarithm; raises ``ValueError`` for ``data <= 0``."""
        if self.data <= 0:
            raise ValueError(f"log needs data > 0, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(log a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self):
        """Hyperbolic tangent; derivative ``1 - tanh**2``."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        """``max(0, self)``; derivative 1 where positive, else 0."""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    # -- everything else is built from the primitives ---------------------------
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_as_value(other))

    def __truediv__(self, other):
        return self * _as_value(other) ** -1.0

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return _as_value(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return _as_value(other) / self

    def backward(self):
        """Fill ``.grad`` of every Value this one depends on (reverse-mode AD).

        Sets ``self.grad = 1`` and applies the chain rule from the output back
        to the leaves, visiting each node after every node that uses it.
        """
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        self.grad = 1.0
        for node in reversed(order):  # outputs before inputs
            node._backward()


class Neuron:
    """One unit: ``act(w · x + b)`` on Values.

    Parameters
    ----------
    n_in : int
        Number of inputs.
    nonlin : bool, default True
        Apply ``tanh`` (``False``: a linear unit, for output layers).
    rng : random.Random, optional
        Source of the initial weights, uniform in ``[-1, 1] / sqrt(n_in)``.

    Examples
    --------
    >>> import random
    >>> from fmref.autograd.engine import Neuron
    >>> n = Neuron(2, rng=random.Random(0))
    >>> len(n.parameters()), -1 < n([1.0, -2.0]).data < 1
    (3, True)
    """

    def __init__(self, n_in, nonlin=True, rng=None):
        check_positive_int("n_in", n_in)
        rng = rng or random.Random(0)
        scale = 1.0 / math.sqrt(n_in)
        self.w = [Value(rng.uniform(-scale, scale)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self):
        """The weights, then the bias."""
        return self.w + [self.b]


class Layer:
    """A fully connected layer of :class:`Neuron` s.

    Parameters
    ----------
    n_in, n_out : int
        Inputs and outputs.
    nonlin : bool, default True
        ``tanh`` units (``False``: linear units).
    rng : random.Random, optional
        Source of the initial weights.

    Examples
    --------
    >>> from fmref.autograd.engine import Layer
    >>> layer = Layer(3, 2)
    >>> len(layer([1.0, 2.0, 3.0])), len(layer.parameters())
    (2, 8)
    """

    def __init__(self, n_in, n_out, nonlin=True, rng=None):
        check_positive_int("n_in", n_in)
        check_positive_int("n_out", n_out)
        rng = rng or random.Random(0)
        self.neurons = [Neuron(n_in, nonlin, rng) for _ in range(n_out)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        """Every neuron's parameters."""
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """A multilayer perceptron on :class:`Value` s: tanh hidden layers, linear output.

    Parameters
    ----------
    n_in : int
        Input size.
    sizes : list of int
        Output size of each layer; the last layer is linear.
    seed : int, default 0
        Seed of the initial weights.

    Raises
    ------
    ValueError
        If ``n_in`` or a size is not a positive int, or ``sizes`` is empty.

    Examples
    --------
    A 2-16-1 network learns XOR-like labels with plain gradient descent:

    >>> from fmref.autograd.engine import MLP
    >>> X = [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]
    >>> y = [1.0, 1.0, -1.0, -1.0]
    >>> net = MLP(2, [16, 1], seed=0)
    >>> for step in range(100):
    ...     loss = sum((net(x)[0] - t) ** 2 for x, t in zip(X, y)) / len(X)
    ...     net.zero_grad()
    ...     loss.backward()
    ...     for p in net.parameters():
    ...         p.data -= 0.1 * p.grad
    >>> loss.data < 0.05, [1.0 if net(x)[0].data > 0 else -1.0 for x in X] == y
    (True, True)
    """

    def __init__(self, n_in, sizes, seed=0):
        dims = [n_in, *sizes]
        if not sizes or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims):
            raise ValueError(
                f"n_in and sizes must be positive ints (sizes non-empty), got "
                f"n_in={n_in!r}, sizes={sizes!r}"
            )
        rng = random.Random(seed)
        self.layers = [
            Layer(dims[i], dims[i + 1], nonlin=i < len(sizes) - 1, rng=rng)
            for i in range(len(sizes))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        """Every layer's parameters."""
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        """Set every parameter's ``grad`` to 0 (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0
