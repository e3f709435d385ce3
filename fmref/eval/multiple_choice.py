"""Multiple-choice evaluation by log-likelihood, as MMLU and HellaSwag are scored.

Instead of generating an answer and parsing it, the model scores each candidate
continuation of the question: the answer it assigns the highest (log-)
likelihood is its choice. Summed log-likelihood favours short answers (every
token costs probability), so HellaSwag-style evaluation also reports a
length-normalised score: log-likelihood per token or per character (the
``acc_norm`` of EleutherAI's evaluation harness).
"""

from __future__ import annotations

import torch

from fmref._validate import check_in

__all__ = ["continuation_logprob", "score_choices", "multiple_choice_accuracy"]

_NORMALIZE = ("sum", "token", "char")


@torch.no_grad()
def continuation_logprob(model, context_ids, continuation_ids):
    """Log-probability of ``continuation_ids`` following ``context_ids``.

    Parameters
    ----------
    model : callable
        Causal language model: ``(1, T)`` token ids to ``(1, T, V)`` logits.
    context_ids : sequence of int
        The prompt; at least one token.
    continuation_ids : sequence of int
        The candidate answer; at least one token.

    Returns
    -------
    float
        :math:`\\sum_t \\log p(y_t \\mid \\text{context}, y_{<t})`.

    Raises
    ------
    ValueError
        If the context or the continuation is empty.

    Examples
    --------
    A model whose logits are the same everywhere gives each token
    :math:`\\log(1/V)`:

    >>> import math, torch
    >>> from fmref.eval.multiple_choice import continuation_logprob
    >>> uniform = lambda idx: torch.zeros(*idx.shape, 10)
    >>> round(continuation_logprob(uniform, [1, 2], [3, 4, 5]) / math.log(1 / 10), 6)
    3.0
    """
    context_ids, continuation_ids = list(context_ids), list(continuation_ids)
    if not context_ids or not continuation_ids:
        raise ValueError(
            "context_ids and continuation_ids must each hold at least one token, "
            f"got {len(context_ids)} and {len(continuation_ids)}"
        )
    ids = torch.tensor([context_ids + continuation_ids], dtype=torch.long)  # (1, T)
    logits = model(ids[:, :-1])  # (1, T-1, V): position t predicts token t+1
    logprobs = torch.log_softmax(logits.double(), dim=-1)[0]  # (T-1, V)
    start = len(context_ids) - 1  # the position that predicts the first answer token
    targets = ids[0, len(context_ids) :]  # (L,)
    picked = logprobs[start : start + len(continuation_ids)].gather(1, targets[:, None])
    return float(picked.sum())


def score_choices(model, encode, context, choices, normalize="sum"):
    """Score of every candidate answer; the prediction is the argmax.

    Parameters
    ----------
    model : callable
        Causal language model (see :func:`continuation_logprob`).
    encode : callable
        Text to a list of token ids.
    context : str
        The question or prompt.
    choices : sequence of str
        The candidate continuations (with their leading space, if any).
    normalize : {"sum", "token", "char"}, default "sum"
        Summed log-likelihood, or divided by the answer's tokens or characters.

    Returns
    -------
    list of float
        One score per choice.

    Raises
    ------
    ValueError
        If ``choices`` is empty or ``normalize`` is unknown.

    References
    ----------
    .. [1] Hendrycks et al., "Measuring Massive Multitask Language
       Understanding", ICLR 2021.
    .. [2] Zellers et al., "HellaSwag: Can a Machine Really Finish Your
       Sentence?", ACL 2019.
    .. [3] Gao et al., "A framework for few-shot language model evaluation"
       (lm-evaluation-harness), 2021.

    Examples
    --------
    A character bigram model, trained by counting, picks the continuation it has seen:

    >>> import torch
    >>> from fmref.eval.multiple_choice import score_choices
    >>> text = "the cat sat on the mat. the dog sat on the log. "
    >>> encode = lambda s: list(s.encode())
    >>> counts = torch.ones(256, 256)
    >>> ids = encode(text)
    >>> for a, b in zip(ids, ids[1:]):
    ...     counts[a, b] += 1
    >>> model = lambda idx: counts.log()[idx]          # (B, T) -> (B, T, 256)
    >>> scores = score_choices(model, encode, "the cat sat on the", [" mat.", " moon."])
    >>> [round(s, 2) for s in scores]
    [-22.54, -29.97]
    """
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
    if len(choices) == 0:
        raise ValueError("choices must hold at least one candidate, got none")
    ctx = encode(context)
    scores = []
    for choice in choices:
        ids = encode(choice)
        logp = continuation_logprob(model, ctx, ids)
        scale = {"sum": 1, "token": len(ids), "char": len(choice)}[normalize]
        scores.append(logp / scale)
    return scores


def multiple_choice_accuracy(model, encode, items, normalize="sum"):
    """Accuracy of a language model on multiple-choice items.

    Parameters
    ----------
    model : callable
        Causal language model.
    encode : callable
        Text to token ids.
    items : sequence of tuple
        ``(context, choices, answer_index)`` per item.
    normalize : {"sum", "token", "char"}, default "sum"
        See :func:`score_choices`.

    Returns
    -------
    float
        Fraction of items whose highest-scoring choice is the answer.

    Raises
    ------
    ValueError
        If ``items`` is empty or an answer index is out of range.

    Examples
    --------
    >>> import torch
    >>> from fmref.eval.multiple_choice import multiple_choice_accuracy
    >>> encode = lambda s: list(s.encode())
    >>> uniform = lambda idx: torch.zeros(*idx.shape, 256)   # prefers the shortest answer
    >>> items = [("Q:", [" yes", " no"], 1), ("Q:", [" maybe", " no"], 0)]
    >>> multiple_choice_accuracy(uniform, encode, items)
    0.5
    >>> multiple_choice_accuracy(uniform, encode, items, normalize="char")  # all tied: first wins
    0.5
    """
    check_in("normalize", normalize, _NORMALIZE)
    if len(items) == 0:
        raise ValueError("items must hold at least one (context, choices, answer) item, got none")
    right = 0
    for context, choices, answer in items:
        if not 0 <= answer < len(choices):
            raise ValueError(f"answer index must be in [0, {len(choices)}), got {answer}")
        scores = score_choices(model, encode, context, choices, normalize)
        right += max(range(len(scores)), key=scores.__getitem__) == answer
    return right / len(items)
