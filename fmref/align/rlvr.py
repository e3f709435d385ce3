r"""Reinforcement learning with verifiable rewards: GRPO on the sums task, R1-Zero in miniature.

DeepSeek-R1-Zero was trained from a base model by GRPO alone: no supervised
fine-tuning, no reward model, only a rule that checks the final answer (and
its format). Its accuracy rose, and its answers grew longer as it learned to
work problems through before answering. :func:`train_rlvr` runs the same
recipe on :mod:`fmref.align.verifiable`'s base model: each step samples a
group of responses per training question at temperature 1, scores them with
:func:`~fmref.align.verifiable.verify`, turns the scores into group-normalised
advantages (:func:`~fmref.align.grpo.grpo_advantages`) and takes one step on
:func:`~fmref.align.grpo.grpo_loss`, through :func:`fmref.train.loop.fit`.
It records, per step, the mean reward of the samples, their mean length, the
share that work through the sum, and the KL to the base model; and every few
steps the accuracy on held-out questions (pass@1 from samples at the training
temperature).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from fmref._validate import (
    check_instance,
    check_int,
    check_number,
    check_overrides,
    check_positive_int,
)
from fmref.align._recipe import load_gpt
from fmref.align.grpo import grpo_advantages, grpo_loss
from fmref.align.ppo import kl_penalty
from fmref.align.verifiable import TOKENIZER, _start_from, sum_problem, verify
from fmref.infer.generate import generate
from fmref.models.gpt import GPT
from fmref.train.loop import cosine_schedule, fit

__all__ = ["RLVR_SETTINGS", "sample_responses", "response_logprobs", "accuracy", "train_rlvr"]

#: Settings of :func:`train_rlvr`.
RLVR_SETTINGS = {
    "steps": 30,  # GRPO steps (one optimiser step each)
    "prompts": 8,  # questions per step
    "group_size": 8,  # G: responses per question
    "kl_coef": 0.04,  # beta of the k3 KL penalty to the base model (DeepSeekMath: 0.04)
    "clip_eps": 0.2,  # PPO's epsilon (inactive with one update per batch)
    "lr": 1e-3,  # AdamW learning rate, cosine decay to a tenth
    "temperature": 1.0,  # sampling temperature of the rollouts
    "max_new_tokens": 24,  # response budget: 3 steps of 6 tokens, the answer and <eos> fit
    "eval_every": 5,  # steps between held-out evaluations
    "eval_questions": 100,  # held-out questions per evaluation
    "eval_samples": 2,  # responses per question at the training temperature: pass@1
    "seed": 0,
}


def _rows(responses):
    """Response tensor ``(B, L)`` -> lists of ids up to and including the first ``<eos>``."""
    out = []
    for row in responses.tolist():
        out.append(row[: row.index(TOKENIZER.EOS) + 1] if TOKENIZER.EOS in row else row)
    return out


@torch.no_grad()
def sample_responses(model, prompts, n, max_new_tokens=24, temperature=1.0, generator=None):
    """Sample ``n`` responses to each prompt (greedy when ``temperature == 0``).

    Prompts of equal length are decoded together by
    :func:`fmref.infer.generate.generate`, which stops once every response of
    the batch has written ``<eos>``; each response is cut after its first ``<eos>``.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        Over :data:`fmref.align.verifiable.TOKENIZER`.
    prompts : list of list of int
        Prompt token ids.
    n : int
        Responses per prompt, ``>= 1``.
    max_new_tokens : int, default 24
        Longest response.
    temperature : float, default 1.0
        Sampling temperature; 0 is greedy.
    generator : torch.Generator, optional
        Randomness of the sampler.

    Returns
    -------
    list of list of list of int
        ``[prompt][sample]`` response token ids.

    Raises
    ------
    ValueError
        If ``prompts`` is empty or ``n < 1``.

    Examples
    --------
    >>> import torch
    >>> from fmref.align.rlvr import sample_responses
    >>> from fmref.align.verifiable import TOKENIZER, train_base_model
    >>> model, _ = train_base_model(use_cache=False, steps=1, n_layer=1, n_embd=16)
    >>> out = sample_responses(model, [TOKENIZER.encode("4+7=")], 3, max_new_tokens=4,
    ...                        generator=torch.Generator().manual_seed(0))
    >>> len(out), len(out[0]), all(len(r) <= 4 for r in out[0])
    (1, 3, True)
    """
    check_instance("prompts", prompts, list)
    if not prompts:
        raise ValueError("prompts must hold at least one prompt, got none")
    check_positive_int("n", n)
    check_number("temperature", temperature, low=0)
    out = [None] * len(prompts)
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    for length, which in sorted(by_length.items()):
        idx = torch.tensor([prompts[i] for i in which for _ in range(n)])  # (len(which) n, T)
        room = min(max_new_tokens, model.config.block_size - length)
        rows = _rows(generate(model, idx, room, temperature=temperature, generator=generator,
                              eos_id=TOKENIZER.EOS)[:, length:])
        for j, i in enumerate(which):
            out[i] = rows[j * n:(j + 1) * n]
    return out


def response_logprobs(model, prompts, responses):
    """Log-probabilities of each response token under ``model``, and the response mask.

    Prompt and response are joined and right-padded (the model is causal, so
    padding after a sequence changes nothing before it); one forward pass
    scores the batch.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        The model.
    prompts : list of list of int
        One prompt per response.
    responses : list of list of int
        Response token ids, at least one each.

    Returns
    -------
    logp : torch.Tensor
        ``(N, L)`` log-probability of response token ``t`` of row ``i`` (0 on padding).
    mask : torch.Tensor
        ``(N, L)`` bool, True on response tokens.

    Raises
    ------
    ValueError
        If the lists differ in length or a response is empty.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.align.rlvr import response_logprobs
    >>> from fmref.models.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=105, block_size=8, n_layer=1, n_head=2, n_embd=8))
    >>> torch.nn.init.zeros_(model.lm_head.weight)  # uniform over the 105 tokens
    Parameter containing: ...
    >>> logp, mask = response_logprobs(model, [[5, 1, 6, 2]], [[4, 7, 0]])
    >>> mask.tolist(), round(logp[0, 0].item(), 4) == round(-math.log(105), 4)
    ([[True, True, True]], True)
    """
    if len(prompts) != len(responses) or any(len(r) == 0 for r in responses):
        raise ValueError("responses must hold one non-empty response per prompt")
    L = max(len(r) for r in responses)
    seqs = [p + r for p, r in zip(prompts, responses)]
    T = max(len(s) for s in seqs)
    x = torch.full((len(seqs), T), TOKENIZER.EOS, dtype=torch.long)  # (N, T)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s)
    logp_all = F.log_softmax(model(x), dim=-1)  # (N, T, V)
    logp = torch.zeros(len(seqs), L)
    mask = torch.zeros(len(seqs), L, dtype=torch.bool)
    pos = torch.arange(L)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        t = pos[: len(r)]
        logp[i, : len(r)] = logp_all[i, len(p) - 1 + t, torch.tensor(r)]  # token t from before it
        mask[i, : len(r)] = True
    return logp, mask


def accuracy(model, n=100, samples=1, temperature=0.0, seed=1234, max_new_tokens=24):
    """Accuracy on held-out questions (pass@1), and the mean response length in tokens.

    Parameters
    ----------
    model : fmref.models.gpt.GPT
        Over :data:`fmref.align.verifiable.TOKENIZER`.
    n : int, default 100
        Held-out questions (:func:`fmref.align.verifiable.is_held_out`).
    samples : int, default 1
        Responses per question; the accuracy is their mean reward (pass@1
        estimated from ``samples`` samples, as DeepSeek-R1 reports it).
    temperature : float, default 0.0
        Sampling temperature; 0 is greedy (then one sample is enough).
    seed : int, default 1234
        Seed of the questions and of the sampler.
    max_new_tokens : int, default 24
        Longest response.

    Returns
    -------
    acc : float
        Share of responses that are right.
    length : float
        Mean response length, ``<eos>`` not counted.

    Raises
    ------
    ValueError
        If ``n`` or ``samples`` is below 1.

    Examples
    --------
    >>> from fmref.align.rlvr import accuracy
    >>> from fmref.align.verifiable import train_base_model
    >>> model, _ = train_base_model(use_cache=False, steps=1, n_layer=1, n_embd=16)
    >>> accuracy(model, n=4, max_new_tokens=3)[0]  # an untrained model
    0.0
    """
    check_positive_int("n", n)
    check_positive_int("samples", samples)
    rng = random.Random(seed)
    problems = [sum_problem(rng, True) for _ in range(n)]
    gen = torch.Generator().manual_seed(seed)
    responses = sample_responses(model, [p["prompt"] for p in problems], samples,
                                 max_new_tokens, temperature, gen)
    rewards = [verify(p["digits"], r) for p, group in zip(problems, responses) for r in group]
    lengths = [len(r) - (r[-1] == TOKENIZER.EOS) for group in responses for r in group]
    return sum(rewards) / len(rewards), sum(lengths) / len(lengths)


def train_rlvr(use_cache=True, base=None, **overrides):
    """GRPO with a rule-based reward from the base model (or load the run from the cache).

    Parameters
    ----------
    use_cache : bool, default True
        Load the run from :mod:`fmref.zoo`'s cache if present (the base model too).
    base : fmref.models.gpt.GPT, optional
        Start from this model instead of
        :func:`~fmref.align.verifiable.train_base_model`'s; the run is then not
        cached (``use_cache`` must be False).
    **overrides
        Settings to change from :data:`RLVR_SETTINGS` (``kl_coef`` and
        ``group_size`` are the knobs the manual turns).

    Returns
    -------
    model : fmref.models.gpt.GPT
        The trained policy, in eval mode.
    history : dict
        Per step (``step``): ``reward`` (mean over the samples), ``length`` (mean
        response tokens), ``worked`` (share of samples that write steps), ``kl``
        (mean per-token k3 estimate to the base model); per evaluation
        (``eval_step``, step 0 is the base model): ``heldout_accuracy`` and
        ``heldout_length`` (sampled as in training, ``eval_samples`` per question);
        ``seconds``.

    Raises
    ------
    ValueError
        If an override names an unknown setting, ``group_size`` is below 2 (a group
        of one has no advantage), or ``base`` is given with ``use_cache``.

    References
    ----------
    .. [1] DeepSeek-AI, "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs
       via Reinforcement Learning", 2025 (Nature 645, 2025).
    .. [2] Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical
       Reasoning in Open Language Models", 2024.

    Examples
    --------
    >>> from fmref.align.rlvr import train_rlvr
    >>> from fmref.align.verifiable import train_base_model
    >>> tiny, _ = train_base_model(use_cache=False, steps=1, n_layer=1, n_embd=16)
    >>> model, history = train_rlvr(use_cache=False, base=tiny, steps=2, prompts=2,
    ...                             group_size=2, eval_questions=4, eval_every=1)
    >>> history["step"], history["eval_step"]
    ([1, 2], [0, 1, 2])
    """
    s = check_overrides("overrides", overrides, RLVR_SETTINGS)
    check_int("group_size", s["group_size"], low=2)
    base = _start_from(base, use_cache)

    def train():
        from fmref.zoo import one_thread

        torch.manual_seed(s["seed"])
        rng, gen = random.Random(s["seed"]), torch.Generator().manual_seed(s["seed"])
        model = GPT(base.config)
        model.load_state_dict(base.state_dict())
        reference = GPT(base.config).eval().requires_grad_(False)
        reference.load_state_dict(base.state_dict())
        log = {k: [] for k in ("reward", "length", "worked", "kl")}
        evals = []

        def evaluate(m):
            acc, length = accuracy(m, s["eval_questions"], s["eval_samples"], s["temperature"],
                                   max_new_tokens=s["max_new_tokens"])
            evals.append((round(acc, 4), round(length, 3)))
            return acc

        def rollouts(step):
            problems = [sum_problem(rng) for _ in range(s["prompts"])]
            samples = sample_responses(model, [p["prompt"] for p in problems], s["group_size"],
                                       s["max_new_tokens"], s["temperature"], gen)
            prompts, responses, rewards = [], [], []
            for p, group in zip(problems, samples):
                for r in group:
                    prompts.append(p["prompt"])
                    responses.append(r)
                    rewards.append(verify(p["digits"], r))
            with torch.no_grad():
                logp_ref, mask = response_logprobs(reference, prompts, responses)
            rewards = torch.tensor(rewards)
            lengths = mask.sum(1) - torch.tensor([r[-1] == TOKENIZER.EOS for r in responses]).long()
            log["reward"].append(round(rewards.mean().item(), 4))
            log["length"].append(round(lengths.float().mean().item(), 3))
            log["worked"].append(round(sum(r[0] != TOKENIZER.ANSWER for r in responses)
                                       / len(responses), 4))
            return prompts, responses, grpo_advantages(rewards, s["group_size"]), logp_ref, mask

        def loss_fn(m, batch):
            prompts, responses, advantages, logp_ref, mask = batch
            logp, _ = response_logprobs(m, prompts, responses)
            kl = kl_penalty(logp.detach(), logp_ref, "k3")[mask]  # per answer token
            log["kl"].append(round(kl.mean().item(), 5))
            return grpo_loss(logp, logp.detach(), advantages, mask, logp_ref,
                             s["clip_eps"], s["kl_coef"])

        with one_thread():
            model.eval()
            evaluate(model)  # step 0: the base model
            history = fit(
                model, rollouts, loss_fn, s["steps"],
                lr=lambda step: cosine_schedule(step, 0, s["steps"], s["lr"], s["lr"] / 10),
                eval_fn=evaluate, eval_every=s["eval_every"], grad_clip=1.0,
            )
        steps = [0] + history["eval_step"]
        return {"state_dict": model.state_dict(),
                "history": {"step": history["step"], **log, "eval_step": steps,
                            "heldout_accuracy": [a for a, _ in evals],
                            "heldout_length": [n for _, n in evals],
                            "seconds": history["seconds"]}}

    from fmref.zoo import cached

    return load_gpt(base.config, cached("sums-rlvr", s, train) if use_cache else train())
