r"""Outcome and process reward models: scoring a whole answer, or each of its steps.

A verifier for best-of-N (Cobbe et al., 2021) is a language model with a
scalar head, trained on the generator's own samples labelled right or wrong.
It can be supervised two ways:

- an **outcome reward model** (ORM) learns :math:`P(\text{answer right} \mid
  \text{question}, \text{response})` from one label per response, read at its
  last token;
- a **process reward model** (PRM) learns :math:`P(\text{step } t \text{ right}
  \mid \text{question}, \text{steps} \le t)` from one label per step, read at
  the token that ends the step; a response's score is the probability that
  every step is right, the product of its steps' scores (Lightman et al.,
  2024; the minimum is another choice).

On the sums task of :mod:`fmref.align.verifiable` both kinds of label come
from rules (:func:`~fmref.align.verifiable.verify`,
:func:`~fmref.align.verifiable.step_labels`); for real problems outcome
labels come from a checker or a reference answer and step labels from people
(PRM800K) or from rollouts that estimate whether a step still leads to the
right answer (Math-Shepherd). :func:`train_reward_models` trains one of each,
both initialised from the base model, on the base model's samples.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from fmref._validate import check_in, check_instance, check_overrides
from fmref.align.rlvr import sample_responses
from fmref.align.verifiable import _start_from, _step_ends, step_labels, sum_problem, verify
from fmref.models.gpt import GPT
from fmref.train.loop import cosine_schedule, fit

__all__ = ["TokenScorer", "REWARD_MODEL_SETTINGS", "train_reward_models", "outcome_scores",
           "process_scores"]

#: Settings of :func:`train_reward_models`.
REWARD_MODEL_SETTINGS = {
    "samples": 1536,  # base-model responses to training questions (one each), labelled by rule
    "steps": 120,  # AdamW steps per model
    "batch_size": 32,  # responses per step
    "lr": 1e-3,  # peak learning rate, cosine decay to a tenth
    "warmup": 20,
    "validation": 512,  # responses to held-out questions, to measure the models
    "seed": 0,
}


class TokenScorer(nn.Module):
    """A GPT without its output head, and one logit per position instead.

    Parameters
    ----------
    gpt : fmref.models.gpt.GPT
        The trunk (its weights are used as they are: pass a copy to keep the original).

    Examples
    --------
    >>> import torch
    >>> from fmref.align.prm import TokenScorer
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> scorer = TokenScorer(GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2,
    ...                                    n_embd=8)))
    >>> scorer(torch.tensor([[1, 2, 3]])).shape  # (B, T): one logit per position
    torch.Size([1, 3])
    """

    def __init__(self, gpt):
        super().__init__()
        self.gpt = check_instance("gpt", gpt, GPT)
        self.head = nn.Linear(gpt.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # every score starts at probability 1/2

    def forward(self, idx):
        """Logits ``(B, T)`` of ``idx`` ``(B, T)``: position t sees tokens up to t."""
        g = self.gpt
        pos = torch.arange(idx.shape[1])
        h = g.drop(g.wte(idx) + g.wpe(pos))  # (B, T, C)
        for block in g.h:
            h = block(h)
        return self.head(g.ln_f(h)).squeeze(-1)  # (B, T)


def _batch_tensor(prompts, responses):
    seqs = [p + r for p, r in zip(prompts, responses)]
    x = torch.zeros(len(seqs), max(len(s) for s in seqs), dtype=torch.long)  # (N, T)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s)
    return x


def _samples(model, n, held_out, rng, gen):
    problems = [sum_problem(rng, held_out) for _ in range(n)]
    responses = [r[0] for r in sample_responses(model, [p["prompt"] for p in problems], 1,
                                                generator=gen)]
    rows = []
    for p, r in zip(problems, responses):
        last = len(p["prompt"]) + len(r) - 1  # the response's last token: <eos> if it stopped
        steps = [(len(p["prompt"]) + pos, label) for pos, label in step_labels(p["digits"], r)]
        rows.append((p["prompt"], r, last, verify(p["digits"], r), steps))
    return rows


def _targets(rows, kind):
    """Index tensors (row, position) and the labels an ORM or a PRM is trained on."""
    pairs = [(i, row[2], row[3]) for i, row in enumerate(rows)] if kind == "outcome" else \
        [(i, pos, label) for i, row in enumerate(rows) for pos, label in row[4]]
    i, pos, label = zip(*pairs)
    return torch.tensor(i), torch.tensor(pos), torch.tensor(label, dtype=torch.float)


def _loss(kind):
    def loss(model, rows):
        x = _batch_tensor([r[0] for r in rows], [r[1] for r in rows])
        i, pos, label = _targets(rows, kind)
        return F.binary_cross_entropy_with_logits(model(x)[i, pos], label)

    return loss


@torch.no_grad()
def _scores(model, prompts, responses, kind, aggregate="product"):
    model.eval()
    x = _batch_tensor(prompts, responses)
    probs = torch.sigmoid(model(x))  # (N, T)
    out = []
    for i, (p, r) in enumerate(zip(prompts, responses)):
        if kind == "outcome":
            out.append(probs[i, len(p) + len(r) - 1].item())
        else:
            steps, _, last = _step_ends(r)
            ends = [pos for *_, pos in steps] + [last]
            step_probs = probs[i, [len(p) + e for e in ends]]
            out.append((step_probs.prod() if aggregate == "product" else step_probs.min()).item())
    return out


def outcome_scores(orm, prompts, responses):
    """An ORM's probability that each response is right, read at its last token.

    Parameters
    ----------
    orm : TokenScorer
        From :func:`train_reward_models`.
    prompts, responses : list of list of int
        One prompt per response (response ids as sampled, ``<eos>`` included).

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        If the lists differ in length or are empty.

    Examples
    --------
    >>> from fmref.align.prm import TokenScorer, outcome_scores
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> orm = TokenScorer(GPT(GPTConfig(vocab_size=105, block_size=16, n_layer=1, n_head=2,
    ...                                 n_embd=8)))
    >>> outcome_scores(orm, [[9, 1, 10, 2]], [[4, 14, 0]])  # untrained: 1/2
    [0.5]
    """
    _check_pairs(prompts, responses)
    return _scores(orm, prompts, responses, "outcome")


def process_scores(prm, prompts, responses, aggregate="product"):
    """A PRM's probability that every step of each response is right.

    Parameters
    ----------
    prm : TokenScorer
        From :func:`train_reward_models`.
    prompts, responses : list of list of int
        One prompt per response.
    aggregate : {"product", "min"}, default "product"
        How the steps' probabilities make the response's score: their product
        (the probability that all are right, if the PRM's errors are
        independent) or the weakest step.

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        If the lists differ in length or are empty, or ``aggregate`` is unknown.

    References
    ----------
    .. [1] Lightman et al., "Let's Verify Step by Step", ICLR 2024.

    Examples
    --------
    >>> from fmref.align.prm import TokenScorer, process_scores
    >>> from fmref.align.verifiable import TOKENIZER
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> prm = TokenScorer(GPT(GPTConfig(vocab_size=105, block_size=32, n_layer=1, n_head=2,
    ...                                 n_embd=8)))
    >>> response = TOKENIZER.encode("4+7=11, 11+2=13, answer 13") + [TOKENIZER.EOS]
    >>> process_scores(prm, [TOKENIZER.encode("4+7+2=")], [response])  # 3 steps of 1/2
    [0.125]
    """
    _check_pairs(prompts, responses)
    check_in("aggregate", aggregate, ("product", "min"))
    return _scores(prm, prompts, responses, "process", aggregate)


def _check_pairs(prompts, responses):
    check_instance("prompts", prompts, list)
    check_instance("responses", responses, list)
    if not prompts or len(prompts) != len(responses) or any(len(r) == 0 for r in responses):
        raise ValueError(f"responses must hold one non-empty response per prompt "
                         f"({len(prompts)} prompts), got {len(responses)}")


def _auc(scores, labels):
    """Area under the ROC curve: P(a right response outscores a wrong one), ties half."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def train_reward_models(use_cache=True, base=None, **overrides):
    """Train (or load from :mod:`fmref.zoo`'s cache) an ORM and a PRM on the sums task.

    Both start from the base model of
    :func:`~fmref.align.verifiable.train_base_model` and see the same
    base-model responses, one per training question; the ORM is trained on each
    response's outcome, the PRM on each of its steps.

    Parameters
    ----------
    use_cache : bool, default True
        Load the models from the cache if present; train and store them otherwise.
    base : fmref.models.gpt.GPT, optional
        Start from this model and sample from it instead of the cached base
        model; the models are then not cached (``use_cache`` must be False).
    **overrides
        Settings to change from :data:`REWARD_MODEL_SETTINGS`.

    Returns
    -------
    orm, prm : TokenScorer
        In eval mode.
    history : dict
        ``orm_loss`` and ``prm_loss`` per step; on responses to held-out
        questions, ``right`` (share right) and the AUC of each model's score
        (``orm_auc``, ``prm_auc``: the chance that a right response outscores a
        wrong one).

    Raises
    ------
    ValueError
        If an override names an unknown setting, or ``base`` is given with ``use_cache``.

    References
    ----------
    .. [1] Cobbe et al., "Training Verifiers to Solve Math Word Problems", 2021.
    .. [2] Uesato et al., "Solving math word problems with process- and
       outcome-based feedback", 2022.
    .. [3] Lightman et al., "Let's Verify Step by Step", ICLR 2024.

    Examples
    --------
    >>> from fmref.align.prm import train_reward_models
    >>> from fmref.align.verifiable import train_base_model
    >>> tiny, _ = train_base_model(use_cache=False, steps=1, n_layer=1, n_embd=16)
    >>> orm, prm, history = train_reward_models(use_cache=False, base=tiny, samples=8, steps=2,
    ...                                         batch_size=4, validation=8)
    >>> len(history["orm_loss"]), len(history["prm_loss"])
    (2, 2)
    """
    s = check_overrides("overrides", overrides, REWARD_MODEL_SETTINGS)
    base = _start_from(base, use_cache)

    def train():
        from fmref.zoo import one_thread

        torch.manual_seed(s["seed"])
        rng, gen = random.Random(s["seed"]), torch.Generator().manual_seed(s["seed"])
        out = {}
        with one_thread():
            rows = _samples(base, s["samples"], False, rng, gen)
            held = _samples(base, s["validation"], True, rng, gen)
            for kind, key in (("outcome", "orm"), ("process", "prm")):
                model = GPT(base.config)
                model.load_state_dict(base.state_dict())
                model = TokenScorer(model)
                order = random.Random(s["seed"])

                def batch(step, order=order):
                    return order.sample(rows, min(s["batch_size"], len(rows)))

                history = fit(model, batch, _loss(kind), s["steps"],
                              lr=lambda step: cosine_schedule(step, min(s["warmup"], s["steps"]),
                                                              s["steps"], s["lr"], s["lr"] / 10),
                              weight_decay=0.01, grad_clip=1.0)
                scores = _scores(model, [r[0] for r in held], [r[1] for r in held], kind)
                out[key] = model.state_dict()
                out[f"{key}_loss"] = history["loss"]
                out[f"{key}_auc"] = round(_auc(scores, [r[3] for r in held]), 4)
            out["right"] = sum(r[3] for r in held) / len(held)
        return out

    if use_cache:
        from fmref.zoo import cached

        stored = cached("sums-reward-models", s, train)
    else:
        stored = train()
    models = []
    for key in ("orm", "prm"):
        model = TokenScorer(GPT(base.config))
        model.load_state_dict(stored[key])
        models.append(model.eval())
    history = {k: v for k, v in stored.items() if k not in ("orm", "prm")}
    return models[0], models[1], history

