"""Medusa draft heads: the target model drafts its own next tokens.

Speculative decoding (:mod:`fmref.infer.speculative`) needs a draft that
guesses the target's next tokens cheaply. Medusa (Cai et al. 2024) does without
a second model: ``K`` small heads read the target's last hidden state
:math:`h_t` (after the final norm), and head :math:`k` predicts the token
:math:`k + 1` places ahead, :math:`x_{t+k+1}`, while the ordinary LM head
predicts :math:`x_{t+1}`. Each head is one residual block and a projection to
the vocabulary,

.. math::

   p^{(k)}_t = \\operatorname{softmax}\\big(W_2^{(k)} (\\operatorname{SiLU}(W_1^{(k)} h_t
   + b_1^{(k)}) + h_t)\\big),

with :math:`W_1` initialised at zero and :math:`W_2` at the LM head's weight, so
that training starts from "the next token again". *Medusa-1* trains the heads
on a frozen target with the loss :math:`\\sum_k \\lambda^k \\,
\\mathrm{CE}(p^{(k)}_t, x_{t+k+1})`, :math:`\\lambda = 0.8`. The target's
verification pass yields the hidden state of the next round, so drafting costs
only the heads. fmref verifies the drafts with the exact rejection rule of
:func:`~fmref.infer.speculative.speculative_generate`, so the output follows
the target's distribution; Medusa's paper also proposes tree attention over
several candidates and a "typical acceptance" rule that trades exactness for
speed, which fmref leaves out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fmref._validate import check_instance, check_overrides, check_positive_int

__all__ = [
    "MEDUSA_SETTINGS",
    "MedusaHeads",
    "final_hidden",
    "medusa_loss",
    "train_medusa_heads",
    "tiny_gpt_medusa",
]

#: Settings of :func:`tiny_gpt_medusa`: 4 heads on :func:`fmref.zoo.tiny_gpt`,
#: trained with the target frozen on its hidden states over the training split.
MEDUSA_SETTINGS: dict[str, Any] = {
    "n_heads": 4,  # tokens drafted per step at most
    "windows": 256,  # training windows of the target's block size (64 tokens)
    "steps": 200,  # AdamW steps on the heads only
    "batch_size": 16,  # windows per step
    "self_distill": True,  # soft labels: the target's own next-token distributions
    "lr_max": 3e-3,  # peak learning rate
    "lr_min": 3e-4,  # cosine floor
    "warmup": 30,  # linear warm-up steps
    "decay": 0.8,  # loss weight of head k is decay ** k (Medusa's lambda)
    "seed": 0,  # windows, batches
}


class _ResBlock(nn.Module):
    """``x + SiLU(linear(x))`` with the linear layer initialised at zero (Medusa's ResBlock)."""

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return x + nn.functional.silu(self.linear(x))


class MedusaHeads(nn.Module):
    """``n_heads`` draft heads; head ``k`` (from 1) predicts the token ``k + 1`` places ahead.

    Parameters
    ----------
    n_embd : int
        Width of the target's hidden state.
    vocab_size : int
        The target's vocabulary.
    n_heads : int, default 4
        Heads, the most tokens drafted per step.
    lm_head_weight : torch.Tensor, optional
        ``(vocab_size, n_embd)``: the target's LM head, copied into every head's
        output projection (Medusa's initialisation); random otherwise.

    Attributes
    ----------
    blocks : torch.nn.ModuleList
        One residual block per head.
    out : torch.nn.ModuleList
        One projection to the vocabulary per head.

    Raises
    ------
    ValueError
        If a size is not a positive int or ``lm_head_weight`` has the wrong shape.

    References
    ----------
    .. [1] Cai et al., "Medusa: Simple LLM Inference Acceleration Framework with
       Multiple Decoding Heads", ICML 2024.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.medusa import MedusaHeads, final_hidden
    >>> target = GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16))
    >>> heads = MedusaHeads.from_model(target, n_heads=3)
    >>> logits, hidden = final_hidden(target, torch.tensor([[1, 2, 3]]))
    >>> heads(hidden).shape  # (n_heads, B, T, V)
    torch.Size([3, 1, 3, 11])
    >>> torch.allclose(heads(hidden)[0], logits)  # at initialisation every head is the LM head
    True
    """

    def __init__(self, n_embd, vocab_size, n_heads=4, lm_head_weight=None):
        super().__init__()
        for name, value in (("n_embd", n_embd), ("vocab_size", vocab_size), ("n_heads", n_heads)):
            check_positive_int(name, value)
        self.n_embd, self.vocab_size, self.n_heads = n_embd, vocab_size, n_heads
        self.blocks = nn.ModuleList(_ResBlock(n_embd) for _ in range(n_heads))
        self.out = nn.ModuleList(nn.Linear(n_embd, vocab_size, bias=False) for _ in range(n_heads))
        if lm_head_weight is not None:
            if tuple(lm_head_weight.shape) != (vocab_size, n_embd):
                raise ValueError(
                    f"lm_head_weight must have shape {(vocab_size, n_embd)}, "
                    f"got {tuple(lm_head_weight.shape)}"
                )
            with torch.no_grad():
                for proj in self.out:
                    proj.weight.copy_(lm_head_weight)

    @classmethod
    def from_model(cls, model, n_heads=4):
        """Heads sized for ``model`` (GPT or Llama), initialised from its LM head."""
        head = _lm_head(model)
        return cls(head.in_features, head.out_features, n_heads, head.weight.detach())

    def forward(self, hidden):
        """Logits ``(n_heads, *hidden.shape[:-1], vocab_size)`` of every head."""
        return torch.stack([out(block(hidden)) for block, out in zip(self.blocks, self.out)])

    def drafter(self, target):
        """The object :func:`~fmref.infer.speculative.speculative_generate` drafts with."""
        if _lm_head(target).out_features != self.vocab_size:
            raise ValueError(
                f"draft must share the target's vocab_size={_lm_head(target).out_features}, "
                f"got {self.vocab_size}"
            )
        return _MedusaDrafter(self)


def _lm_head(model):
    head = getattr(model, "lm_head", None) or getattr(model, "output", None)  # GPT, Llama
    if not isinstance(head, nn.Linear):
        raise TypeError(f"model must have an lm_head or output Linear, got {type(model).__name__}")
    return head


def final_hidden(model, idx, kv_cache=None):
    """The logits and the last hidden state (the LM head's input) of one forward pass.

    Parameters
    ----------
    model : fmref.models.gpt.GPT or fmref.models.llama.Llama
        A model whose head is ``lm_head`` (GPT) or ``output`` (Llama).
    idx : torch.Tensor
        Token ids ``(B, T)``.
    kv_cache : fmref.nn.attention.KVCache, optional
        As in the model's forward.

    Returns
    -------
    logits : torch.Tensor
        ``(B, T, vocab_size)``.
    hidden : torch.Tensor
        ``(B, T, n_embd)``, after the final norm.

    Raises
    ------
    TypeError
        If the model has no such head.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.medusa import final_hidden
    >>> model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    >>> logits, hidden = final_hidden(model, torch.tensor([[1, 2]]))
    >>> hidden.shape, torch.allclose(model.lm_head(hidden), logits)
    (torch.Size([1, 2, 8]), True)
    """
    captured = []
    handle = _lm_head(model).register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
    try:
        logits = model(idx, kv_cache=kv_cache)
    finally:
        handle.remove()
    return logits, captured[-1]


class _MedusaDrafter:
    """Drafting protocol of :func:`speculative_generate`: one head evaluation per step."""

    def __init__(self, heads):
        self.heads, self.hidden, self.rows = heads, None, None

    def check_length(self, total, prompt_len, max_new_tokens):
        pass  # the heads have no context of their own

    def prefill(self, target, prefix, t_cache):
        _, hidden = final_hidden(target, prefix, t_cache)
        self.hidden = hidden[0, -1]  # (C,): predicts the pending token and those after

    def propose(self, seq, g, probs, generator, stats):
        if self.hidden is None:  # a one-token prompt: nothing to draft from yet
            return [], []
        g = min(g, self.heads.n_heads)
        q = probs(self.heads(self.hidden)[:g])  # (g, V): head k drafts the token k + 1 ahead
        stats.draft_calls += 1
        drafts = [torch.multinomial(q_k, 1, generator=generator).item() for q_k in q]
        return drafts, list(q)

    def verify(self, target, fresh, t_cache):
        logits, self.rows = final_hidden(target, fresh, t_cache)  # rows: (1, T_new, C)
        return logits

    def keep(self, n_kept, n_ok):
        # The token sampled last came from the target's distribution at fresh
        # position n_ok (of the g + 1 verified): its hidden state drafts next.
        self.hidden = self.rows[0, n_ok]  # fresh = the pending token + the g drafts


def medusa_loss(heads, hidden, idx, decay=0.8, soft=None):
    """Medusa-1's loss: ``sum_k decay**k * CE(head k at t, idx[t + k + 1])``.

    With ``soft``, the label of head ``k`` at ``t`` is the target's own
    distribution of that token, ``soft[:, t + k]`` (Medusa's self-distillation):
    the heads then learn what the verifier will accept rather than the data.

    Parameters
    ----------
    heads : MedusaHeads
        The heads being trained.
    hidden : torch.Tensor
        The frozen target's hidden states ``(B, T, n_embd)`` of ``idx``.
    idx : torch.Tensor
        The token ids ``(B, T)``; ``T > n_heads + 1``.
    decay : float, default 0.8
        Medusa's :math:`\\lambda`.
    soft : torch.Tensor, optional
        The target's next-token probabilities ``(B, T, V)`` at every position.

    Returns
    -------
    torch.Tensor
        A scalar.

    Raises
    ------
    ValueError
        If the shapes disagree or ``T <= n_heads + 1``.

    Examples
    --------
    >>> import torch
    >>> from fmref.infer.medusa import MedusaHeads, medusa_loss
    >>> _ = torch.manual_seed(0)
    >>> heads = MedusaHeads(n_embd=8, vocab_size=5, n_heads=2)
    >>> loss = medusa_loss(heads, torch.randn(2, 6, 8), torch.randint(0, 5, (2, 6)))
    >>> loss.shape, loss.item() > 0
    (torch.Size([]), True)
    """
    check_instance("heads", heads, MedusaHeads)
    if hidden.shape[:2] != idx.shape or idx.shape[1] <= heads.n_heads + 1:
        raise ValueError(
            f"idx must be (B, T) with T > n_heads + 1 = {heads.n_heads + 1} and hidden "
            f"(B, T, C), got {tuple(idx.shape)} and {tuple(hidden.shape)}"
        )
    logits = heads(hidden)  # (K, B, T, V)
    loss = hidden.new_zeros(())
    for k in range(1, heads.n_heads + 1):
        pred = logits[k - 1, :, : -(k + 1)]  # (B, T - k - 1, V): positions with a target
        if soft is None:
            ce = nn.functional.cross_entropy(pred.flatten(0, 1), idx[:, k + 1 :].flatten())
        else:  # the target's distribution of token t + k + 1, predicted at t + k
            label = soft[:, k:-1]  # (B, T - k - 1, V)
            ce = -(label * nn.functional.log_softmax(pred, -1)).sum(-1).mean()
        loss = loss + decay**k * ce
    return loss


def train_medusa_heads(target, token_ids, **overrides):
    """Train :class:`MedusaHeads` on a frozen ``target`` (Medusa-1).

    The target's hidden states of ``windows`` random windows of ``token_ids``
    are computed once; the heads then train on batches of them with
    :func:`fmref.train.loop.fit` (AdamW, a cosine schedule).

    Parameters
    ----------
    target : fmref.models.gpt.GPT or fmref.models.llama.Llama
        The frozen model.
    token_ids : torch.Tensor
        1-D training tokens, longer than the target's context.
    **overrides
        Settings to change from :data:`MEDUSA_SETTINGS`.

    Returns
    -------
    heads : MedusaHeads
        Trained, in eval mode.
    history : dict
        :func:`fmref.train.loop.fit`'s history.

    Raises
    ------
    ValueError
        If an override is unknown or ``token_ids`` is too short.

    Examples
    --------
    >>> import torch
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> from fmref.infer.medusa import train_medusa_heads
    >>> _ = torch.manual_seed(0)
    >>> target = GPT(GPTConfig(vocab_size=8, block_size=16, n_layer=1, n_head=2, n_embd=16))
    >>> ids = torch.arange(8).repeat(40)  # 0 1 2 ... 7 0 1 ...: every head can learn it
    >>> heads, history = train_medusa_heads(target, ids, n_heads=2, windows=16, steps=40,
    ...                                     batch_size=8, warmup=4, lr_max=1e-2,
    ...                                     self_distill=False)
    >>> history["loss"][-1] < history["loss"][0] / 4
    True
    """
    from fmref.infer.generate import context_length
    from fmref.train.loop import cosine_schedule, fit

    s = check_overrides("overrides", overrides, MEDUSA_SETTINGS)
    block = context_length(target)
    if not isinstance(token_ids, torch.Tensor) or token_ids.dim() != 1 or len(token_ids) <= block:
        raise ValueError(f"token_ids must be a 1-D tensor longer than the context {block}")
    g = torch.Generator().manual_seed(s["seed"])
    starts = torch.randint(0, len(token_ids) - block, (s["windows"],), generator=g)
    idx = torch.stack([token_ids[i : i + block] for i in starts.tolist()])  # (N, T)
    with torch.no_grad():
        hidden = final_hidden(target, idx)[1]  # (N, T, C), computed once
    heads = MedusaHeads.from_model(target, s["n_heads"])
    lm_head = _lm_head(target)

    def batch(step):
        rows = torch.randint(0, len(idx), (s["batch_size"],), generator=g)
        soft = None
        if s["self_distill"]:
            with torch.no_grad():
                soft = torch.softmax(lm_head(hidden[rows]), -1)  # (B, T, V)
        return hidden[rows], idx[rows], soft

    history = fit(
        heads,
        batch,
        lambda model, b: medusa_loss(model, b[0], b[1], decay=s["decay"], soft=b[2]),
        s["steps"],
        lr=lambda step: cosine_schedule(step, s["warmup"], s["steps"], s["lr_max"], s["lr_min"]),
        seed=s["seed"],
    )
    return heads.eval(), history


def tiny_gpt_medusa(**overrides):
    """Medusa heads on :func:`fmref.zoo.tiny_gpt`, from the cache (recipe ``tiny-gpt-medusa``).

    Parameters
    ----------
    **overrides
        Settings to change from :data:`MEDUSA_SETTINGS`.

    Returns
    -------
    heads : MedusaHeads
        In eval mode.
    target : fmref.models.gpt.GPT
        The tiny GPT they draft for.
    history : dict
        The heads' training history.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    ``tiny_gpt_medusa()`` is the recipe Chapter XIII measures (200 steps); two
    steps on eight windows show the shapes (another cache entry):

    >>> from fmref.infer.medusa import tiny_gpt_medusa
    >>> heads, target, history = tiny_gpt_medusa(steps=2, windows=8, warmup=1)
    >>> heads.n_heads, len(history["loss"]), target.config.n_layer
    (4, 2, 3)
    """
    from fmref.text.corpus import python_docs
    from fmref.zoo import cached, one_thread, tiny_gpt

    settings = check_overrides("overrides", overrides, MEDUSA_SETTINGS)
    target, tokenizer, _ = tiny_gpt()

    def train():
        ids = torch.tensor(tokenizer.encode(python_docs("train")))
        with one_thread():
            heads, history = train_medusa_heads(target, ids, **settings)
        return {"state_dict": heads.state_dict(), "history": history}

    stored = cached("tiny-gpt-medusa", settings, train)
    heads = MedusaHeads.from_model(target, settings["n_heads"])
    heads.load_state_dict(stored["state_dict"])
    return heads.eval(), target, stored["history"]
