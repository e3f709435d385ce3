"""Weight bytes and validation perplexity of a small GPT in fp32, int8, int4 and NF4.

Every linear layer of the blocks of :func:`fmref.zoo.tiny_gpt` (the Python-docs
GPT of Chapters II and VIII) is compressed with
:func:`fmref.compress.apply.compress_weights`; the embeddings and the tied output
head stay in fp32. For each method the script records the bytes those weights
take, the ratio to fp32, and the perplexity on the validation split of the
corpus, all in one run, and saves them to
fmref/results/quantization.json (Chapter XIV renders them).

Run: ``python -m benchmarks quantization`` (trains the tiny GPT on the first run).
"""

from __future__ import annotations

import os
import sys

import torch

from fmref.compress.apply import compress_weights, lm_perplexity
from fmref.text.corpus import python_docs
from fmref.zoo import tiny_gpt

MACHINE = {"torch_threads": int(os.environ.get("FMREF_BENCH_THREADS", "1"))}
METHODS = [("fp32", None), ("bf16", None), ("int8", None), ("int4", 32), ("nf4", 64)]


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: the first 1,024 validation tokens."""
    torch.set_num_threads(MACHINE["torch_threads"])
    model, tokenizer, _ = tiny_gpt()
    ids = torch.tensor(tokenizer.encode(python_docs("validation")))  # (N,)
    if quick:
        ids = ids[:1024]
    results = {}
    for method, group_size in METHODS:
        small, report = compress_weights(model, method, group_size=group_size)
        results[method] = {
            "group_size": group_size,
            "weight_bytes": report["bytes"],
            "bits_per_parameter": round(report["bits_per_parameter"], 3),
            "size_ratio_vs_fp32": round(report["fp32_bytes"] / report["bytes"], 3),
            "perplexity": round(lm_perplexity(small, ids), 4),
        }
        print(method, results[method], file=sys.stderr)
    base = results["fp32"]["perplexity"]
    for r in results.values():
        r["perplexity_change_pct"] = round(100 * (r["perplexity"] / base - 1), 3)
    report = {
        "benchmark": "quantization",
        "what": "linear weights of the tiny Python-docs GPT's blocks, compressed; "
        "validation perplexity of the whole model",
        "model": {
            "n_layer": model.config.n_layer,
            "n_embd": model.config.n_embd,
            "compressed_parameters": compress_weights(model, "fp32")[1]["params"],
            "validation_tokens": int(ids.numel()),
        },
        "results": results,
    }
    return report


if __name__ == "__main__":
    from runner import script_main  # benchmarks/runner.py

    script_main("quantization")
