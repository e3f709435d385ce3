"""Softmax, log-softmax and cosine similarity, written out.

A language model ends in a vector of *logits*, one score per token of the
vocabulary; softmax turns it into a probability distribution. Subtracting the
maximum first leaves the result unchanged (softmax is shift-invariant) and
keeps ``exp`` from overflowing. A temperature ``tau`` divides the logits first:
``tau < 1`` sharpens the distribution, ``tau > 1`` flattens it.

References
----------
.. [1] Bridle, "Probabilistic Interpretation of Feedforward Classification
   Network Outputs, with Relationships to Statistical Pattern Recognition", 1990.
.. [2] Goodfellow, Bengio and Courville, "Deep Learning", MIT Press 2016,
   section 6.2.2.3 (softmax units) and 4.1 (numerical stability).
"""

from __future__ import annotations

import torch

from fmref._validate import check_tensor

__all__ = ["softmax", "log_softmax", "cosine_similarity"]


def _check(x: torch.Tensor, temperature: float) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"x must be a floating-point tensor, got "
            f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def softmax(x: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    r"""Numerically stable softmax with a temperature.

    .. math:: \mathrm{softmax}(x / \tau)_i = \frac{e^{(x_i - m)/\tau}}{\sum_j e^{(x_j - m)/\tau}},
       \quad m = \max_j x_j

    Parameters
    ----------
    x : torch.Tensor
        Logits, any shape, floating point.
    dim : int, optional
        Dimension that sums to 1 (default the last).
    temperature : float, optional
        :math:`\tau > 0` (default 1.0).

    Returns
    -------
    torch.Tensor
        Probabilities, the shape of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If ``temperature`` is not positive.

    Examples
    --------
    >>> import torch
    >>> from fmref.text.functional import softmax
    >>> logits = torch.tensor([2.0, 1.0, 0.1])
    >>> softmax(logits)
    tensor([0.6590, 0.2424, 0.0986])
    >>> softmax(logits, temperature=0.5)  # sharper
    tensor([0.8638, 0.1169, 0.0193])
    >>> softmax(torch.tensor([1000.0, 1000.0]))  # no overflow
    tensor([0.5000, 0.5000])
    """
    _check(x, temperature)
    z = x / temperature
    z = z - z.amax(dim=dim, keepdim=True)  # largest entry becomes 0: exp(z) <= 1
    e = z.exp()
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    r"""Numerically stable log-softmax (the log-sum-exp trick).

    .. math:: \log \mathrm{softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m}

    Parameters
    ----------
    x : torch.Tensor
        Logits, any shape, floating point.
    dim : int, optional
        Dimension to normalise over (default the last).
    temperature : float, optional
        :math:`\tau > 0` (default 1.0); the logits are divided by it first.

    Returns
    -------
    torch.Tensor
        Log-probabilities, the shape of ``x``; finite even where ``softmax``
        underflows to 0.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If ``temperature`` is not positive.

    Examples
    --------
    >>> import torch
    >>> from fmref.text.functional import log_softmax
    >>> log_softmax(torch.tensor([2.0, 1.0, 0.1]))
    tensor([-0.4170, -1.4170, -2.3170])
    >>> log_softmax(torch.tensor([0.0, -200.0]))  # softmax would give exactly 0
    tensor([   0., -200.])
    """
    _check(x, temperature)
    z = x / temperature
    z = z - z.amax(dim=dim, keepdim=True)
    return z - z.exp().sum(dim=dim, keepdim=True).log()


def cosine_similarity(
    a: torch.Tensor, b: torch.Tensor, dim: int = -1, eps: float = 1e-8
) -> torch.Tensor:
    r"""Cosine of the angle between vectors: :math:`a \cdot b / (\|a\| \|b\|)`.

    Parameters
    ----------
    a, b : torch.Tensor
        Floating-point tensors that broadcast against each other.
    dim : int, optional
        Dimension holding the vector entries (default the last).
    eps : float, optional
        Lower bound on each norm, so a zero vector gives 0 rather than NaN.

    Returns
    -------
    torch.Tensor
        Similarities in ``[-1, 1]``, with ``dim`` removed.

    Raises
    ------
    TypeError
        If ``a`` or ``b`` is not a floating-point tensor.

    Examples
    --------
    >>> import torch
    >>> from fmref.text.functional import cosine_similarity
    >>> cosine_similarity(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))
    tensor(0.7071)
    >>> words = torch.tensor([[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]])  # (3, 2)
    >>> cosine_similarity(words[:, None], words[None, :])  # all pairs, (3, 3)
    tensor([[ 1.,  1., -1.],
            [ 1.,  1., -1.],
            [-1., -1.,  1.]])
    """
    check_tensor("a", a, dtype="float")
    check_tensor("b", b, dtype="float")
    if a.shape[dim] != b.shape[dim]:
        raise ValueError(
            f"b must have the size of a along dim={dim} ({a.shape[dim]}), got {b.shape[dim]}"
        )
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
    dot = (a * b).sum(dim=dim)
    norms = a.norm(dim=dim).clamp_min(eps) * b.norm(dim=dim).clamp_min(eps)
    return dot / norms
