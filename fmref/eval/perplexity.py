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

__all__ = ["perplexity"]

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
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    was_training = model.training
    model.eval()
    n = len(tokens)
    windows = []  # (begin, end, first_new): score targets[first_new:] of tokens[begin:end]
    scored_to, end = 1, min(context_len, n)  # tokens[:scored_to] are done; token 0 never is
    while True:
        begin = max(0, end - context_len)
        windows.append((begin, end, scored_to - begin - 1))
        scored_to = end
        if end == n:
            break
        end = min(end + stride, n)
    # Every window has length min(context_len, n): stack them into batches.
    nll = 0.0
    for start in range(0, len(windows), batch_size):
        group = windows[start : start + batch_size]
        batch = torch.stack([tokens[b:e] for b, e, _ in group]).long()  # (G, T)
        logp = model(batch)[:, :-1].float().log_softmax(-1)  # (G, T-1, V): j predicts j + 1
        target_logp = logp.gather(-1, batch[:, 1:, None])[..., 0]  # (G, T-1)
        for row, (_, _, first_new) in zip(target_logp, group):
            nll -= row[first_new:].sum().item()
    count = n - 1  # every token but the first is scored exactly once
    model.train(was_training)
    return math.exp(nll / count)
