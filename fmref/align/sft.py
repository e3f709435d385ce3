"""Supervised fine-tuning (SFT): chat templates and a loss on response tokens only.

An instruction-tuned model is trained on conversations rendered as text by a
*chat template*, with the next-token loss counted only on what the assistant
says: the prompt is context, not something the model should learn to write.

A template here is a dict that maps each allowed role to a string holding the
placeholder ``{content}`` exactly once, plus an optional ``"generation_prompt"``
entry, the text that opens an assistant turn at inference time. A message is
rendered as the text before ``{content}``, the content verbatim (braces in it
are never interpreted), then the text after ``{content}``.

References
----------
.. [1] Ouyang et al., "Training Language Models to Follow Instructions with
   Human Feedback", NeurIPS 2022.
.. [2] Wei et al., "Finetuned Language Models Are Zero-Shot Learners", ICLR 2022.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "CHAT_TEMPLATES",
    "CHATML_MARKERS",
    "format_chat",
    "tokenize_chat",
    "sft_loss",
    "sequence_logprobs",
]

_GEN = "generation_prompt"
#: ChatML's special markers. No message content may contain them, whatever the
#: template: a tokenizer would turn them into the real special tokens, so a
#: user (or a document quoted in a turn) could forge a system turn.
CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")
_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)

#: Built-in chat templates. ``"chatml"`` is OpenAI's Chat Markup Language, used
#: by many open chat models (the same text as HF's ChatML ``chat_template``);
#: ``"alpaca"`` is the plain-text ``### Instruction:`` / ``### Response:``
#: layout of the Stanford Alpaca data.
CHAT_TEMPLATES: dict[str, dict[str, str]] = {
    "chatml": {
        "system": "<|im_start|>system\n{content}<|im_end|>\n",
        "user": "<|im_start|>user\n{content}<|im_end|>\n",
        "assistant": "<|im_start|>assistant\n{content}<|im_end|>\n",
        _GEN: "<|im_start|>assistant\n",
    },
    "alpaca": {
        "system": "{content}\n\n",
        "user": "### Instruction:\n{content}\n\n",
        "assistant": "### Response:\n{content}\n\n",
        _GEN: "### Response:\n",
    },
}


def _resolve_template(template) -> Mapping[str, str]:
    if isinstance(template, str):
        if template not in CHAT_TEMPLATES:
            raise ValueError(
                f"template must be one of {sorted(CHAT_TEMPLATES)} or a dict, got {template!r}"
            )
        return CHAT_TEMPLATES[template]
    if not isinstance(template, Mapping):
        raise TypeError(f"template must be a str or a dict, got {type(template).__name__}")
    for role, fmt in template.items():
        if role != _GEN and (not isinstance(fmt, str) or fmt.count("{content}") != 1):
            raise ValueError(
                f"template[{role!r}] must be a str with '{{content}}' exactly once, got {fmt!r}"
            )
    return template


def _segments(messages, template) -> list[tuple[str, bool]]:
    """(text, is_response) pieces whose concatenation is the rendered chat."""
    tpl = _resolve_template(template)
    roles = sorted(r for r in tpl if r != _GEN)
    if isinstance(messages, (str, Mapping)) or not isinstance(messages, Sequence):
        raise TypeError(f"messages must be a list of dicts, got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise TypeError(f"messages[{i}] must be a dict, got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in roles:
            raise ValueError(f"messages[{i}]['role'] must be one of {roles}, got {role!r}")
        if not isinstance(content, str):
            raise TypeError(f"messages[{i}]['content'] must be a str, got {type(content).__name__}")
        if any(marker in content for marker in CHATML_MARKERS):  # a forged turn
            raise ValueError(f"messages[{i}]['content'] must be a str without ChatML markers")
        before, after = tpl[role].split("{content}")
        response = role == "assistant"
        # The assistant's header is prompt; its content and end marker are the response:
        # the model must learn to stop.
        out += [(before, False), (content, response), (after, response)]
    return out


def format_chat(messages, template="chatml", add_generation_prompt=False):
    """Render a conversation as text with a chat template.

    Parameters
    ----------
    messages : list of dict
        ``{"role": ..., "content": str}`` in order; the roles must be keys of
        the template (``system``, ``user``, ``assistant`` for the built-ins).
    template : str or dict, default "chatml"
        A name in :data:`CHAT_TEMPLATES`, or a dict mapping each role to a
        string with ``{content}`` exactly once and, optionally,
        ``"generation_prompt"`` to the text that opens an assistant turn.
    add_generation_prompt : bool, default False
        Append the template's ``"generation_prompt"``, which opens the
        assistant's turn for the model to write (for inference; SFT formats
        whole conversations). The default is that of transformers'
        ``apply_chat_template``.

    Returns
    -------
    str
        The rendered conversation.

    Raises
    ------
    ValueError
        If a role is not in the template (``messages[i]['role']``), a content
        contains one of :data:`CHATML_MARKERS` (a forged turn), the template
        name is unknown or a template string lacks ``{content}``.
    TypeError
        If ``messages`` is not a list of dicts or a content is not a string.

    References
    ----------
    .. [1] OpenAI, "Chat Markup Language (ChatML)", 2023.
    .. [2] Taori et al., "Stanford Alpaca: An Instruction-following LLaMA model", 2023.

    Examples
    --------
    >>> from fmref.align.sft import format_chat
    >>> chat = [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "4"}]
    >>> print(format_chat(chat))
    <|im_start|>user
    2 + 2?<|im_end|>
    <|im_start|>assistant
    4<|im_end|>
    <BLANKLINE>
    >>> print(format_chat(chat[:1], template="alpaca", add_generation_prompt=True))
    ### Instruction:
    2 + 2?
    <BLANKLINE>
    ### Response:
    <BLANKLINE>
    >>> format_chat([{"role": "tool", "content": "{}"}])
    Traceback (most recent call last):
    ...
    ValueError: messages[0]['role'] must be one of ['assistant', 'system', 'user'], got 'tool'
    """
    text = "".join(piece for piece, _ in _segments(messages, template))
    if add_generation_prompt:
        tpl = _resolve_template(template)
        if _GEN not in tpl:
            raise ValueError("template has no 'generation_prompt' entry")
        text += tpl[_GEN]
    return text


def tokenize_chat(
    messages, encode: Callable[[str], list[int]], template="chatml"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of a rendered conversation and the SFT loss mask aligned with them.

    Each piece of the template is encoded separately, so a token never straddles
    the boundary between prompt and response and the mask is exact. (A
    tokenizer run over the whole text may merge across that boundary; the
    difference is a few tokens per turn.)

    Parameters
    ----------
    messages : list of dict
        As for :func:`format_chat`.
    encode : callable
        ``str -> list[int]``, e.g. ``tokenizer.encode``.
    template : str or dict, default "chatml"
        As for :func:`format_chat`.

    Returns
    -------
    tokens : torch.Tensor
        ``(T,)`` ``torch.long`` ids.
    loss_mask : torch.Tensor
        ``(T,)`` ``torch.bool``, True on the assistant's content and end marker.

    Raises
    ------
    ValueError, TypeError
        As for :func:`format_chat`.

    Examples
    --------
    >>> from fmref.align.sft import tokenize_chat
    >>> chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    >>> tokens, mask = tokenize_chat(chat, lambda s: list(s.encode()))  # one id per byte
    >>> bytes(tokens[mask].tolist())  # what the loss is counted on
    b'yo<|im_end|>\\n'
    """
    ids: list[int] = []
    mask: list[bool] = []
    for piece, response in _segments(messages, template):
        piece_ids = list(encode(piece)) if piece else []
        ids += piece_ids
        mask += [response] * len(piece_ids)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.bool)


def _check(logits, tokens, mask, maskname):
    if not isinstance(tokens, torch.Tensor) or tokens.dtype not in _INT_DTYPES:
        kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise TypeError(f"tokens must be an integer tensor (B, T), got {kind}")
    if tokens.dim() != 2 or tokens.shape[1] < 2:
        raise ValueError(f"tokens must have shape (B, T) with T >= 2, got {tuple(tokens.shape)}")
    is_tensor = isinstance(logits, torch.Tensor)
    if not is_tensor or logits.dim() != 3 or logits.shape[:2] != tokens.shape:
        shape = tuple(logits.shape) if is_tensor else type(logits).__name__
        raise ValueError(
            f"logits must have shape (B, T, V) with (B, T) = {tuple(tokens.shape)}, got {shape}"
        )
    if not isinstance(mask, torch.Tensor) or mask.shape != tokens.shape:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(
            f"{maskname} must have the shape of tokens {tuple(tokens.shape)}, got {shape}"
        )


def _token_logprobs(logits, tokens):
    """``log p(tokens[:, t+1] | logits[:, t])`` for t < T-1: shape (B, T-1)."""
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
    return logp.gather(-1, tokens[:, 1:].long().unsqueeze(-1)).squeeze(-1)  # (B, T-1)


def sft_loss(logits, tokens, loss_mask):
    r"""Next-token cross-entropy averaged over the response tokens only.

    .. math:: \mathcal{L} = -\frac{\sum_{b,t \ge 1} m_{b,t}
       \log p_\theta(x_{b,t} \mid x_{b,<t})}{\sum_{b,t \ge 1} m_{b,t}}

    The shift is the one of :func:`fmref.train.objectives.causal_lm_loss`:
    ``logits[:, t]`` predicts ``tokens[:, t + 1]``. ``loss_mask`` is aligned
    with ``tokens``: ``loss_mask[b, t]`` says whether ``tokens[b, t]`` is a
    target. ``loss_mask[:, 0]`` is ignored (no logit predicts the first token).
    The mean is over all counted tokens of the batch, so a long answer weighs
    more than a short one.

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, T, V)`` scores of the model on ``tokens``.
    tokens : torch.Tensor
        ``(B, T)`` integer ids.
    loss_mask : torch.Tensor
        ``(B, T)`` bool or 0/1, True on response tokens.

    Returns
    -------
    torch.Tensor
        Scalar mean loss in nats per response token.

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If the shapes do not match or ``loss_mask`` selects no token after the first.

    References
    ----------
    .. [1] Ouyang et al., "Training Language Models to Follow Instructions with
       Human Feedback", NeurIPS 2022.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.sft import sft_loss
    >>> tokens = torch.tensor([[5, 6, 7, 8]])  # prompt 5 6, response 7 8
    >>> logits = torch.zeros(1, 4, 10)  # uniform over 10 ids
    >>> logits[0, 1, 7] = 3.0  # position 1 predicts token 7 well
    >>> loss = sft_loss(logits, tokens, torch.tensor([[0, 0, 1, 1]]))
    >>> expected = (-math.log(math.exp(3) / (math.exp(3) + 9)) + math.log(10)) / 2
    >>> round(loss.item(), 4), round(expected, 4)
    (1.3364, 1.3364)
    """
    _check(logits, tokens, loss_mask, "loss_mask")
    m = loss_mask[:, 1:].to(torch.float32)  # (B, T-1): targets tokens[:, 1:]
    n = m.sum()
    if n == 0:
        raise ValueError("loss_mask must select at least one token after position 0")
    return -(_token_logprobs(logits, tokens) * m).sum() / n


def sequence_logprobs(logits, tokens, mask):
    r"""Summed log-probability of the masked (completion) tokens of each sequence.

    .. math:: \log \pi_\theta(y \mid x) = \sum_{t \ge 1} m_t \log p_\theta(x_t \mid x_{<t})

    Same shift and alignment as :func:`sft_loss`: ``logits[:, t]`` predicts
    ``tokens[:, t + 1]`` and ``mask[b, t]`` marks ``tokens[b, t]``. This is the
    quantity DPO compares between policy and reference
    (:func:`fmref.align.dpo.dpo_loss`).

    Parameters
    ----------
    logits : torch.Tensor
        ``(B, T, V)``.
    tokens : torch.Tensor
        ``(B, T)`` integer ids.
    mask : torch.Tensor
        ``(B, T)`` bool or 0/1, True on completion tokens (False on prompt and padding).

    Returns
    -------
    torch.Tensor
        ``(B,)`` log-probabilities (``<= 0``); differentiable.

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer tensor.
    ValueError
        If the shapes do not match.

    References
    ----------
    .. [1] Rafailov et al., "Direct Preference Optimization: Your Language Model
       is Secretly a Reward Model", NeurIPS 2023.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.sft import sequence_logprobs
    >>> tokens = torch.tensor([[1, 2, 3], [1, 2, 0]])  # second row: last token is padding
    >>> mask = torch.tensor([[0, 1, 1], [0, 1, 0]])
    >>> lp = sequence_logprobs(torch.zeros(2, 3, 4), tokens, mask)  # uniform over 4 ids
    >>> [round(v, 4) for v in lp.tolist()], round(-2 * math.log(4), 4)
    ([-2.7726, -1.3863], -2.7726)
    """
    _check(logits, tokens, mask, "mask")
    return (_token_logprobs(logits, tokens) * mask[:, 1:].to(torch.float32)).sum(-1)
