"""Speculative decoding: a small draft model proposes, the target model verifies.

Each step the draft samples ``gamma`` tokens one by one; the target scores all of
them in *one* forward pass. Draft token ``x`` (draft probability ``q(x)``, target
probability ``p(x)``) is accepted with probability ``min(1, p(x) / q(x))``; at the
first rejection a replacement is drawn from ``norm(max(0, p - q))``, and if all
``gamma`` are accepted a bonus token is drawn from the target's next
distribution. This rule makes every output token distributed *exactly* as the
target's (the tests check it with a chi-square test); only the speed depends on
the draft. With per-token acceptance probability ``α`` one target call yields
``(1 - α^(γ+1)) / (1 - α)`` tokens on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fmref._validate import check_int, check_positive_int, check_probability
from fmref.infer.generate import context_length
from fmref.infer.sampling import sampling_probs

__all__ = ["SpeculativeStats", "expected_tokens_per_step", "speculative_generate"]


@dataclass
class SpeculativeStats:
    """Counters of one :func:`speculative_generate` run.

    Parameters
    ----------
    drafted : int, default 0
        Draft tokens proposed.
    checked : int, default 0
        Draft tokens the target verified: each step checks drafts in order up to
        and including the first rejection, so the drafts after a rejection are
        proposed but never checked.
    accepted : int, default 0
        Draft tokens the target accepted.
    target_calls : int, default 0
        Forward passes of the target model (one per step).
    draft_calls : int, default 0
        Forward passes of the draft model.
    new_tokens : int, default 0
        Tokens returned.

    Examples
    --------
    >>> from fmref.infer.speculative import SpeculativeStats
    >>> s = SpeculativeStats(
    ...     drafted=8, checked=8, accepted=6, target_calls=2, draft_calls=8, new_tokens=8
    ... )
    >>> s.acceptance_rate, s.tokens_per_target_call
    (0.75, 4.0)
    """

    drafted: int = 0  # draft tokens proposed
    checked: int = 0  # of which the target verified (up to the first rejection)
    accepted: int = 0  # of which the target accepted
    target_calls: int = 0  # target forward passes
    draft_calls: int = 0  # draft forward passes
    new_tokens: int = 0  # tokens generated

    @property
    def acceptance_rate(self):
        """Accepted / checked: the estimate of the per-token acceptance ``α``.

        Drafts proposed after a rejection are never checked, so dividing by
        ``drafted`` would understate ``α``; 0 when nothing was checked.
        """
        return self.accepted / self.checked if self.checked else 0.0

    @property
    def tokens_per_target_call(self):
        """New tokens per target forward pass (1 for plain decoding)."""
        return self.new_tokens / self.target_calls if self.target_calls else 0.0


def expected_tokens_per_step(alpha, gamma):
    """Expected tokens per target call, ``(1 - α^(γ+1)) / (1 - α)``.

    Parameters
    ----------
    alpha : float
        Probability that the target accepts a draft token, in ``[0, 1]``.
    gamma : int
        Draft tokens per step, ``>= 0``.

    Returns
    -------
    float
        Between 1 (``α = 0``) and ``γ + 1`` (``α = 1``).

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``[0, 1]`` or ``gamma`` is a negative int.

    References
    ----------
    .. [1] Leviathan, Kalman and Matias, "Fast Inference from Transformers via
       Speculative Decoding", ICML 2023, equation (1).

    Examples
    --------
    >>> from fmref.infer.speculative import expected_tokens_per_step
    >>> round(expected_tokens_per_step(0.8, 4), 4)
    3.3616
    >>> expected_tokens_per_step(1.0, 4), expected_tokens_per_step(0.0, 4)
    (5.0, 1.0)
    """
    check_probability("alpha", alpha)
    check_int("gamma", gamma, low=0)
    if alpha == 1:
        return float(gamma + 1)
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


def _rand(generator):
    return torch.rand((), generator=generator).item()


def _draw(probs, generator):
    return torch.multinomial(probs, 1, generator=generator)  # (1,)


class _ModelDrafter:
    """A separate draft model with its own KV cache: ``gamma`` forward passes per step."""

    def __init__(self, draft, target):
        if target.config.vocab_size != draft.config.vocab_size:
            raise ValueError(
                f"draft must share the target's vocab_size={target.config.vocab_size}, "
                f"got {draft.config.vocab_size}"
            )
        self.draft, self.cache = draft, draft.make_kv_cache()

    def check_length(self, total, prompt_len, max_new_tokens):
        if total > context_length(self.draft):
            raise ValueError(
                f"max_new_tokens={max_new_tokens} after a prompt of {prompt_len} exceeds "
                f"the draft's context length {context_length(self.draft)}"
            )

    def prefill(self, target, prefix, t_cache):
        target(prefix, kv_cache=t_cache)
        self.draft(prefix, kv_cache=self.cache)

    def propose(self, seq, g, probs, generator, stats):
        drafts, q = [], []  # tokens, and their draft distributions (V,)
        for _ in range(g):
            fresh = torch.tensor([seq[self.cache.length :] + drafts[-1:]])  # (1, T_new)
            q_i = probs(self.draft(fresh, kv_cache=self.cache)[0, -1:])[0]  # (V,)
            stats.draft_calls += 1
            drafts.append(_draw(q_i, generator).item())
            q.append(q_i)
        return drafts, q

    def verify(self, target, fresh, t_cache):
        return target(fresh, kv_cache=t_cache)  # (1, T_new, V)

    def keep(self, n_kept, n_ok):
        """Roll the draft's cache back to the kept tokens (the last one is pending)."""
        self.cache.crop(min(self.cache.length, n_kept - 1))


@torch.no_grad()
def speculative_generate(
    target,
    draft,
    idx,
    max_new_tokens,
    gamma=4,
    temperature=1.0,
    top_k=None,
    top_p=None,
    generator=None,
):
    """Sample ``max_new_tokens`` tokens from ``target``, proposed by ``draft``.

    Parameters
    ----------
    target : fmref.models.gpt.GPT or fmref.models.llama.Llama
        The model whose distribution the output follows.
    draft : fmref.models.gpt.GPT or fmref.models.llama.Llama or fmref.infer.medusa.MedusaHeads
        A cheaper model over the same vocabulary, or draft heads trained on
        ``target``'s last hidden state (Medusa), which propose up to one token
        per head from the target's own forward pass.
    idx : torch.Tensor
        One prompt ``(1, T)``.
    max_new_tokens : int
        Tokens to generate, ``>= 0``.
    gamma : int, default 4
        Draft tokens per step, ``>= 1`` (at most the number of heads with Medusa).
    temperature, top_k, top_p
        Applied to both models, as in :func:`fmref.infer.sampling.sampling_probs`;
        the output follows the target's *filtered* distribution (temperature 0:
        the target's greedy output).
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    tokens : torch.Tensor
        ``(1, T + max_new_tokens)``.
    stats : SpeculativeStats
        Acceptance counts and forward passes (a Medusa step counts one draft
        call: all heads read the same hidden state).

    Raises
    ------
    ValueError
        If ``idx`` is not ``(1, T)``, ``gamma < 1``, ``max_new_tokens < 0``, the
        vocabularies differ, or ``T + max_new_tokens`` exceeds a model's context.

    References
    ----------
    .. [1] Leviathan, Kalman and Matias, "Fast Inference from Transformers via
       Speculative Decoding", ICML 2023.
    .. [2] Chen et al., "Accelerating Large Language Model Decoding with
       Speculative Sampling", 2023.
    .. [3] Cai et al., "Medusa: Simple LLM Inference Acceleration Framework with
       Multiple Decoding Heads", ICML 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.generate import generate
    >>> from fmref.infer.speculative import speculative_generate
    >>> cfg = GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16)
    >>> target, draft = GPT(cfg).eval(), GPT(cfg).eval()
    >>> idx = torch.tensor([[1, 2, 3]])
    >>> out, stats = speculative_generate(target, draft, idx, 10, gamma=3, temperature=0)
    >>> torch.equal(out, generate(target, idx, 10, temperature=0))  # greedy: the target's
    True
    >>> stats.new_tokens, stats.target_calls <= 10
    (10, True)
    """
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[0] != 1:
        shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise ValueError(f"idx must have shape (1, T) (one prompt), got {shape}")
    check_positive_int("gamma", gamma)
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    drafter = draft.drafter(target) if hasattr(draft, "drafter") else _ModelDrafter(draft, target)
    total = idx.shape[1] + max_new_tokens
    if total > context_length(target):
        raise ValueError(
            f"max_new_tokens={max_new_tokens} after a prompt of {idx.shape[1]} exceeds "
            f"the target's context length {context_length(target)}"
        )
    drafter.check_length(total, idx.shape[1], max_new_tokens)

    def probs(logits):  # (T, V) -> (T, V)
        return sampling_probs(logits, temperature, top_k, top_p)

    stats = SpeculativeStats()
    t_cache = target.make_kv_cache()
    seq = idx[0].tolist()
    # Prefill with all but the last prompt token (it is fed next step).
    if len(seq) > 1:
        drafter.prefill(target, idx[:, :-1], t_cache)
    while len(seq) < total:
        # 1. The draft proposes up to g tokens.
        drafts, q = drafter.propose(seq, min(gamma, total - len(seq)), probs, generator, stats)
        g = len(drafts)
        # 2. The target scores every draft in one pass: g + 1 distributions.
        fresh = torch.tensor([seq[t_cache.length :] + drafts])  # (1, T_new)
        p = probs(drafter.verify(target, fresh, t_cache)[0, -(g + 1) :])  # (g + 1, V)
        stats.target_calls += 1
        stats.drafted += g
        # 3. Accept draft i with probability min(1, p/q); on rejection resample.
        n_ok = 0
        for i, x in enumerate(drafts):
            stats.checked += 1
            if _rand(generator) * q[i][x] < p[i, x]:  # u < p(x) / q(x), without dividing
                n_ok += 1
                continue
            residual = (p[i] - q[i]).clamp_min(0)  # (V,) norm(max(0, p - q))
            extra = _draw(residual / residual.sum(), generator).item()
            break
        else:
            extra = _draw(p[g], generator).item()  # all accepted: a bonus token
        stats.accepted += n_ok
        seq += drafts[:n_ok] + [extra]
        # 4. Roll both caches back to the tokens that were kept (the last one is pending).
        t_cache.crop(min(t_cache.length, len(seq) - 1))
        drafter.keep(len(seq), n_ok)
    seq = seq[:total]
    stats.new_tokens = len(seq) - idx.shape[1]
    return torch.tensor([seq], dtype=idx.dtype), stats
