"""Turning next-token logits into a token: temperature, top-k and top-p (nucleus).

Every filter returns logits with the removed entries set to ``-inf``, so filters
compose and :func:`torch.softmax` gives the distribution that is sampled. The
top-k and top-p rules are those of ``transformers``' ``TopKLogitsWarper`` and
``TopPLogitsWarper`` (the tests compare them on random logits).
"""

from __future__ import annotations

import torch

from fmref._validate import check_number, check_positive_int

__all__ = ["top_k_filter", "top_p_filter", "sampling_probs", "sample_next"]


def _check_logits(logits):
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"logits must be a floating-point tensor (..., vocab), got {kind}")
    if logits.dim() < 1 or logits.shape[-1] < 1:
        raise ValueError(
            f"logits must have shape (..., vocab) with vocab >= 1, got {tuple(logits.shape)}"
        )


def top_k_filter(logits, k):
    """Keep the ``k`` largest logits of each row (ties with the k-th kept too).

    Parameters
    ----------
    logits : torch.Tensor
        Scores ``(..., vocab)``.
    k : int
        Number of tokens kept, ``k >= 1``; ``k >= vocab`` keeps everything.

    Returns
    -------
    torch.Tensor
        Logits of the same shape, removed entries set to ``-inf``.

    Raises
    ------
    ValueError
        If ``k`` is not a positive int.
    TypeError
        If ``logits`` is not a floating-point tensor.

    References
    ----------
    .. [1] Fan et al., "Hierarchical Neural Story Generation", ACL 2018.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.sampling import top_k_filter
    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0, 0.0]), k=2)
    tensor([-inf, 3., 2., -inf])
    """
    _check_logits(logits)
    check_positive_int("k", k)
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1) k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus filter: keep the smallest set of tokens whose probability reaches ``p``.

    Tokens are sorted by probability; a token is kept while the probability of the
    tokens ranked above it is still below ``p``. The most likely token is always
    kept.

    Parameters
    ----------
    logits : torch.Tensor
        Scores ``(..., vocab)``.
    p : float
        Cumulative probability to reach, ``0 < p <= 1``; ``1`` keeps everything.

    Returns
    -------
    torch.Tensor
        Logits of the same shape, removed entries set to ``-inf``.

    Raises
    ------
    ValueError
        If ``p`` is not in ``(0, 1]``.
    TypeError
        If ``logits`` is not a floating-point tensor.

    References
    ----------
    .. [1] Holtzman et al., "The Curious Case of Neural Text Degeneration", ICLR 2020.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.sampling import top_p_filter
    >>> logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    >>> top_p_filter(logits, p=0.75).exp()  # 0.5 + 0.3 reaches 0.75
    tensor([0.5000, 0.3000, 0.0000, 0.0000])
    >>> top_p_filter(logits, p=0.1).exp()  # always at least one token
    tensor([0.5000, 0.0000, 0.0000, 0.0000])
    """
    _check_logits(logits)
    check_number("p", p, 0.0, 1.0, low_open=True)
    if p == 1.0:
        return logits  # the nucleus is the whole vocabulary
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_above = torch.cumsum(probs, dim=-1) - probs  # probability ranked above each token
    remove_sorted = mass_above >= p
    remove_sorted[..., 0] = False  # keep the most likely token
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution :func:`sample_next` draws from.

    Logits are divided by ``temperature``, then filtered by top-k, then by top-p
    (the order ``transformers`` applies them), then normalised. Temperature 0 is
    greedy decoding: all the mass on the arg-max (the first one on ties).

    Parameters
    ----------
    logits : torch.Tensor
        Scores ``(..., vocab)``.
    temperature : float, default 1.0
        ``>= 0``; below 1 sharpens, above 1 flattens the distribution.
    top_k : int, optional
        See :func:`top_k_filter`.
    top_p : float, optional
        See :func:`top_p_filter`.

    Returns
    -------
    torch.Tensor
        Probabilities ``(..., vocab)``, each row summing to 1.

    Raises
    ------
    ValueError
        If ``temperature < 0``; if ``logits`` holds NaN or ``+inf`` or a row of
        only ``-inf`` (no distribution to sample); or as the filters.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.sampling import sampling_probs
    >>> logits = torch.tensor([2.0, 1.0, 0.0])
    >>> sampling_probs(logits)
    tensor([0.6652, 0.2447, 0.0900])
    >>> sampling_probs(logits, temperature=0.5)  # sharper
    tensor([0.8668, 0.1173, 0.0159])
    >>> sampling_probs(logits, temperature=0)  # greedy
    tensor([1., 0., 0.])
    """
    _check_logits(logits)
    check_number("temperature", temperature, low=0.0)
    if logits.isnan().any() or (logits == float("inf")).any():
        raise ValueError("logits must not hold NaN or +inf (-inf marks a removed token)")
    if (logits == float("-inf")).all(dim=-1).any():
        raise ValueError("logits must keep a finite entry in each row, got a row of -inf")
    logits = logits.float()
    if temperature == 0:
        one_hot = torch.zeros_like(logits)
        return one_hot.scatter(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Draw the next token of each row of ``logits``.

    Parameters
    ----------
    logits : torch.Tensor
        Scores of the next token ``(B, vocab)`` (or ``(vocab,)``).
    temperature : float, default 1.0
        ``0`` means greedy (arg-max, no randomness).
    top_k : int, optional
        Keep only the ``top_k`` most likely tokens.
    top_p : float, optional
        Keep only the nucleus of probability ``top_p``.
    generator : torch.Generator, optional
        Source of randomness, for reproducible samples.

    Returns
    -------
    torch.Tensor
        Token ids ``(B,)`` (or a 0-d tensor), dtype ``torch.long``.

    Raises
    ------
    ValueError
        If ``temperature < 0``, ``top_k < 1`` or ``top_p`` is outside ``(0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.sampling import sample_next
    >>> logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    >>> sample_next(logits, temperature=0)
    tensor([1, 0])
    >>> g = torch.Generator().manual_seed(0)
    >>> sample_next(logits, top_k=1, generator=g)  # top-1 is greedy too
    tensor([1, 0])
    """
    probs = sampling_probs(logits, temperature, top_k, top_p)  # (..., V)
    if temperature == 0:
        return probs.argmax(dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])  # (B, V)
    tokens = torch.multinomial(flat, 1, generator=generator).squeeze(-1)  # (B,)
    return tokens.reshape(probs.shape[:-1])
