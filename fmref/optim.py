"""Gradient descent, momentum, Adam and AdamW, written out as tensor updates.

Each function updates one parameter tensor in place from its gradient and a
small ``state`` dict that the caller keeps between steps (the optimiser's
memory: a momentum buffer, or Adam's two moment estimates and step count). The
formulas are those of :mod:`torch.optim` with its defaults, and the tests check
20 steps of each against it to 1e-12 in float64.

The cost of that memory is the reason optimiser state dominates training
memory: SGD with momentum keeps one extra number per parameter, Adam and AdamW
two (plus the step count), which :func:`state_numel` counts.
"""

from __future__ import annotations

import math

import torch

__all__ = ["sgd_step", "adam_step", "adamw_step", "state_numel"]


def _check(param, grad, state, lr):
    if not isinstance(param, torch.Tensor) or not isinstance(grad, torch.Tensor):
        raise TypeError(
            "param and grad must be torch.Tensors, got "
            f"{type(param).__name__} and {type(grad).__name__}"
        )
    if param.shape != grad.shape:
        raise ValueError(
            f"grad must have the shape of param {tuple(param.shape)}, got {tuple(grad.shape)}"
        )
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    if not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}")


@torch.no_grad()
def sgd_step(
    param, grad, state, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0
):
    r"""One step of stochastic gradient descent, with optional (Nesterov) momentum.

    .. math::

        g \leftarrow g + \lambda\theta,\quad
        b \leftarrow \mu b + (1-\tau) g \;(b = g \text{ at the first step}),\quad
        \theta \leftarrow \theta - \eta\,(g + \mu b \text{ if Nesterov else } b).

    Parameters
    ----------
    param : torch.Tensor
        The parameter, updated in place.
    grad : torch.Tensor
        Its gradient.
    state : dict
        The optimiser's memory for this parameter; start with ``{}``. Holds
        ``"momentum_buffer"`` when ``momentum > 0``.
    lr : float
        Learning rate :math:`\eta`.
    momentum : float, default 0.0
        Momentum :math:`\mu`; 0 is plain gradient descent.
    dampening : float, default 0.0
        Dampening :math:`\tau` of the gradient added to the buffer.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    weight_decay : float, default 0.0
        L2 penalty :math:`\lambda` added to the gradient.

    Raises
    ------
    TypeError
        If ``param``/``grad`` are not tensors or ``state`` is not a dict.
    ValueError
        If the shapes differ, ``lr < 0``, ``momentum < 0``, or Nesterov is asked
        for without momentum or with dampening.

    References
    ----------
    .. [1] Polyak, "Some methods of speeding up the convergence of iteration
       methods", 1964.
    .. [2] Sutskever et al., "On the importance of initialization and momentum in
       deep learning", ICML 2013.

    Examples
    --------
    Minimise :math:`\theta^2` (gradient :math:`2\theta`) from :math:`\theta = 1`:

    >>> import torch
    >>> from fmref.optim import sgd_step
    >>> theta, state = torch.tensor([1.0]), {}
    >>> for _ in range(3):
    ...     sgd_step(theta, 2 * theta, state, lr=0.1, momentum=0.9)
    >>> theta, state["momentum_buffer"]
    (tensor([0.0620]), tensor([3.9800]))
    """
    _check(param, grad, state, lr)
    if momentum < 0:
        raise ValueError(f"momentum must be >= 0, got {momentum}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "nesterov needs momentum > 0 and dampening = 0, got "
            f"momentum={momentum}, dampening={dampening}"
        )
    d_p = grad + weight_decay * param if weight_decay else grad
    if momentum:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = d_p.clone()  # the first step uses g itself
        else:
            buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
        d_p = d_p + momentum * buf if nesterov else buf
    param.add_(d_p, alpha=-lr)


@torch.no_grad()
def adam_step(
    param,
    grad,
    state,
    *,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
):
    r"""One step of Adam: per-coordinate steps scaled by running gradient moments.

    .. math::

        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \theta - \eta\,\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}.

    The weight decay :math:`\lambda` is added to the gradient (L2 regularisation,
    ``torch.optim.Adam``), or with ``decoupled_weight_decay=True`` applied to
    the weights directly, :math:`\theta \leftarrow (1 - \eta\lambda)\theta`,
    before the step (AdamW).

    Parameters
    ----------
    param : torch.Tensor
        The parameter, updated in place.
    grad : torch.Tensor
        Its gradient.
    state : dict
        Start with ``{}``; holds ``"step"``, ``"exp_avg"`` (:math:`m`) and
        ``"exp_avg_sq"`` (:math:`v`).
    lr : float, default 1e-3
        Learning rate :math:`\eta`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the two moment estimates, each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 0.0
        :math:`\lambda`.
    decoupled_weight_decay : bool, default False
        AdamW's decay instead of Adam's L2 penalty.

    Raises
    ------
    TypeError
        If ``param``/``grad`` are not tensors or ``state`` is not a dict.
    ValueError
        If the shapes differ, ``lr < 0`` or a beta is outside ``[0, 1)``.

    References
    ----------
    .. [1] Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.

    Examples
    --------
    Adam's first step moves every coordinate by about ``lr``, whatever the
    gradient's scale:

    >>> import torch
    >>> from fmref.optim import adam_step
    >>> theta, state = torch.tensor([1.0, 1.0]), {}
    >>> adam_step(theta, torch.tensor([100.0, 0.01]), state, lr=0.1)
    >>> theta, state["step"]
    (tensor([0.9000, 0.9000]), 1)
    """
    _check(param, grad, state, lr)
    beta1, beta2 = betas
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"betas must be in [0, 1), got {betas}")
    if weight_decay and decoupled_weight_decay:
        param.mul_(1 - lr * weight_decay)  # AdamW: decay the weights, not the gradient
    elif weight_decay:
        grad = grad + weight_decay * param  # Adam: L2 penalty in the gradient
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(param), exp_avg_sq=torch.zeros_like(param))
    state["step"] += 1
    t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
    m.lerp_(grad, 1 - beta1)  # m = b1 m + (1 - b1) g
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v = b2 v + (1 - b2) g^2
    step_size = lr / (1 - beta1**t)  # bias correction of m
    denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)  # bias-corrected sqrt(v) + eps
    param.addcdiv_(m, denom, value=-step_size)


def adamw_step(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    r"""One step of AdamW: Adam with weight decay decoupled from the gradient.

    The decay :math:`\theta \leftarrow (1-\eta\lambda)\theta` shrinks every
    weight by the same factor, instead of passing through Adam's per-coordinate
    scaling (where a coordinate with large gradients would hardly be decayed).
    Same arguments and defaults as ``torch.optim.AdamW``; see :func:`adam_step`.

    Parameters
    ----------
    param, grad : torch.Tensor
        Parameter (updated in place) and gradient.
    state : dict
        As for :func:`adam_step`.
    lr : float, default 1e-3
        Learning rate.
    betas : tuple of float, default (0.9, 0.999)
        Moment decay rates.
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 1e-2
        Decoupled decay :math:`\lambda`.

    Raises
    ------
    TypeError, ValueError
        As :func:`adam_step`.

    References
    ----------
    .. [1] Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    Examples
    --------
    With a zero gradient only the decay acts: :math:`\theta (1 - \eta\lambda)`.

    >>> import torch
    >>> from fmref.optim import adamw_step
    >>> theta = torch.tensor([2.0])
    >>> adamw_step(theta, torch.zeros(1), {}, lr=0.1, weight_decay=0.5)
    >>> theta
    tensor([1.9000])
    """
    adam_step(
        param,
        grad,
        state,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        decoupled_weight_decay=True,
    )


def state_numel(states):
    """Numbers an optimiser keeps in memory, over all parameters' states.

    Parameters
    ----------
    states : iterable of dict
        The ``state`` dicts passed to the step functions.

    Returns
    -------
    int
        Total number of tensor elements in the states (scalars such as the step
        count are not counted).

    Examples
    --------
    Adam keeps two numbers per parameter, SGD with momentum one:

    >>> import torch
    >>> from fmref.optim import adam_step, sgd_step, state_numel
    >>> w = torch.zeros(10, 10)
    >>> adam, sgd = {}, {}
    >>> adam_step(w, torch.ones(10, 10), adam)
    >>> sgd_step(w, torch.ones(10, 10), sgd, lr=0.1, momentum=0.9)
    >>> state_numel([adam]), state_numel([sgd])
    (200, 100)
    """
    if isinstance(states, dict) or not hasattr(states, "__iter__"):
        raise TypeError(f"states must be an iterable of state dicts, got {type(states).__name__}")
    return sum(v.numel() for s in states for v in s.values() if isinstance(v, torch.Tensor))
