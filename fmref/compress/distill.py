"""Knowledge distillation: a student learns from a teacher's soft targets.

The teacher's distribution, softened with a temperature ``T``, says how similar
the wrong answers are ("dark knowledge"). The student minimises

.. math::

   \\mathcal{L} = \\alpha\\, T^2\\, \\mathrm{KL}\\big(\\mathrm{softmax}(z_t / T)
   \\,\\|\\, \\mathrm{softmax}(z_s / T)\\big) + (1 - \\alpha)\\, \\mathrm{CE}(z_s, y).

The ``T²`` keeps the soft term's gradients the same size whatever ``T``
(they scale as ``1/T²``).
"""

from __future__ import annotations

from torch.nn import functional as F

__all__ = ["distillation_loss"]


def distillation_loss(student_logits, teacher_logits, temperature=2.0, alpha=0.5, labels=None):
    """Hinton et al.'s distillation loss, averaged over positions.

    Parameters
    ----------
    student_logits : torch.Tensor
        ``(..., vocab)``.
    teacher_logits : torch.Tensor
        ``(..., vocab)``, same shape; no gradient flows into it.
    temperature : float, default 2.0
        ``T > 0``; larger spreads the teacher's mass over more tokens.
    alpha : float, default 0.5
        Weight of the soft term in ``[0, 1]``; ignored (taken as 1) without ``labels``.
    labels : torch.Tensor, optional
        ``(...,)`` token ids for the hard cross-entropy term; ``-100`` is ignored.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ValueError
        If the shapes differ, ``temperature <= 0`` or ``alpha`` is outside ``[0, 1]``.

    References
    ----------
    .. [1] Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
       Network", 2015.

    Examples
    --------
    >>> import torch
    >>> from fmref.compress.distill import distillation_loss
    >>> teacher = torch.tensor([[4.0, 1.0, 0.0]])
    >>> round(distillation_loss(teacher, teacher).item(), 6)  # identical: KL = 0
    0.0
    >>> student = torch.zeros(1, 3, requires_grad=True)
    >>> loss = distillation_loss(student, teacher, temperature=2.0)
    >>> round(loss.item(), 4)
    1.3865
    >>> loss = distillation_loss(student, teacher, alpha=0.5, labels=torch.tensor([0]))
    >>> loss.backward(); student.grad.shape
    torch.Size([1, 3])
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"teacher_logits must have the shape of student_logits "
            f"{tuple(student_logits.shape)}, got {tuple(teacher_logits.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    vocab = student_logits.shape[-1]
    s = F.log_softmax(student_logits.reshape(-1, vocab) / temperature, dim=-1)  # (N, V)
    t = F.log_softmax(teacher_logits.detach().reshape(-1, vocab) / temperature, dim=-1)
    soft = F.kl_div(s, t, log_target=True, reduction="batchmean") * temperature**2
    if labels is None:
        return soft
    hard = F.cross_entropy(student_logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
    return alpha * soft + (1 - alpha) * hard
