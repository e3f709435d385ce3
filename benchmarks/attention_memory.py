"""Peak memory and time of naive vs tiled attention, as ratios measured in one run.

One head, ``d = 64``, fp32, no mask, sequence lengths N = 1,024 ... 8,192. Three
methods compute the same output:

* ``naive``: :func:`fmref.nn.attention.scaled_dot_product_attention`, which
  materialises the N x N score and weight matrices;
* ``tiled``: :func:`fmref.nn.efficient.tiled_attention` (``tile_size=128``), the
  FlashAttention algorithm written as a Python loop over 128 x 128 tiles;
* ``torch_sdpa``: :func:`torch.nn.functional.scaled_dot_product_attention`, whose
  CPU kernel is a fused, compiled flash-attention loop (for reference).

torch has no peak-memory counter on CPU, so each (method, N) runs in its own
subprocess: the child allocates q, k, v, runs a small warm-up, reads its peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) as the
baseline, runs the method, and reports the growth of the peak above the
baseline (the extra memory the method needed, its output included), the best
of up to three wall-clock times, and, after the peak was read, the largest
difference from the naive output.

The results are printed as JSON and saved, with the machine's details, to
fmref/results/attention_memory.json (Chapter VI renders them).

Run: ``OMP_NUM_THREADS=2 python -m benchmarks attention_memory`` (a few minutes on 2 cores).
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
LENGTHS = (1024, 2048, 4096, 8192)
QUICK_LENGTHS = (256, 512)
METHODS = ("naive", "tiled", "torch_sdpa")
D_HEAD, TILE, REPEATS, BUDGET_S = 64, 128, 3, 10.0  # best of 3 runs, or of those that fit in 10 s
MACHINE = {"torch_threads": int(os.environ.get("OMP_NUM_THREADS", "2"))}


def _function(method):
    import torch.nn.functional as F

    from fmref.nn.attention import scaled_dot_product_attention
    from fmref.nn.efficient import tiled_attention

    return {
        "naive": scaled_dot_product_attention,
        "tiled": lambda q, k, v: tiled_attention(q, k, v, tile_size=TILE),
        "torch_sdpa": F.scaled_dot_product_attention,
    }[method]


def _inputs(n):
    import torch

    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, n, D_HEAD, generator=g) for _ in range(3)]  # (B, N, d) each


def child(method: str, n: int) -> dict:
    """Measure one (method, N) in this process; returns peak growth and time."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    fn = _function(method)
    q, k, v = _inputs(n)
    with torch.no_grad():
        fn(*_inputs(256))  # warm-up: load kernels and the allocator's small pools
        base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times = []
        while len(times) < REPEATS and sum(times) < BUDGET_S:
            start = time.perf_counter()
            out = fn(q, k, v)
            times.append(time.perf_counter() - start)
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # exactness, checked after the peak was read (the reference needs N x N memory)
        from fmref.nn.attention import scaled_dot_product_attention

        diff = float((out - scaled_dot_product_attention(q, k, v)).abs().max())
    return {
        "method": method,
        "n": n,
        "peak_extra_mib": round((peak_kib - base_kib) / 1024, 2),
        "time_s": round(min(times), 4),
        "runs": len(times),
        "max_abs_diff": diff,
    }


def _run_child(*args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: N = 256 and 512."""
    from fmref.nn.efficient import attention_memory_bytes

    lengths = QUICK_LENGTHS if quick else LENGTHS
    rows = {}
    for n in lengths:
        for method in METHODS:
            r = _run_child("--child", method, str(n))
            rows[(method, n)] = r
            print(
                f"N={n:5d} {method:10s} +{r['peak_extra_mib']:8.2f} MiB {r['time_s']:8.4f} s",
                file=sys.stderr,
            )
    results = []
    for n in lengths:
        naive, tiled, fused = rows[("naive", n)], rows[("tiled", n)], rows[("torch_sdpa", n)]
        results.append(
            {
                "n": n,
                "naive_peak_mib": naive["peak_extra_mib"],
                "tiled_peak_mib": tiled["peak_extra_mib"],
                "torch_sdpa_peak_mib": fused["peak_extra_mib"],
                "memory_ratio": round(
                    naive["peak_extra_mib"] / max(tiled["peak_extra_mib"], 0.01), 1
                ),
                "model_naive_mib": round(attention_memory_bytes(n) / 2**20, 2),
                "model_tiled_mib": round(attention_memory_bytes(n, tile_size=TILE) / 2**20, 2),
                "naive_s": naive["time_s"],
                "tiled_s": tiled["time_s"],
                "torch_sdpa_s": fused["time_s"],
                "time_ratio_tiled_over_naive": round(tiled["time_s"] / naive["time_s"], 2),
                "tiled_max_abs_diff": tiled["max_abs_diff"],
                "torch_sdpa_max_abs_diff": fused["max_abs_diff"],
            }
        )
    report = {
        "benchmark": "attention_memory",
        "what": (
            "extra peak RSS and best-of-3 time of one attention call, one head, d=64, fp32; "
            "naive = fmref scaled_dot_product_attention, tiled = fmref tiled_attention "
            f"(tile_size={TILE}), torch_sdpa = torch's fused CPU kernel; each in its own process"
        ),
        "d_head": D_HEAD,
        "tile_size": TILE,
        "results": results,
    }
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        from runner import script_main  # benchmarks/runner.py

        script_main("attention_memory")
