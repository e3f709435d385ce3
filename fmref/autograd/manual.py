"""Backward passes derived by hand, for the three layers every Transformer has.

Reverse-mode differentiation of a whole network is the chain rule applied layer
by layer: each layer receives ``grad_out = dL/d(output)`` and must return
``dL/d(input)`` and ``dL/d(parameters)``. Here are those formulas for a linear
layer, softmax cross-entropy and LayerNorm, written with tensors, so that the
tests (and Appendix A) can compare them with :mod:`torch.autograd`.
"""

from __future__ import annotations

import torch

__all__ = ["linear_backward", "cross_entropy_backward", "layer_norm_backward"]


def _check_tensor(name, t):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point() and name != "targets":
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")


def linear_backward(x, weight, grad_out):
    """Gradients of ``y = x @ weight.T + bias`` (the layout of :class:`torch.nn.Linear`).

    With ``g = dL/dy``: ``dL/dx = g W``, ``dL/dW = g^T x`` and ``dL/db = sum g``,
    summed over every leading (batch, time) dimension.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(..., d_in)``.
    weight : torch.Tensor
        Weight ``(d_out, d_in)``.
    grad_out : torch.Tensor
        ``dL/dy`` of shape ``(..., d_out)``.

    Returns
    -------
    tuple of torch.Tensor
        ``(grad_x, grad_weight, grad_bias)`` with the shapes of ``x``,
        ``weight`` and ``(d_out,)``.

    Raises
    ------
    TypeError
        If an argument is not a tensor.
    ValueError
        If the shapes do not fit together.

    Examples
    --------
    >>> import torch
    >>> from fmref.autograd.manual import linear_backward
    >>> x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    >>> layer = torch.nn.Linear(3, 2, dtype=torch.float64)
    >>> g = torch.randn(4, 2, dtype=torch.float64)
    >>> layer(x).backward(g)
    >>> gx, gw, gb = linear_backward(x.detach(), layer.weight.detach(), g)
    >>> [torch.allclose(a, b) for a, b in ((gx, x.grad), (gw, layer.weight.grad),
    ...                                     (gb, layer.bias.grad))]
    [True, True, True]
    """
    for name, t in (("x", x), ("weight", weight), ("grad_out", grad_out)):
        _check_tensor(name, t)
    if weight.dim() != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"weight must have shape (d_out, {x.shape[-1]}), got {tuple(weight.shape)}"
        )
    if grad_out.shape != (*x.shape[:-1], weight.shape[0]):
        raise ValueError(
            f"grad_out must have shape {(*x.shape[:-1], weight.shape[0])}, "
            f"got {tuple(grad_out.shape)}"
        )
    g2 = grad_out.reshape(-1, weight.shape[0])  # (N, d_out), N = all leading dims
    x2 = x.reshape(-1, weight.shape[1])  # (N, d_in)
    grad_x = grad_out @ weight  # (..., d_in)
    grad_weight = g2.T @ x2  # (d_out, d_in)
    grad_bias = g2.sum(0)  # (d_out,)
    return grad_x, grad_weight, grad_bias


def cross_entropy_backward(logits, targets):
    """Gradient of the mean softmax cross-entropy with respect to the logits.

    For ``L = -(1/N) sum_i log softmax(z_i)[t_i]`` the gradient is
    ``(softmax(z) - onehot(t)) / N``: the predicted distribution minus the
    target one. No softmax Jacobian is ever formed.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, V)`` unnormalised scores.
    targets : torch.Tensor
        ``(N,)`` class indices in ``[0, V)``.

    Returns
    -------
    torch.Tensor
        ``dL/dlogits`` of shape ``(N, V)``; each row sums to 0.

    Raises
    ------
    TypeError
        If an argument is not a tensor or ``targets`` is not integer.
    ValueError
        If the shapes do not match.

    Examples
    --------
    >>> import torch
    >>> from fmref.autograd.manual import cross_entropy_backward
    >>> z = torch.tensor([[2.0, 1.0, 0.1]], dtype=torch.float64, requires_grad=True)
    >>> t = torch.tensor([0])
    >>> torch.nn.functional.cross_entropy(z, t).backward()
    >>> cross_entropy_backward(z.detach(), t)
    tensor([[-0.3410,  0.2424,  0.0986]], dtype=torch.float64)
    >>> torch.allclose(cross_entropy_backward(z.detach(), t), z.grad)
    True
    """
    _check_tensor("logits", logits)
    _check_tensor("targets", targets)
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise TypeError(f"targets must be an integer tensor, got {targets.dtype}")
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"logits must be (N, V) and targets (N,), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    probs = torch.softmax(logits, dim=-1)  # (N, V)
    probs[torch.arange(len(targets)), targets] -= 1.0  # p - onehot(t)
    return probs / logits.shape[0]


def layer_norm_backward(x, weight, grad_out, eps=1e-5):
    r"""Gradients of LayerNorm ``y = weight * (x - mean) / sqrt(var + eps) + bias``.

    With :math:`\hat x = (x - \mu)/\sigma` and :math:`\hat g = g \odot w`, over the
    last dimension of size :math:`C`:

    .. math::

        \frac{\partial L}{\partial x} = \frac{1}{\sigma}\Big(\hat g
        - \operatorname{mean}(\hat g) - \hat x\,\operatorname{mean}(\hat g \odot \hat x)\Big),
        \quad \frac{\partial L}{\partial w} = \sum g \odot \hat x,
        \quad \frac{\partial L}{\partial b} = \sum g.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(..., C)``.
    weight : torch.Tensor
        Gain ``(C,)``.
    grad_out : torch.Tensor
        ``dL/dy``, the shape of ``x``.
    eps : float, default 1e-5
        The constant added to the variance (biased, as in the forward pass).

    Returns
    -------
    tuple of torch.Tensor
        ``(grad_x, grad_weight, grad_bias)``.

    Raises
    ------
    TypeError
        If an argument is not a tensor.
    ValueError
        If the shapes do not match.

    References
    ----------
    .. [1] Ba, Kiros and Hinton, "Layer Normalization", 2016.

    Examples
    --------
    >>> import torch
    >>> from fmref.autograd.manual import layer_norm_backward
    >>> ln = torch.nn.LayerNorm(5, dtype=torch.float64)
    >>> x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    >>> g = torch.randn(2, 3, 5, dtype=torch.float64)
    >>> ln(x).backward(g)
    >>> gx, gw, gb = layer_norm_backward(x.detach(), ln.weight.detach(), g)
    >>> [torch.allclose(a, b) for a, b in ((gx, x.grad), (gw, ln.weight.grad), (gb, ln.bias.grad))]
    [True, True, True]
    """
    for name, t in (("x", x), ("weight", weight), ("grad_out", grad_out)):
        _check_tensor(name, t)
    C = x.shape[-1]
    if weight.shape != (C,):
        raise ValueError(f"weight must have shape ({C},), got {tuple(weight.shape)}")
    if grad_out.shape != x.shape:
        raise ValueError(f"grad_out must have shape {tuple(x.shape)}, got {tuple(grad_out.shape)}")
    mu = x.mean(-1, keepdim=True)  # (..., 1)
    rstd = (x.var(-1, unbiased=False, keepdim=True) + eps).rsqrt()  # (..., 1), 1/sigma
    xhat = (x - mu) * rstd  # (..., C)
    ghat = grad_out * weight  # dL/dxhat
    grad_x = rstd * (
        ghat - ghat.mean(-1, keepdim=True) - xhat * (ghat * xhat).mean(-1, keepdim=True)
    )
    lead = tuple(range(x.dim() - 1))
    return grad_x, (grad_out * xhat).sum(lead), grad_out.sum(lead)
