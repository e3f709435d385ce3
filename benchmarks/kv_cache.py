"""Greedy generation with vs without the KV cache, as a speed-up ratio measured in one run.

A GPT of 6 layers, width 384 and 6 heads (random weights: speed does not depend on
what the model learned) generates 256 and then 1,024 new tokens after a 16-token
prompt, once recomputing the whole sequence at every step and once with the cache.
Both runs must return the same tokens. Prints the results as JSON and saves them to
fmref/results/kv_cache.json with the machine's details (Chapter XIII renders
them).

Times are CPU seconds of the process with one torch thread (set
``FMREF_BENCH_THREADS`` to change it): on a shared machine they do not depend on
what else runs; the wall-clock ratio is saved too.

Run: ``python -m benchmarks kv_cache`` (several minutes: the uncached 1,024-token
run recomputes about half a million token positions).
"""

from __future__ import annotations

import os
import sys
import time

import torch

from fmref.infer.generate import generate
from fmref.models.gpt import GPT, GPTConfig

MACHINE = {"torch_threads": int(os.environ.get("FMREF_BENCH_THREADS", "1"))}


def timed(fn):
    """Wall-clock and CPU seconds of ``fn()``: CPU time is robust to other processes
    sharing the cores, so the ratios use it (with one thread, CPU time is compute)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: 8 and 16 new tokens."""
    torch.set_num_threads(MACHINE["torch_threads"])
    torch.manual_seed(0)
    prompt_len, lengths = 16, (8, 16) if quick else (256, 1024)
    config = GPTConfig(
        vocab_size=512, block_size=prompt_len + max(lengths), n_layer=6, n_head=6, n_embd=384
    )
    model = GPT(config).eval()
    idx = torch.randint(0, config.vocab_size, (1, prompt_len))
    generate(model, idx, 8, temperature=0)  # warm-up
    results = []
    for new in lengths:
        w_cached, t_cached, cached = timed(lambda n=new: generate(model, idx, n, temperature=0))
        w_full, t_full, full = timed(
            lambda n=new: generate(model, idx, n, temperature=0, use_cache=False)
        )
        assert torch.equal(cached, full), "cached and uncached greedy tokens differ"
        results.append(
            {
                "new_tokens": new,
                "cached_cpu_s": round(t_cached, 3),
                "uncached_cpu_s": round(t_full, 3),
                "cached_ms_per_token": round(1e3 * t_cached / new, 3),
                "uncached_ms_per_token": round(1e3 * t_full / new, 3),
                "speedup": round(t_full / t_cached, 2),
                "wall_speedup": round(w_full / w_cached, 2),
            }
        )
        print(f"{new} tokens: {t_full / t_cached:.1f}x faster with the cache", file=sys.stderr)
    report = {
        "benchmark": "kv_cache",
        "what": "greedy generation after a 16-token prompt, with vs without the KV cache",
        "model": {
            "n_layer": config.n_layer,
            "n_embd": config.n_embd,
            "n_head": config.n_head,
            "vocab_size": config.vocab_size,
            "block_size": config.block_size,
            "parameters": model.num_parameters(),
        },
        "results": results,
    }
    return report


if __name__ == "__main__":
    from runner import script_main  # benchmarks/runner.py

    script_main("kv_cache")
