"""Prompt tuning and prefix tuning: learned virtual tokens in front of the input.

Both keep every weight of the model frozen and learn a few *virtual tokens*
that every input sees first:

* **prompt tuning** (Lester et al. 2021) learns ``P`` input embeddings,
  prepended to the token embeddings: ``P * d_model`` parameters;
* **prefix tuning** (Li and Liang 2021) learns the keys and values of ``P``
  virtual tokens in *every* attention layer: ``2 * n_layers * P * d_kv``
  parameters (``d_kv = n_kv_heads * d_head``). fmref implements it with the
  model's own :class:`~fmref.nn.attention.KVCache`: the learned prefix is a
  pre-filled cache, and the input is decoded after it.

Initialising the virtual tokens from real ones makes both start as the base
model run on a real prefix (the tests check the equivalence exactly); the
papers found such initialisations train better than random vectors.
"""

from __future__ import annotations

import torch
from torch import nn

from fmref._validate import check_positive_int

__all__ = ["PromptTuning", "PrefixTuning"]


def _init_ids(init_ids, n_tokens, vocab_size, name):
    if init_ids is None:
        g = torch.Generator().manual_seed(0)
        return torch.randint(vocab_size, (n_tokens,), generator=g)  # (P,) sampled vocabulary
    init_ids = torch.as_tensor(init_ids)
    if init_ids.shape != (n_tokens,):
        raise ValueError(f"init_ids must have shape ({n_tokens},), got {tuple(init_ids.shape)}")
    return init_ids.long()


class PromptTuning(nn.Module):
    """A frozen :class:`~fmref.models.gpt.GPT` behind ``n_tokens`` learned input embeddings.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        The model; all its parameters are frozen.
    n_tokens : int
        Number of virtual tokens ``P``; inputs may have at most
        ``block_size - P`` tokens.
    init_ids : sequence of int, optional
        Token ids whose embeddings initialise the prompt; default ``P``
        ids sampled from the vocabulary with seed 0 (Lester et al.'s
        "sampled vocabulary" initialisation).

    Attributes
    ----------
    prompt : torch.nn.Parameter
        ``(n_tokens, n_embd)``, the only trainable parameter.

    Raises
    ------
    TypeError
        If ``model`` has no ``wte``/``wpe`` embeddings (not a GPT).
    ValueError
        If ``n_tokens`` is not a positive int smaller than ``block_size``, or
        ``init_ids`` has the wrong shape.

    References
    ----------
    .. [1] Lester, Al-Rfou and Constant, "The Power of Scale for
       Parameter-Efficient Prompt Tuning", EMNLP 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.prompts import PromptTuning
    >>> gpt = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    >>> tuned = PromptTuning(gpt, n_tokens=4, init_ids=[5, 6, 7, 8])
    >>> tuned.prompt.numel()  # P * n_embd
    128
    >>> idx = torch.tensor([[1, 2, 3]])
    >>> tuned(idx).shape  # logits of the real tokens only
    torch.Size([1, 3, 64])
    >>> full = gpt(torch.tensor([[5, 6, 7, 8, 1, 2, 3]]))[:, 4:]
    >>> torch.allclose(tuned(idx), full, atol=1e-5)  # init from real tokens = a real prefix
    True
    """

    def __init__(self, model, n_tokens, init_ids=None):
        super().__init__()
        if not all(hasattr(model, a) for a in ("wte", "wpe", "h", "ln_f", "lm_head")):
            raise TypeError(f"model must be an fmref GPT, got {type(model).__name__}")
        check_positive_int("n_tokens", n_tokens)
        if n_tokens >= model.config.block_size:
            raise ValueError(
                f"n_tokens must be smaller than block_size={model.config.block_size}, "
                f"got {n_tokens}"
            )
        self.model = model.requires_grad_(False)
        ids = _init_ids(init_ids, n_tokens, model.config.vocab_size, "init_ids")
        self.prompt = nn.Parameter(model.wte.weight[ids].detach().clone())  # (P, C)

    @property
    def n_tokens(self):
        """Number of virtual tokens ``P``."""
        return self.prompt.shape[0]

    def forward(self, idx):
        """Logits ``(B, T, vocab_size)`` of ``idx`` read after the learned prompt."""
        m, P = self.model, self.n_tokens
        B, T = idx.shape
        if P + T > m.config.block_size:
            raise ValueError(
                f"idx has {T} tokens; with {P} virtual tokens at most "
                f"{m.config.block_size - P} fit in block_size={m.config.block_size}"
            )
        tok = torch.cat([self.prompt.expand(B, P, -1), m.wte(idx)], dim=1)  # (B, P + T, C)
        x = m.drop(tok + m.wpe(torch.arange(P + T, device=idx.device)))
        for block in m.h:
            x = block(x)
        return m.lm_head(m.ln_f(x[:, P:]))  # (B, T, V)


class PrefixTuning(nn.Module):
    """A frozen decoder behind learned keys and values of ``n_tokens`` virtual tokens.

    Works with any model whose ``forward(idx, kv_cache=...)`` accepts a
    :class:`~fmref.nn.attention.KVCache` (fmref's GPT and Llama).

    Parameters
    ----------
    model : torch.nn.Module
        The model; all its parameters are frozen.
    n_tokens : int
        Prefix length ``P``.
    init_ids : sequence of int, optional
        Token ids whose keys and values (in every layer) initialise the prefix;
        default ``P`` ids sampled with seed 0.

    Attributes
    ----------
    prefix_keys, prefix_values : torch.nn.Parameter
        ``(n_layers, n_kv_heads, n_tokens, d_head)`` each; the only trainable
        parameters.

    Raises
    ------
    TypeError
        If ``model`` has no attention layer with key/value projections
        (``k_proj``, ``v_proj``: :class:`~fmref.nn.attention.MultiHeadAttention`,
        :class:`~fmref.models.llama.LlamaAttention`) or no ``make_kv_cache``.
    ValueError
        If ``n_tokens`` is not a positive int or ``init_ids`` has the wrong shape.

    References
    ----------
    .. [1] Li and Liang, "Prefix-Tuning: Optimizing Continuous Prompts for
       Generation", ACL 2021.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.peft.prompts import PrefixTuning
    >>> gpt = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    >>> tuned = PrefixTuning(gpt, n_tokens=4, init_ids=[5, 6, 7, 8])
    >>> sum(p.numel() for p in tuned.parameters() if p.requires_grad)  # 2 * L * P * C
    512
    >>> idx = torch.tensor([[1, 2, 3]])
    >>> full = gpt(torch.tensor([[5, 6, 7, 8, 1, 2, 3]]))[:, 4:]
    >>> torch.allclose(tuned(idx), full, atol=1e-5)
    True
    """

    def __init__(self, model, n_tokens, init_ids=None):
        super().__init__()
        attns = [m for m in model.modules() if hasattr(m, "k_proj") and hasattr(m, "v_proj")]
        if not attns or not hasattr(model, "make_kv_cache"):
            raise TypeError(
                f"model must have attention layers (k_proj, v_proj) and make_kv_cache, "
                f"got {type(model).__name__}"
            )
        check_positive_int("n_tokens", n_tokens)
        self.model = model.requires_grad_(False)
        vocab = next(m for m in model.modules() if isinstance(m, nn.Embedding)).num_embeddings
        ids = _init_ids(init_ids, n_tokens, vocab, "init_ids")
        cache = model.make_kv_cache()
        with torch.no_grad():
            model(ids[None], kv_cache=cache)  # the keys and values of real tokens
        self.prefix_keys = nn.Parameter(torch.cat(cache.keys).clone())  # (L, Hkv, P, d_head)
        self.prefix_values = nn.Parameter(torch.cat(cache.values).clone())

    @property
    def n_tokens(self):
        """Prefix length ``P``."""
        return self.prefix_keys.shape[-2]

    def forward(self, idx):
        """Logits ``(B, T, vocab_size)`` of ``idx`` decoded after the learned prefix."""
        B = idx.shape[0]
        cache = self.model.make_kv_cache()
        for layer in range(self.prefix_keys.shape[0]):
            k = self.prefix_keys[layer].expand(B, -1, -1, -1)  # (B, Hkv, P, d_head)
            v = self.prefix_values[layer].expand(B, -1, -1, -1)
            cache.update(layer, k, v)
        return self.model(idx, kv_cache=cache)
