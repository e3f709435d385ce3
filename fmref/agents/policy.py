"""A tiny GPT trained to act: it writes a calculator call, then reads the result.

The policy is trained on synthetic ReAct transcripts of arithmetic word problems
(:mod:`fmref.agents.traces`): the question, a short thought, one ``<tool_call>`` to the
calculator with the right expression, the observation, and the answer copied from
it. The loss covers only the text the policy writes (thoughts, the call, the
answer), never the question or the observation, exactly as supervised fine-tuning
masks the prompt (Chapter XI). The model must pick the operator from the wording,
copy the numbers of the question into the expression in order, and copy the
observation into the answer.

This is the setting of Toolformer (Schick et al., 2023) in miniature: the model
never learns to multiply; it learns *when to call* and *what to pass*.
"""

from __future__ import annotations

import random

import torch
from torch.nn import functional as F

from fmref._validate import check_overrides, check_positive_int
from fmref.agents.calculator import calculator
from fmref.agents.parse import CALL_CLOSE
from fmref.agents.react import run_agent
from fmref.agents.traces import TEST_NAMES, PolicyTokenizer, react_transcript, word_problem
from fmref.align._recipe import fit_gpt, load_gpt
from fmref.models.gpt import GPTConfig

__all__ = ["POLICY_SETTINGS", "train_react_policy", "ModelPolicy", "success_rate"]

#: Settings of :func:`train_react_policy`.
POLICY_SETTINGS = {
    "block_size": 96,  # tokens: one whole transcript
    "n_layer": 2,  # two layers: enough for copying by position and by content
    "n_head": 4,
    "n_embd": 64,
    "steps": 1800,  # AdamW steps, on one thread
    "batch_size": 8,  # transcripts per step
    "lr": 5e-3,  # peak learning rate, cosine decay to a tenth
    "warmup": 30,
    "seed": 0,
}

_TOKENIZER = PolicyTokenizer()


def _config(s):
    return GPTConfig(vocab_size=_TOKENIZER.vocab_size, block_size=s["block_size"],
                     n_layer=s["n_layer"], n_head=s["n_head"], n_embd=s["n_embd"], dropout=0.0)


def _batch(rng, n, block_size):
    rows = []
    for _ in range(n):
        ids, mask = [], []
        for text, own in react_transcript(word_problem(rng)):
            piece = _TOKENIZER.encode(text)
            ids += piece
            mask += [own] * len(piece)
        rows.append((ids[: block_size + 1], mask[: block_size + 1]))
    T = max(len(ids) for ids, _ in rows) - 1  # pad to the longest transcript only
    x = torch.zeros(n, T, dtype=torch.long)
    y = torch.full((n, T), -100, dtype=torch.long)  # -100: no loss
    for i, (ids, mask) in enumerate(rows):
        x[i, : len(ids) - 1] = torch.tensor(ids[:-1])
        target = torch.tensor(ids[1:])
        y[i, : len(ids) - 1] = torch.where(torch.tensor(mask[1:]), target, -100)
    return x, y


def _policy_logits(model, x, y):
    """Logits and targets at the positions with a loss only: the output head, a
    (tokens, vocab) product, is the largest cost of this small model."""
    pos = torch.arange(x.shape[1])
    h = model.drop(model.wte(x) + model.wpe(pos))  # (B, T, C)
    for block in model.h:
        h = block(h)
    keep = y != -100  # (B, T): the policy's own tokens
    return model.lm_head(model.ln_f(h[keep])), y[keep]  # (N, V), (N,)


def train_react_policy(use_cache=True, **overrides):
    """Train (or load from :mod:`fmref.zoo`'s cache) the tiny ReAct policy.

    Parameters
    ----------
    use_cache : bool, default True
        Load the policy from the cache if present; train and store it otherwise.
    **overrides
        Settings to change from :data:`POLICY_SETTINGS` (e.g. ``steps=2`` for a
        quick test); other settings are another entry of the cache.

    Returns
    -------
    model : fmref.models.gpt.GPT
        The policy, over :class:`~fmref.agents.traces.PolicyTokenizer`, in eval mode.
    history : list of float
        The loss on the policy's own tokens (thoughts, calls, answers) at every step.

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    References
    ----------
    .. [1] Schick et al., "Toolformer: Language Models Can Teach Themselves to Use
       Tools", NeurIPS 2023.

    Examples
    --------
    >>> from fmref.agents.policy import train_react_policy
    >>> model, history = train_react_policy(use_cache=False, steps=2, n_layer=1, n_embd=32)
    >>> len(history), model.config.vocab_size
    (2, 2165)
    """
    s = check_overrides("overrides", overrides, POLICY_SETTINGS)

    def train():  # defined here: this module's code enters the cache key
        return fit_gpt(_config(s), lambda rng: _batch(rng, s["batch_size"], s["block_size"]),
                       lambda model, batch: F.cross_entropy(*_policy_logits(model, *batch)), s)

    from fmref.zoo import cached

    return load_gpt(_config(s), cached("react-policy", s, train) if use_cache else train())


class ModelPolicy:
    """A GPT over :class:`~fmref.agents.traces.PolicyTokenizer` as a ReAct policy.

    Decoding is greedy, with a KV cache, and stops after ``</tool_call>`` (the loop
    runs the call), after the ``Answer:`` line, or after ``max_new_tokens`` tokens.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        Over :class:`~fmref.agents.traces.PolicyTokenizer` (from :func:`train_react_policy`).
    max_new_tokens : int, default 160
        Most tokens per step.

    Examples
    --------
    >>> from fmref.agents.policy import ModelPolicy, train_react_policy
    >>> model, _ = train_react_policy(use_cache=False, steps=1, n_layer=1, n_embd=32)
    >>> out = ModelPolicy(model, max_new_tokens=5)("Question: 2 + 2?\\n")
    >>> isinstance(out, str)
    True
    """

    def __init__(self, model, max_new_tokens=160):
        check_positive_int("max_new_tokens", max_new_tokens)
        self.model = model
        self.max_new_tokens = max_new_tokens

    @torch.no_grad()
    def __call__(self, transcript):
        ids = _TOKENIZER.encode(transcript)[-self.model.config.block_size + 1:]  # the latest
        room = self.model.config.block_size - len(ids)
        cache = self.model.make_kv_cache()
        logits = self.model(torch.tensor([ids]), kv_cache=cache)[0, -1]  # (V,)
        out = ""
        for i in range(min(self.max_new_tokens, room)):
            token = int(logits.argmax())
            out += _TOKENIZER.vocab[token]
            if out.endswith(CALL_CLOSE) or ("Answer:" in out and out.endswith("\n")):
                break
            if i + 1 < room:
                logits = self.model(torch.tensor([[token]]), kv_cache=cache)[0, -1]
        return out


def success_rate(policy, n=50, names=TEST_NAMES, seed=1234, max_steps=3):
    """Share of fresh word problems the agent answers correctly with the calculator.

    Parameters
    ----------
    policy : callable
        A policy for :func:`fmref.agents.react.run_agent`.
    n : int, default 50
        Problems.
    names : list of str, default fmref.agents.traces.TEST_NAMES
        Names of the problems (held out of training by default).
    seed : int, default 1234
        Seed of the problems (the training problems use seed 0).
    max_steps : int, default 3
        Step limit of each run.

    Returns
    -------
    dict
        ``"success"`` (share correct), ``"by_kind"`` (share correct per template),
        ``"results"`` (the :class:`~fmref.agents.react.AgentResult` of each problem).

    Examples
    --------
    >>> from fmref.agents.policy import success_rate
    >>> from fmref.agents.react import ScriptedPolicy
    >>> success_rate(ScriptedPolicy(["Answer: 7"]), n=4)["success"]
    0.0
    """
    check_positive_int("n", n)
    rng = random.Random(seed)
    problems = [word_problem(rng, names) for _ in range(n)]
    results = [run_agent(policy, [calculator], p["question"], max_steps) for p in problems]
    ok = [r.answer == p["answer"] for r, p in zip(results, problems)]
    by_kind: dict[str, list[bool]] = {}
    for p, good in zip(problems, ok):
        by_kind.setdefault(p["kind"], []).append(good)
    return {"success": sum(ok) / n, "by_kind": {k: sum(v) / len(v) for k, v in by_kind.items()},
            "results": results}
