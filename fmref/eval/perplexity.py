"""Perplexity of a causal language model on a long text, with a sliding window.

Perplexity is the exponential of the mean next-token cross-entropy: a
perplexity of 20 means the model is, on average, as unsure as if it chose
uniformly among 20 tokens. A text longer than the model's context is scored in
windows of ``context_len`` tokens whose ends advance by ``stride``; each token
is scored once, in the first window where it is new, so every scored token
after the first window sees at least ``context_len - stride`` tokens of context.

References
----------
.. [1] Jelinek et al., "Perplexity -- a measure of the difficulty of speech
   recognition tasks", JASA 1977.
.. [2] Hugging Face, "Perplexity of fixed-length models", transformers
   documentation (the sliding-window procedure).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["perplexity", "window_nll"]

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


@torch.no_grad()
def perplexity(
    model: nn.Module, tokens: torch.Tensor, context_len: int, stride: int, batch_size: int = 16
) -> float:
    r"""Sliding-window perplexity of ``model`` on a 1-D token sequence.

    .. math:: \mathrm{PPL} = \exp\Big(-\frac{1}{N-1}\sum_{t=2}^{N}
       \log p_\theta(x_t \mid x_{s_t}, \dots, x_{t-1})\Big)

    where :math:`s_t` is the start of the window that scores token :math:`t`.
    The first window covers tokens ``[0, context_len)``; each next window ends
    ``stride`` tokens later and scores only the tokens after the previous
    window's end. The first token has no context and is never scored.
    ``stride = context_len - 1`` makes windows that overlap by one token (few
    windows, short contexts: pessimistic); ``stride = 1`` gives every token a
    full context (one forward pass per token: slow).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(1, T)`` ids to ``(1, T, V)`` logits, ``T <= context_len``; run in
        eval mode, its mode restored afterwards.
    tokens : torch.Tensor
        ``(N,)`` integer ids, ``N >= 2``.
    context_len : int
        Window length, at most the model's context length.
    stride : int
        Step between window ends, ``1 <= stride < context_len``.
    batch_size : int, optional
        Windows per forward pass (default 16); the result does not depend on it.

    Returns
    -------
    float
        The perplexity, at least 1.

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If ``tokens`` is not 1-D with at least 2 entries, ``context_len < 2`` or
        ``stride`` is outside ``[1, context_len - 1]`` or ``batch_size < 1``.

    References
    ----------
    .. [1] Hugging Face, "Perplexity of fixed-length models", transformers documentation.

    Examples
    --------
    >>> import torch
    >>> from fmref.eval.perplexity import perplexity
    >>> class Uniform(torch.nn.Module):  # the same score for each of 50 tokens
    ...     def forward(self, idx):
    ...         return torch.zeros(*idx.shape, 50)
    >>> round(perplexity(Uniform(), torch.arange(200) % 50, context_len=32, stride=16), 4)
    50.0
    """
    _check_ids("tokens", tokens, 1)
    _check_windows(context_len, stride, batch_size)
    was_training = model.training
    model.eval()
    nll = window_nll(model, tokens[None], context_len, stride, batch_size)[0]
    model.train(was_training)
    return math.exp(nll / (len(tokens) - 1))  # every token but the first is scored once


def _check_ids(name, ids, dim):
    if not isinstance(ids, torch.Tensor) or ids.dtype not in _INT_DTYPES:
        kind = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be an integer tensor (torch.long), got {kind}")
    if ids.dim() != dim or ids.shape[-1] < 2:
        raise ValueError(f"{name} must be {dim}-D with at least 2 ids per row, "
                         f"got shape {tuple(ids.shape)}")


def _check_windows(context_len, stride, batch_size):
    if not isinstance(context_len, int) or context_len < 2:
        raise ValueError(f"context_len must be an int >= 2, got {context_len!r}")
    if not isinstance(stride, int) or not 1 <= stride < context_len:
        raise ValueError(
            f"stride must be an int in [1, context_len - 1 = {context_len - 1}], got {stride!r}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


@torch.no_grad()
def window_nll(
    model: nn.Module, rows: torch.Tensor, context_len: int, stride: int, batch_size: int = 16
) -> list[float]:
    """Summed next-token NLL of each row of ``rows``, in :func:`perplexity`'s windows.

    Rows of one length share their windows, so the windows of several rows go
    through the model together: scoring many short documents of one length
    costs a few batched passes instead of one pass each. The caller sets the
    model's mode (:func:`perplexity` puts it in eval mode).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(G, T)`` ids to ``(G, T, V)`` logits.
    rows : torch.Tensor
        ``(B, N)`` integer ids, ``N >= 2``.
    context_len, stride : int
        As in :func:`perplexity`.
    batch_size : int, optional
        Windows per forward pass (default 16).

    Returns
    -------
    list of float
        ``B`` sums of ``-log p`` over tokens 1 to ``N - 1``.

    Raises
    ------
    TypeError
        If ``rows`` is not an integer tensor.
    ValueError
        If ``rows`` is not 2-D with at least 2 ids per row, or the window
        settings are out of range (as in :func:`perplexity`).

    Examples
    --------
    >>> import math, torch
    >>> from fmref.eval.perplexity import window_nll
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, idx):
    ...         return torch.zeros(*idx.shape, 50)
    >>> nll = window_nll(Uniform(), torch.zeros(3, 10, dtype=torch.long), 4, 3)
    >>> [round(x / 9, 4) for x in nll], round(math.log(50), 4)  # 9 scored tokens per row
    ([3.912, 3.912, 3.912], 3.912)
    """
    _check_ids("rows", rows, 2)
    _check_windows(context_len, stride, batch_size)
    n = rows.shape[1]
    windows = []  # (begin, end, first_new): score targets[first_new:] of tokens[begin:end]
    scored_to, end = 1, min(context_len, n)  # tokens[:scored_to] are done; token 0 never is
    while True:
        begin = max(0, end - context_len)
        windows.append((begin, end, scored_to - begin - 1))
        scored_to = end
        if end == n:
            break
        end = min(end + stride, n)
    # Every window has length min(context_len, n): stack (row, window) pairs into batches,
    # row by row, so that one row's windows are batched as perplexity() batches them.
    pairs = [(r, w) for r in range(len(rows)) for w in windows]
    nll = [0.0] * len(rows)
    for start in range(0, len(pairs), batch_size):
        group = pairs[start : start + batch_size]
        batch = torch.stack([rows[r, b:e] for r, (b, e, _) in group]).long()  # (G, T)
        logp = model(batch)[:, :-1].float().log_softmax(-1)  # (G, T-1, V): j predicts j + 1
        target_logp = logp.gather(-1, batch[:, 1:, None])[..., 0]  # (G, T-1)
        for row, (r, (_, _, first_new)) in zip(target_logp, group):
            nll[r] -= row[first_new:].sum().item()
    return nll
