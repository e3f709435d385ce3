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
import torch.nn.functional as F
from torch import nn

__all__ = ["perplexity"]

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


@torch.no_grad()
def perplexity(model: nn.Module, tokens: torch.Tensor, context_len: int, stride: int) -> float:
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
        ``stride`` is outside ``[1, context_len - 1]``.

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
    if not isinstance(tokens, torch.Tensor) or tokens.dtype not in _INT_DTYPES:
        kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"tokens must be an integer tensor (torch.long), got {kind}")
    if tokens.dim() != 1 or len(tokens) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {tuple(tokens.shape)}")
    if not isinstance(context_len, int) or context_len < 2:
        raise ValueError(f"context_len must be an int >= 2, got {context_len!r}")
    if not isinstance(stride, int) or not 1 <= stride < context_len:
        raise ValueError(
            f"stride must be an int in [1, context_len - 1 = {context_len - 1}], got {stride!r}"
        )
    was_training = model.training
    model.eval()
    n = len(tokens)
    nll, count = 0.0, 0
    scored_to, end = 1, min(context_len, n)  # tokens[:scored_to] are done; token 0 never is
    while True:
        begin = max(0, end - context_len)
        window = tokens[begin:end].long()[None]  # (1, T), T <= context_len
        logits = model(window)[0, :-1]  # (T-1, V): position j predicts token j + 1
        targets = window[0, 1:]  # (T-1,)
        first_new = scored_to - begin - 1  # index in targets of the first unscored token
        nll += F.cross_entropy(
            logits[first_new:].float(), targets[first_new:], reduction="sum"
        ).item()
        count += end - scored_to
        scored_to = end
        if end == n:
            break
        end = min(end + stride, n)
    model.train(was_training)
    return math.exp(nll / count)
