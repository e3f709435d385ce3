"""Autoregressive generation for fmref's GPT and Llama, with or without a KV cache.

Without the cache every new token re-runs the model over the whole sequence
(``T`` positions, cost growing with ``T``); with it, a *prefill* pass over the
prompt fills the cache, then each *decode* step feeds one token and attends to
the cached keys and values. With greedy decoding both paths give the same tokens
(the tests check it for GPT and Llama).
"""

from __future__ import annotations

import torch

from fmref._validate import check_int
from fmref.infer.sampling import sample_next

__all__ = ["context_length", "generate"]


def context_length(model):
    """Longest sequence ``model`` accepts: GPT's ``block_size`` or Llama's ``max_seq_len``.

    Parameters
    ----------
    model : fmref.models.gpt.GPT or fmref.models.llama.Llama
        Any module whose ``config`` has ``block_size`` or ``max_seq_len``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``model`` has neither.

    Examples
    --------
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.generate import context_length
    >>> context_length(GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=1, n_head=2, n_embd=8)))
    32
    """
    config = getattr(model, "config", None)
    for name in ("block_size", "max_seq_len"):
        if hasattr(config, name):
            return getattr(config, name)
    raise TypeError(
        f"model must have a config with block_size or max_seq_len, got {type(model).__name__}"
    )


@torch.no_grad()
def generate(
    model,
    idx,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    use_cache=True,
    generator=None,
    sliding_window=False,
    kv_cache=None,
    eos_id=None,
):
    """Extend each prompt of ``idx`` by ``max_new_tokens`` sampled tokens, or until ``eos_id``.

    Parameters
    ----------
    model : fmref.models.gpt.GPT or fmref.models.llama.Llama
        A model with ``model(idx, kv_cache=...) -> logits`` and ``make_kv_cache()``.
        It runs in eval mode here (its mode is restored afterwards).
    idx : torch.Tensor
        Prompts ``(B, T)`` of equal length, ``torch.long``.
    max_new_tokens : int
        Tokens to add, ``>= 0``.
    temperature : float, default 1.0
        ``0`` is greedy decoding; see :func:`fmref.infer.sampling.sample_next`.
    top_k : int, optional
        Top-k filter.
    top_p : float, optional
        Nucleus filter.
    use_cache : bool, default True
        Keep keys and values in a KV cache (prefill once, then one token per
        step); ``False`` recomputes the whole sequence at every step.
    generator : torch.Generator, optional
        Randomness of the sampler.
    sliding_window : bool, default False
        Allow ``T + max_new_tokens`` beyond the model's context: the model then
        sees only the last ``context_length(model)`` tokens (the cache is
        rebuilt from them whenever it is full).
    kv_cache : fmref.nn.attention.KVCache, optional
        Empty cache to use instead of ``model.make_kv_cache()`` (e.g. a
        :class:`fmref.infer.kv.QuantizedKVCache`).
    eos_id : int, optional
        End-of-sequence token: stop as soon as every row has produced it. A row
        that has is padded with ``eos_id`` while the others go on. Each step
        still samples every row, so the tokens up to each row's first
        ``eos_id`` are those of the same call without ``eos_id`` (same
        ``generator`` state); only the steps after the last row ends are
        skipped.

    Returns
    -------
    torch.Tensor
        Tokens ``(B, T + N)``: the prompts followed by the new tokens, with
        ``N = max_new_tokens``, or fewer when every row produced ``eos_id``
        sooner (then ``N`` is the step at which the last row did).

    Raises
    ------
    ValueError
        If ``idx`` is not ``(B, T)`` with ``T >= 1``, ``max_new_tokens < 0``, the
        sequence would exceed the model's context without ``sliding_window``,
        ``eos_id`` is not a token of the vocabulary, or a sampling argument is
        out of range.
    TypeError
        If ``idx`` is not an integer tensor or ``eos_id`` not an int.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.generate import generate
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16))
    >>> idx = torch.tensor([[1, 2, 3]])
    >>> out = generate(model, idx, max_new_tokens=5, temperature=0)
    >>> out.shape
    torch.Size([1, 8])
    >>> torch.equal(out, generate(model, idx, 5, temperature=0, use_cache=False))
    True
    >>> generate(model, idx, 30)
    Traceback (most recent call last):
    ...
    ValueError: max_new_tokens=30 after a prompt of 3 exceeds the context length 32...

    With ``eos_id`` the call stops once every row has produced it, the rows
    that finished first padded with it; up to there the tokens are those of
    the full-length call with the same seed:

    >>> _ = torch.manual_seed(0)
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16))
    >>> idx = torch.tensor([[1, 2, 3], [3, 2, 1]])
    >>> full = generate(model, idx, 8, generator=torch.Generator().manual_seed(0))
    >>> short = generate(model, idx, 8, generator=torch.Generator().manual_seed(0), eos_id=8)
    >>> full[:, 3:].tolist()
    [[6, 0, 3, 8, 5, 5, 3, 9], [0, 8, 3, 2, 1, 7, 7, 3]]
    >>> short[:, 3:].tolist()
    [[6, 0, 3, 8], [0, 8, 8, 8]]
    """
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex():
        kind = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise TypeError(f"idx must be an integer tensor (B, T), got {kind}")
    if idx.dim() != 2 or idx.shape[1] < 1:
        raise ValueError(f"idx must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    ctx = context_length(model)
    if idx.shape[1] + max_new_tokens > ctx and not sliding_window:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} after a prompt of {idx.shape[1]} exceeds the "
            f"context length {ctx}; shorten them or pass sliding_window=True"
        )
    if eos_id is not None:
        vocab = getattr(model.config, "vocab_size", None)
        check_int("eos_id", eos_id, low=0, high=None if vocab is None else vocab - 1)
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)  # (B,)
    was_training = model.training
    model.eval()
    cache = None
    if use_cache:
        cache = model.make_kv_cache() if kv_cache is None else kv_cache
    out, start = idx, 0  # out[:, start] is the first token held in the cache
    try:
        for _ in range(max_new_tokens):
            if cache is None:
                logits = model(out[:, -ctx:])  # (B, T, V): the whole sequence again
            else:
                if out.shape[1] - start > ctx:  # window full: rebuild from the last ctx
                    cache.reset()
                    start = out.shape[1] - ctx
                fresh = out[:, start + cache.length :]  # (B, T_new): not yet in the cache
                logits = model(fresh, kv_cache=cache)  # (B, T_new, V)
            nxt = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)  # (B,)
            if eos_id is not None:
                nxt = nxt.masked_fill(done, eos_id)  # finished rows: padding
                done |= nxt == eos_id
            out = torch.cat([out, nxt.unsqueeze(-1)], dim=1)  # (B, T + 1)
            if eos_id is not None and bool(done.all()):
                break
    finally:
        model.train(was_training)
    return out
