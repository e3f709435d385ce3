"""
DPO on a toy preference data set
================================

We align the tiny GPT of the Python documentation (:func:`fmref.zoo.tiny_gpt`)
with a made-up labeller who prefers answers that contain a parenthesis, that
is, answers that look like code. The frozen model is the reference; a copy is
the policy, trained with :func:`~fmref.align.dpo.dpo_loss` on pairs of the
reference's own samples. We watch the implicit rewards of the preferred and
the rejected answers drift apart, the preference accuracy on held-out pairs
climb from chance, and then check that the policy's *new* samples have the
property more often than the reference's, at a measured KL cost.
"""

# %%
# Preference pairs from the reference model's own samples
# --------------------------------------------------------
# Each prompt is a window of 16 tokens of the documentation; the reference writes
# 4 answers of 16 tokens to it. A prompt gives a pair when at least one answer has
# a parenthesis (chosen) and one has none (rejected). All answers have the same
# number of tokens, so summed log-probabilities are comparable.
import copy

import matplotlib.pyplot as plt
import torch

from fmref.align.dpo import dpo_loss
from fmref.align.ppo import kl_penalty
from fmref.align.sft import sequence_logprobs
from fmref.infer.generate import generate
from fmref.text.corpus import python_docs
from fmref.train.loop import fit
from fmref.zoo import tiny_gpt

torch.set_num_threads(1)  # tiny models: one thread is fastest and never oversubscribes
reference, tokenizer, _ = tiny_gpt()
reference.requires_grad_(False)
ids = torch.tensor(tokenizer.encode(python_docs("validation")))
PROMPT, ANSWER, GROUP, PROMPTS = 16, 16, 4, 640
g = torch.Generator().manual_seed(0)


def random_prompts(n, generator):
    starts = torch.randint(0, len(ids) - PROMPT, (n,), generator=generator)
    return torch.stack([ids[s : s + PROMPT] for s in starts.tolist()])  # (n, PROMPT)


def has_parenthesis(sequences):
    """The labeller: does the answer (the tokens after the prompt) contain '('?"""
    return torch.tensor([b"(" in tokenizer.decode(s[PROMPT:].tolist()).encode() for s in sequences])


with torch.no_grad():
    samples = generate(
        reference, random_prompts(PROMPTS, g).repeat_interleave(GROUP, 0), ANSWER, generator=g
    )  # (PROMPTS * GROUP, PROMPT + ANSWER)
good = has_parenthesis(samples).view(PROMPTS, GROUP)
pairs = [
    (i * GROUP + int(good[i].nonzero()[0]), i * GROUP + int((~good[i]).nonzero()[0]))
    for i in range(PROMPTS)
    if 0 < good[i].sum() < GROUP
]
chosen = samples[[w for w, _ in pairs]]  # (N, T)
rejected = samples[[lo for _, lo in pairs]]  # (N, T)
mask = torch.zeros_like(chosen, dtype=torch.bool)
mask[:, PROMPT:] = True  # only the answer's tokens count
n_train = int(0.8 * len(pairs))
print(f"reference answers with a parenthesis: {good.float().mean():.1%}")
print(f"preference pairs: {len(pairs)} ({n_train} to train on, {len(pairs) - n_train} held out)")

# %%
# Training the policy with DPO
# ----------------------------
# The reference log-probabilities are computed once; each step scores a batch of
# chosen and rejected answers with the policy. Every 5 steps we score the held-out
# pairs: a pair counts as ranked right when the chosen answer's implicit reward
# beta * log(pi / pi_ref) is the higher one (a tie, as at the start, counts half).
BETA, STEPS, BATCH, LR = 0.1, 60, 16, 5e-4


def logps(model, x):
    return sequence_logprobs(model(x), x, mask[: len(x)])


with torch.no_grad():
    ref_chosen, ref_rejected = logps(reference, chosen), logps(reference, rejected)

policy = copy.deepcopy(reference).train().requires_grad_(True)
held = slice(n_train, None)


def held_out_accuracy(policy):
    with torch.no_grad():
        _, rc, rr = dpo_loss(
            logps(policy, chosen[held]),
            logps(policy, rejected[held]),
            ref_chosen[held],
            ref_rejected[held],
            BETA,
        )
    margin = rc - rr
    return ((margin > 0).float() + 0.5 * (margin == 0).float()).mean().item()


rewards = {"chosen": [], "rejected": []}  # mean implicit rewards of each step's batch


def loss_fn(policy, idx):
    both = torch.cat([chosen[idx], rejected[idx]])  # (2 BATCH, T)
    lp = sequence_logprobs(policy(both), both, torch.cat([mask[idx], mask[idx]]))
    loss, rc, rr = dpo_loss(lp[:BATCH], lp[BATCH:], ref_chosen[idx], ref_rejected[idx], BETA)
    rewards["chosen"].append(rc.mean().item())
    rewards["rejected"].append(rc.mean().item() - (rc - rr).mean().item())
    return loss


before = held_out_accuracy(policy)
batches = torch.Generator().manual_seed(1)
run = fit(
    policy,
    lambda step: torch.randint(0, n_train, (BATCH,), generator=batches),
    loss_fn,
    STEPS,
    lr=LR,  # AdamW without weight decay
    eval_fn=held_out_accuracy,
    eval_every=5,
)
history = {
    "step": run["step"],
    **rewards,
    "eval_step": [0, *run["eval_step"]],
    "accuracy": [before, *run["eval"]],
}
acc_before, acc_after = history["accuracy"][0], history["accuracy"][-1]
print(f"held-out preference accuracy: {acc_before:.1%} before, {acc_after:.1%} after")

# %%
# Do new samples have the property?
# ---------------------------------
# The accuracy above ranks fixed answers. The point of alignment is what the model
# now *writes*: we sample answers to 256 fresh prompts from both models and estimate
# KL(policy || reference) from the policy's samples with the k1 estimator
# (:func:`~fmref.align.ppo.kl_penalty`), summed over each answer's tokens.
policy.eval()
fresh = random_prompts(256, torch.Generator().manual_seed(2))
with torch.no_grad():
    rates = {}
    for name, model in (("reference", reference), ("policy", policy)):
        out = generate(model, fresh, ANSWER, generator=torch.Generator().manual_seed(3))
        rates[name] = has_parenthesis(out).float().mean().item()
    answer_mask = torch.zeros_like(out, dtype=torch.bool)
    answer_mask[:, PROMPT:] = True
    kl = (
        kl_penalty(
            sequence_logprobs(policy(out), out, answer_mask),
            sequence_logprobs(reference(out), out, answer_mask),
            "k1",
        )
        .mean()
        .item()
    )
print(
    f"answers with a parenthesis: reference {rates['reference']:.1%}, "
    f"policy {rates['policy']:.1%}; KL(policy || reference) ~ {kl:.2f} nats per answer"
)

# %%
# The figure
# ----------
# Both implicit rewards fall: the loss sees only their difference, and the policy
# widens it by lowering the probability of the rejected answers much faster than
# that of the chosen ones, whose other tokens it has no reason to keep likely.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.plot(history["step"], history["chosen"], label="chosen answers")
ax1.plot(history["step"], history["rejected"], label="rejected answers")
ax1.axhline(0, color="grey", lw=0.8)
ax1.set_xlabel("DPO step")
ax1.set_ylabel(r"implicit reward $\beta \log \pi / \pi_{ref}$ (batch mean)")
ax1.legend()
ax2.plot(history["eval_step"], [100 * a for a in history["accuracy"]], "o-", color="C2")
ax2.axhline(50, color="grey", ls="--", lw=0.8, label="chance")
ax2.set_ylim(0, 105)
ax2.set_xlabel("DPO step")
ax2.set_ylabel("held-out preference accuracy (%)")
ax2.legend(loc="lower right")
fig.suptitle(
    f"DPO separates the rewards: held-out accuracy {acc_before:.0%} -> {acc_after:.0%}, "
    f"samples with '(' {rates['reference']:.0%} -> {rates['policy']:.0%}"
)
fig.tight_layout()
plt.show()
