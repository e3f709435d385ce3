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

Run: ``python benchmarks/speculative.py`` (trains both models on the first run).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import machine_info  # noqa: E402

from fmref.infer.generate import generate  # noqa: E402
from fmref.infer.speculative import (  # noqa: E402
    SpeculativeStats,
    expected_tokens_per_step,
    speculative_generate,
)
from fmref.text.corpus import python_docs  # noqa: E402
from fmref.zoo import tiny_gpt  # noqa: E402

OUT = ROOT / "fmref" / "results" / "speculative.json"
GAMMA, NEW, PROMPTS, PROMPT_LEN = 4, 48, 8, 12


def main() -> dict:
    torch.set_num_threads(int(os.environ.get("FMREF_BENCH_THREADS", "1")))
    target, tokenizer, _ = tiny_gpt()
    draft, _, _ = tiny_gpt(n_layer=1, n_embd=48)
    ids = tokenizer.encode(python_docs("validation"))
    prompts = [torch.tensor([ids[i * 500 : i * 500 + PROMPT_LEN]]) for i in range(PROMPTS)]
    total = SpeculativeStats()
    cpu_spec = cpu_plain = 0.0
    for i, prompt in enumerate(prompts):
        start = time.process_time()
        _, s = speculative_generate(
            target, draft, prompt, NEW, gamma=GAMMA, generator=torch.Generator().manual_seed(i)
        )
        cpu_spec += time.process_time() - start
        start = time.process_time()
        generate(target, prompt, NEW, generator=torch.Generator().manual_seed(i))
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
    alpha = total.acceptance_rate
    report = {
        "benchmark": "speculative",
        "what": f"{PROMPTS} prompts x {NEW} new tokens at temperature 1, gamma={GAMMA}; "
        "target tiny_gpt (3 x 96), draft 1 x 48",
        "machine": machine_info(),
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
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
