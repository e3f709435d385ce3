"""Speculative decoding with a small draft: acceptance rate and target calls per token.

The target is :func:`fmref.zoo.tiny_gpt` (3 layers, width 96); the draft is the
same recipe shrunk to 1 layer of width 48, trained on the same corpus with the
same tokenizer. Both continue 8 prompts from the validation split of the Python
docs corpus by 48 tokens at temperature 1, once with plain sampling from the
target and once with :func:`fmref.infer.speculative.speculative_generate`
(gamma = 4). Reported, from one run: the acceptance rate, target forward passes
per generated token (1 for plain decoding), the formula's prediction
``(1 - a^(g+1)) / (1 - a)`` from the measured rate, and the CPU-time ratio.
Saved to fmref/results/speculative.json.

On a CPU with models this small the draft is not much cheaper than the target
(their cost is dominated by per-call overhead), so the time ratio says little;
the number of target calls per token is what carries over to large models.

Run: ``python -m benchmarks speculative`` (trains both models on the first run).
"""

from __future__ import annotations

import os
import sys
import time

import torch

from fmref.infer.generate import generate
from fmref.infer.speculative import (
    SpeculativeStats,
    expected_tokens_per_step,
    speculative_generate,
)
from fmref.text.corpus import python_docs
from fmref.zoo import tiny_gpt

MACHINE = {"torch_threads": int(os.environ.get("FMREF_BENCH_THREADS", "1"))}
GAMMA, NEW, PROMPTS, PROMPT_LEN = 4, 48, 8, 12


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: 2 prompts x 8 new tokens."""
    torch.set_num_threads(MACHINE["torch_threads"])
    n_prompts, new = (2, 8) if quick else (PROMPTS, NEW)
    target, tokenizer, _ = tiny_gpt()
    draft, _, _ = tiny_gpt(n_layer=1, n_embd=48)
    ids = tokenizer.encode(python_docs("validation"))
    prompts = [torch.tensor([ids[i * 500 : i * 500 + PROMPT_LEN]]) for i in range(n_prompts)]
    total = SpeculativeStats()
    cpu_spec = cpu_plain = 0.0
    for i, prompt in enumerate(prompts):
        start = time.process_time()
        _, s = speculative_generate(
            target, draft, prompt, new, gamma=GAMMA, generator=torch.Generator().manual_seed(i)
        )
        cpu_spec += time.process_time() - start
        start = time.process_time()
        generate(target, prompt, new, generator=torch.Generator().manual_seed(i))
        cpu_plain += time.process_time() - start
        for field in (
            "drafted",
            "checked",
            "accepted",
            "target_calls",
            "draft_calls",
            "new_tokens",
        ):
            setattr(total, field, getattr(total, field) + getattr(s, field))
        print(f"prompt {i + 1}/{n_prompts}: {s.acceptance_rate:.2f} accepted", file=sys.stderr)
    alpha = total.acceptance_rate
    report = {
        "benchmark": "speculative",
        "what": f"{n_prompts} prompts x {new} new tokens at temperature 1, gamma={GAMMA}; "
        "target tiny_gpt (3 x 96), draft 1 x 48",
        "target_parameters": target.num_parameters(),
        "draft_parameters": draft.num_parameters(),
        "acceptance_rate": round(alpha, 4),
        "target_calls_per_token": round(total.target_calls / total.new_tokens, 4),
        "plain_target_calls_per_token": 1.0,
        "tokens_per_target_call": round(total.tokens_per_target_call, 4),
        "formula_tokens_per_target_call": round(expected_tokens_per_step(alpha, GAMMA), 4),
        "draft_calls_per_token": round(total.draft_calls / total.new_tokens, 4),
        "cpu_time_ratio_plain_over_speculative": round(cpu_plain / cpu_spec, 3),
    }
    return report


if __name__ == "__main__":
    from runner import script_main  # benchmarks/runner.py

    script_main("speculative")
