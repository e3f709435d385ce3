"""Peak memory and step time of one training step, with and without the memory savers.

A byte-level GPT (4 layers, width 256, 4 heads, context 256) takes training
steps on a batch of 16 sequences in four configurations, each in its own
subprocess so that its peak resident memory (``ru_maxrss``) is its own:

* ``baseline``: one forward and backward pass over the whole batch;
* ``checkpointing``: the same, every block under activation checkpointing;
* ``accumulation``: the same batch as 4 micro-batches of 4, one optimizer step;
* ``bf16``: mixed precision (bfloat16 autocast, float32 master weights).

Each child first takes one step on a single sequence, so weights, gradients
and AdamW states are allocated, and records its resident memory; the
difference between the peak after the measured steps and that level is the
step's *activation peak*. Times are CPU seconds of the child with one torch
thread (set ``FMREF_BENCH_THREADS`` to change it), so they do not depend on
what else the machine runs. Prints the results as JSON and saves them with the
machine's details to fmref/results/training_memory.json (Chapter XII
renders them).

It also runs the data-parallel example of Chapter XII for real: ``torchrun
--nproc-per-node 2 -m fmref.train.distributed`` (gloo, 127.0.0.1) for 20 steps
with ZeRO-1, and the same training in one process on the whole global batch,
and records both wall times and the largest weight difference.

Run: ``python -m benchmarks training_memory`` (a few minutes).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {  # name: options of fmref.train.efficient.train_step
    "baseline": {},
    "checkpointing": {"checkpointing": True},
    "accumulation": {"micro_batches": 4},
    "bf16": {"precision": "bf16"},
}
MODEL = {"vocab_size": 256, "block_size": 256, "n_layer": 4, "n_head": 4, "n_embd": 256}
BATCH, STEPS, DDP_STEPS = 16, 3, 20
QUICK_MODEL = {"vocab_size": 256, "block_size": 32, "n_layer": 2, "n_head": 2, "n_embd": 32}
QUICK_BATCH, QUICK_STEPS, QUICK_DDP_STEPS = 4, 1, 2
MACHINE = {"torch_threads": int(os.environ.get("FMREF_BENCH_THREADS", "1"))}


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def child(name: str, quick: bool = False) -> dict:
    """Run one configuration in this process and return its measurements."""
    import torch

    sys.path.insert(0, str(ROOT))
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.train.efficient import train_step

    torch.set_num_threads(MACHINE["torch_threads"])
    torch.manual_seed(0)
    shape, n_batch, steps = (
        (QUICK_MODEL, QUICK_BATCH, QUICK_STEPS) if quick else (MODEL, BATCH, STEPS)
    )
    model = GPT(GPTConfig(**shape))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.randint(256, (n_batch, shape["block_size"]))
    train_step(model, optimizer, batch[:1])  # allocate grads and AdamW states
    base = max_rss_bytes()
    start = time.process_time()
    losses = [train_step(model, optimizer, batch, **CONFIGS[name]) for _ in range(steps)]
    seconds = (time.process_time() - start) / steps
    peak = max_rss_bytes()
    return {
        "name": name,
        "base_rss": base,
        "peak_rss": peak,
        "activation_peak": peak - base,
        "cpu_seconds_per_step": seconds,
        "final_loss": losses[-1],
    }


def ddp_run(steps: int = DDP_STEPS) -> dict:
    """Two-process torchrun against one process: wall time and weight difference."""
    import tempfile

    import torch

    sys.path.insert(0, str(ROOT))
    from fmref.train.distributed import torchrun_command, train

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddp.pt"
        cmd = torchrun_command(2, "--steps", steps, "--zero", "--json", "--out", out)
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tmp)
        launch_seconds = time.perf_counter() - start
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        saved = torch.load(out)
    torch.set_num_threads(1)
    model, history = train(steps=steps, distributed=False)
    diff = max(
        (saved["state_dict"][k] - v).abs().max().item() for k, v in model.state_dict().items()
    )
    return {
        "steps": steps,
        "world_size": summary["world_size"],
        "zero": True,
        "ddp_train_seconds": summary["seconds"],
        "ddp_wall_seconds_with_launch": launch_seconds,
        "single_process_train_seconds": history["seconds"],
        "first_loss": summary["first_loss"],
        "final_loss": summary["final_loss"],
        "max_weight_difference": diff,
    }


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: a 2 x 32 model, batch 4, 1 step, 2 DDP steps."""
    results = {}
    for name in CONFIGS:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", name, *(["--quick"] if quick else [])],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{name:14s} activation peak {results[name]['activation_peak'] / 2**20:7.1f} MiB  "
            f"{results[name]['cpu_seconds_per_step']:.2f} CPU s/step",
            file=sys.stderr,
        )
    base = results["baseline"]
    ratios = {
        name: {
            "activation_peak": r["activation_peak"] / base["activation_peak"],
            "peak_rss": r["peak_rss"] / base["peak_rss"],
            "step_time": r["cpu_seconds_per_step"] / base["cpu_seconds_per_step"],
        }
        for name, r in results.items()
    }
    ddp = ddp_run(QUICK_DDP_STEPS if quick else DDP_STEPS)
    print(f"ddp: {ddp}", file=sys.stderr)
    report = {
        "model": QUICK_MODEL if quick else MODEL,
        "batch": QUICK_BATCH if quick else BATCH,
        "steps": QUICK_STEPS if quick else STEPS,
        "configs": CONFIGS,
        "results": results,
        "ratios_to_baseline": ratios,
        "ddp": ddp,
    }
    return report


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--one":
        print(json.dumps(child(sys.argv[2], quick="--quick" in sys.argv[3:])))
    else:
        from runner import script_main  # benchmarks/runner.py

        script_main("training_memory")
