"""Pretraining objectives: causal LM, masked LM (BERT) and span corruption (T5).

All three turn unlabelled text into a prediction task. A causal language model
predicts every token from the ones before it; a masked language model hides
about 15% of the tokens and predicts them from both sides; span corruption
replaces whole spans by sentinel tokens and asks a decoder to write the spans
out.

References
----------
.. [1] Radford et al., "Improving Language Understanding by Generative
   Pre-Training", 2018.
.. [2] Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
   for Language Understanding", NAACL 2019.
.. [3] Raffel et al., "Exploring the Limits of Transfer Learning with a Unified
   Text-to-Text Transformer", JMLR 2020.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from fmref._validate import check_tensor

__all__ = ["causal_lm_loss", "mask_tokens", "span_corruption", "merge_spans"]

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _check_tokens(tokens: object, argname: str = "tokens") -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype not in _INT_DTYPES:
        kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"{argname} must be an integer tensor (torch.long), got {kind}")
    return tokens


def causal_lm_loss(
    logits: torch.Tensor, tokens: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    r"""Next-token cross-entropy: ``logits[:, t]`` predicts ``tokens[:, t + 1]``.

    .. math:: \mathcal{L} = -\frac{1}{N} \sum_{b} \sum_{t=1}^{T-1}
       \log p_\theta(x_{b,t+1} \mid x_{b,\le t})

    The shift happens inside, as in ``transformers``: pass the logits of the
    whole sequence and the same tokens the model read. The last position has
    no target and the first token is never predicted.

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, T, V)`` unnormalised scores.
    tokens : torch.Tensor
        ``(B, T)`` integer ids; entries equal to ``ignore_index`` are not targets.
    ignore_index : int, optional
        Target value to skip (default -100, e.g. padding or prompt tokens).

    Returns
    -------
    torch.Tensor
        Scalar mean loss over the ``N`` counted targets (nats per token).

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If the shapes do not match or ``T < 2``.

    References
    ----------
    .. [1] Radford et al., "Improving Language Understanding by Generative Pre-Training", 2018.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.train.objectives import causal_lm_loss
    >>> logits = torch.zeros(1, 4, 10)  # a uniform guess over 10 tokens
    >>> tokens = torch.tensor([[3, 1, 4, 1]])
    >>> round(causal_lm_loss(logits, tokens).item(), 4), round(math.log(10), 4)
    (2.3026, 2.3026)
    """
    check_tensor("logits", logits, dtype="float", finite=True)
    _check_tokens(tokens)
    if logits.dim() != 3 or logits.shape[:2] != tokens.shape:
        raise ValueError(
            f"logits must have shape (B, T, V) matching tokens (B, T) = "
            f"{tuple(tokens.shape)}, got {tuple(logits.shape)}"
        )
    if tokens.shape[1] < 2:
        raise ValueError(f"tokens must have at least 2 positions, got T={tokens.shape[1]}")
    pred = logits[:, :-1]  # (B, T-1, V): positions that have a next token
    target = tokens[:, 1:]  # (B, T-1): the next tokens
    return F.cross_entropy(
        pred.reshape(-1, pred.shape[-1]), target.reshape(-1).long(), ignore_index=ignore_index
    )


def mask_tokens(
    tokens: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    special_ids: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: select 15% of tokens, then 80% -> ``[MASK]``, 10% random, 10% kept.

    Each token that is not special is selected independently with probability
    ``mlm_probability``. A selected token becomes the mask token with
    probability 0.8, a uniformly random id from ``range(vocab_size)`` with
    probability 0.1, and stays itself otherwise; the model must predict the
    original at every selected position, so it cannot trust any input token.

    Parameters
    ----------
    tokens : torch.Tensor
        Integer ids, any shape (usually ``(B, T)``).
    mask_token_id : int
        Id of ``[MASK]``.
    vocab_size : int
        Random replacements are drawn from ``range(vocab_size)``.
    mlm_probability : float, optional
        Selection probability, in ``(0, 1)`` (default 0.15).
    special_ids : sequence of int, optional
        Ids never selected (``[CLS]``, ``[SEP]``, padding).
    generator : torch.Generator, optional
        Source of randomness, for reproducible masks.

    Returns
    -------
    inputs : torch.Tensor
        The corrupted tokens, same shape and dtype as ``tokens``.
    labels : torch.Tensor
        ``tokens`` at selected positions and -100 elsewhere (int64).

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If ``mlm_probability`` is outside ``(0, 1)`` or ``mask_token_id`` is
        outside ``range(vocab_size)``.

    References
    ----------
    .. [1] Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers
       for Language Understanding", NAACL 2019, section 3.1.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.objectives import mask_tokens
    >>> g = torch.Generator().manual_seed(0)
    >>> tokens = torch.arange(10, 22)[None]  # (1, 12)
    >>> inputs, labels = mask_tokens(tokens, mask_token_id=1, vocab_size=30,
    ...                              mlm_probability=0.3, special_ids=[10], generator=g)
    >>> inputs.tolist()
    [[10, 11, 1, 1, 14, 15, 16, 17, 18, 19, 20, 21]]
    >>> labels.tolist()
    [[-100, -100, 12, 13, -100, -100, -100, -100, -100, -100, -100, -100]]
    """
    _check_tokens(tokens)
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(
            f"mask_token_id must be in range(0, vocab_size={vocab_size}), got {mask_token_id}"
        )
    shape = tokens.shape

    def uniform() -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=tokens.device)

    special = torch.isin(tokens, torch.as_tensor(list(special_ids), dtype=tokens.dtype))
    selected = (uniform() < mlm_probability) & ~special  # ~15% of the ordinary tokens
    labels = torch.where(selected, tokens.long(), torch.full_like(tokens, -100, dtype=torch.long))
    action = uniform()  # one draw decides mask / random / keep
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    random_ids = torch.randint(
        vocab_size, shape, generator=generator, device=tokens.device, dtype=tokens.dtype
    )
    inputs = tokens.clone()
    inputs[to_mask] = mask_token_id
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def _random_segmentation(n_items: int, n_segments: int, generator) -> list[int]:
    """Split ``n_items`` into ``n_segments`` positive lengths, uniformly at random."""
    cuts = torch.randperm(n_items - 1, generator=generator)[: n_segments - 1] + 1
    bounds = [0, *sorted(cuts.tolist()), n_items]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def span_corruption(
    tokens: torch.Tensor,
    sentinel_ids: Sequence[int],
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """T5's span corruption: drop spans of tokens, mark each with a sentinel.

    In a sequence of length ``L``, ``round(L * noise_density)`` tokens are
    noise, grouped into ``round(noise / mean_span_length)`` spans placed at
    random (a non-noise span comes first, then they alternate). The input
    keeps the non-noise tokens and puts sentinel ``i`` where the ``i``-th span
    was; the target lists each sentinel followed by the span it replaced, and
    ends with one more sentinel. Every row of a batch gets the same number of
    noise tokens and spans, so inputs and targets are rectangular.

    Parameters
    ----------
    tokens : torch.Tensor
        ``(L,)`` or ``(B, L)`` integer ids, ``L >= 2``.
    sentinel_ids : sequence of int
        Ids of ``<extra_id_0>``, ``<extra_id_1>``, ...; one more than the number
        of spans is needed.
    noise_density : float, optional
        Fraction of tokens dropped, in ``(0, 1)`` (default 0.15).
    mean_span_length : float, optional
        Average span length, at least 1 (default 3.0).
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    inputs : torch.Tensor
        ``(..., L - noise + spans)``.
    targets : torch.Tensor
        ``(..., noise + spans + 1)``.

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If ``tokens`` is not 1-D or 2-D with ``L >= 2``, ``noise_density`` is
        outside ``(0, 1)``, ``mean_span_length < 1`` or there are too few sentinels.

    References
    ----------
    .. [1] Raffel et al., "Exploring the Limits of Transfer Learning with a
       Unified Text-to-Text Transformer", JMLR 2020, section 3.1.4.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.objectives import span_corruption, merge_spans
    >>> tokens = torch.arange(1, 21)  # (20,)
    >>> sentinels = [100, 101, 102]
    >>> g = torch.Generator().manual_seed(0)
    >>> inputs, targets = span_corruption(tokens, sentinels, noise_density=0.3, generator=g)
    >>> inputs.tolist()
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 100, 19, 101]
    >>> targets.tolist()
    [100, 14, 15, 16, 17, 18, 101, 20, 102]
    >>> torch.equal(merge_spans(inputs, targets, sentinels), tokens)
    True
    """
    _check_tokens(tokens)
    if tokens.dim() not in (1, 2) or tokens.shape[-1] < 2:
        raise ValueError(
            f"tokens must have shape (L,) or (B, L) with L >= 2, got {tuple(tokens.shape)}"
        )
    if not 0.0 < noise_density < 1.0:
        raise ValueError(f"noise_density must be in (0, 1), got {noise_density}")
    if mean_span_length < 1:
        raise ValueError(f"mean_span_length must be >= 1, got {mean_span_length}")
    L = tokens.shape[-1]
    n_noise = min(max(round(L * noise_density), 1), L - 1)
    n_spans = min(max(round(n_noise / mean_span_length), 1), n_noise, L - n_noise)
    if len(sentinel_ids) < n_spans + 1:
        raise ValueError(
            f"sentinel_ids must hold at least {n_spans + 1} ids (spans + 1), "
            f"got {len(sentinel_ids)}"
        )
    sentinels = torch.as_tensor(list(sentinel_ids[: n_spans + 1]), dtype=tokens.dtype)
    rows = tokens.reshape(-1, L)  # (B, L)
    inputs, targets = [], []
    for row in rows:
        noise_lengths = _random_segmentation(n_noise, n_spans, generator)
        keep_lengths = _random_segmentation(L - n_noise, n_spans, generator)
        inp, tgt, pos = [], [], 0
        for i, (keep, noise) in enumerate(zip(keep_lengths, noise_lengths)):
            inp += [row[pos : pos + keep], sentinels[i : i + 1]]  # kept tokens, then sentinel i
            pos += keep
            tgt += [sentinels[i : i + 1], row[pos : pos + noise]]  # sentinel i, then the span
            pos += noise
        tgt.append(sentinels[n_spans:])  # the closing sentinel
        inputs.append(torch.cat(inp))
        targets.append(torch.cat(tgt))
    shape = tokens.shape[:-1]
    return (
        torch.stack(inputs).reshape(*shape, -1),
        torch.stack(targets).reshape(*shape, -1),
    )


def merge_spans(
    inputs: torch.Tensor, targets: torch.Tensor, sentinel_ids: Sequence[int]
) -> torch.Tensor:
    """Undo :func:`span_corruption`: put each target span where its sentinel is.

    Parameters
    ----------
    inputs : torch.Tensor
        ``(L_in,)`` corrupted input with sentinels.
    targets : torch.Tensor
        ``(L_out,)`` sentinels each followed by its span.
    sentinel_ids : sequence of int
        The sentinel ids that were used.

    Returns
    -------
    torch.Tensor
        ``(L,)`` the original sequence.

    Raises
    ------
    TypeError
        If ``inputs`` or ``targets`` is not an integer tensor.
    ValueError
        If they are not 1-D or a sentinel of ``inputs`` is missing from ``targets``.

    Examples
    --------
    >>> import torch
    >>> from fmref.train.objectives import merge_spans
    >>> merge_spans(torch.tensor([5, 100, 8]), torch.tensor([100, 6, 7, 101]), [100, 101])
    tensor([5, 6, 7, 8])
    """
    _check_tokens(inputs, "inputs")
    _check_tokens(targets, "targets")
    if inputs.dim() != 1 or targets.dim() != 1:
        raise ValueError("inputs and targets must be 1-D; merge rows of a batch one at a time")
    sentinel_set = set(int(s) for s in sentinel_ids)
    spans: dict[int, list[int]] = {}
    current = None
    for t in targets.tolist():
        if t in sentinel_set:
            current = spans.setdefault(t, [])
        elif current is not None:
            current.append(t)
    out: list[int] = []
    for t in inputs.tolist():
        if t in sentinel_set:
            if t not in spans:
                raise ValueError(f"targets must hold sentinel {t} found in inputs")
            out += spans[t]
        else:
            out.append(t)
    return torch.tensor(out, dtype=inputs.dtype)
