"""Every parallelism of Chapter XII on two processes: time, bytes sent and memory per rank.

One torchrun launch (``python -m fmref.train.parallel``, gloo on 127.0.0.1,
one torch thread per process) trains the tiny byte-level Llama with each
strategy (DDP, ZeRO-1, ZeRO-2, FSDP, tensor, sequence, pipeline with GPipe
and 1F1B, context parallelism with the zig-zag and the contiguous split,
expert parallelism) for the same steps, and records for each:

* the wall time per step of the slowest rank;
* the bytes each rank wrote to its sockets per step (``wchar`` of
  ``/proc/self/io``) beside the collectives' formula
  (:func:`fmref.train.parallel.formulas.allreduce_bytes` and friends);
* the weights, gradients and optimizer states rank 0 holds beside the formula
  (:func:`fmref.train.efficient.zero_memory_per_gpu` for data parallelism);
* the largest weight difference from the same training in one process.

A second launch runs the pipeline (width 128, sequences of 64 tokens, so
that a micro-batch's compute is not lost in the cost of a message) with 2,
4 and 8 micro-batches under both schedules and records the idle fraction of
each stage against ``(p - 1)/(m + p - 1)``; a third part trains the model in float32, bfloat16
autocast and simulated FP8 on the same batches (one process).

Where a CUDA device is present (``torch.cuda.device_count() >= 2``) the first
launch is repeated with ``--backend nccl``; nothing depends on it.

Run: ``python -m benchmarks parallelism`` (about a minute on an idle machine).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STRATEGIES = "ddp,zero1,zero2,fsdp,tp,sp,pp,cp,ep"
FOUR = ["--layers", "4", "--heads", "4", "--kv-heads", "4", "--experts", "8"]  # 4 ranks split it
MACHINE = {"torch_threads": 1, "processes": 2}


def _key(run):
    key = run["strategy"] + (f"-{run['schedule']}" if "schedule" in run else "")
    return key + (f"-{run['layout']}" if "layout" in run else "")


def _row(run):
    sent = run["bytes_sent_per_step"]
    mean_sent = sum(sent) / len(sent) if None not in sent else None
    predicted = run["predicted_bytes_sent_per_step"]
    return {
        "seconds_per_step": run["seconds_per_step"],
        "bytes_sent_per_step": mean_sent,
        "predicted_bytes_sent_per_step": predicted,
        "sent_over_predicted": mean_sent / predicted if mean_sent and predicted else None,
        "state_bytes_rank0": run["state_bytes"][0],
        "predicted_state_bytes": run["predicted_state_bytes"],
        "max_abs_diff": run["max_abs_diff"],
        "final_loss": run["losses"][-1],
    }


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: 2 steps, one pipeline count."""
    import torch

    from fmref.train.parallel.precision import precision_losses
    from fmref.train.parallel.run import launch

    steps = 2 if quick else 20
    counts = "4" if quick else "2,4,8"
    main = launch(
        2, "--strategy", STRATEGIES, "--steps", str(steps), "--schedule", "gpipe,1f1b",
        "--layout", "zigzag,contiguous", timeout=900,
    )  # fmt: skip
    results = {_key(r): _row(r) for r in main}
    pipeline = {}
    wider = [] if quick else ["--dim", "128", "--seq-len", "64"]  # more compute per message
    for r in launch(2, "--strategy", "pp", "--steps", str(steps), "--schedule", "gpipe,1f1b",
                    "--micro-batches", counts, "--no-check", *wider, timeout=900):  # fmt: skip
        pipeline[f"{r['schedule']}, m={r['micro_batches']}"] = {
            "micro_batches": r["micro_batches"],
            "idle_fraction": sum(r["idle_fraction"]) / len(r["idle_fraction"]),
            "predicted_idle_fraction": r["predicted_idle_fraction"],
            "seconds_per_step": r["seconds_per_step"],
        }
    four = {} if quick else {  # the quick check leaves out the 4-process launch
        _key(r): _row(r) for r in launch(
            4, "--strategy", STRATEGIES, "--steps", str(steps), "--schedule", "gpipe,1f1b",
            "--layout", "zigzag,contiguous", *FOUR, timeout=900)
    }  # fmt: skip
    losses = precision_losses(steps=8 if quick else 200)
    report = {
        "model": "tiny byte-level Llama: 2 layers, width 32, 4 heads (2 KV), SwiGLU 64",
        "steps": steps,
        "world_size": 2,
        "backend": "gloo",
        "results": results,
        "pipeline": pipeline,
        "pipeline_model": "default" if quick else "width 128, sequences of 64 tokens",
        "four_processes": four,
        "four_processes_model": "4 layers, width 32, 4 heads (4 KV), 8 experts for ep",
        "precision_final_loss": {k: v[-1] for k, v in losses.items()},
        "precision_max_gap_to_fp32": {
            k: max(abs(a - b) for a, b in zip(v, losses["fp32"])) for k, v in losses.items()
        },
    }
    if torch.cuda.is_available() and torch.cuda.device_count() >= 2:  # pragma: no cover
        gpu = launch(2, "--strategy", STRATEGIES, "--steps", str(steps), "--backend", "nccl",
                     timeout=900, env={"CUDA_VISIBLE_DEVICES": os.environ.get(
                         "CUDA_VISIBLE_DEVICES", "0,1")})  # fmt: skip
        report["nccl_seconds_per_step"] = {_key(r): r["seconds_per_step"] for r in gpu}
    return report


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
