"""Training time of byte-level BPE per 1,000 merges, incremental vs recount-per-merge.

:class:`fmref.text.bpe.BPETokenizer` trains on the training split of
:func:`fmref.text.corpus.python_docs` (about 420,000 characters) to 1,000,
2,000 and 4,000 merges. Training time = pre-tokenisation and pair counting
(measured alone as a 0-merge training) + the merges; the merge part is reported
per 1,000 merges. A naive trainer that recounts every pair after every merge
(what the incremental update avoids) runs 200 merges on the same text for the
speed-up ratio, and both must learn the same merges.

Times are CPU seconds of this process (``time.process_time``, best of
``REPEATS``): BPE training is single-threaded Python, and CPU time does not
depend on what else runs on a shared machine. The compression on the
validation split (UTF-8 bytes per token) is saved beside the times.

Prints the results as JSON and saves them, with the machine's details, to
fmref/results/bpe_training.json (Chapter II renders them).

Run: ``python -m benchmarks bpe_training`` (about a minute).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

MERGES = (1000, 2000, 4000)
NAIVE_MERGES = 200
REPEATS = 3
MACHINE = {"timer": f"process CPU time, best of {REPEATS}"}


def cpu_time(fn, repeats: int = REPEATS) -> tuple[float, object]:
    """Best CPU time of ``repeats`` calls of ``fn`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def naive_train(text: str, n_merges: int) -> list[tuple[int, int]]:
    """Recount every pair of the corpus after every merge (the slow reference)."""
    from fmref.text.bpe import _CHUNK, _merge

    words = Counter(_CHUNK.findall(text))
    seqs = {w: list(w.encode("utf-8")) for w in words}
    merges: list[tuple[int, int]] = []
    for _ in range(n_merges):
        counts: Counter[tuple[int, int]] = Counter()
        for w, f in words.items():
            ids = seqs[w]
            for pair in zip(ids, ids[1:]):
                counts[pair] += f
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges.append(pair)
        seqs = {w: _merge(ids, pair, 256 + len(merges) - 1) for w, ids in seqs.items()}
    return merges


def run(quick: bool = False) -> dict:
    """The report (without the machine); ``quick``: 50 and 100 merges, 10 naive, once each."""
    from fmref.text.bpe import BPETokenizer
    from fmref.text.corpus import python_docs

    merges, naive_merges, repeats = ((50, 100), 10, 1) if quick else (MERGES, NAIVE_MERGES, REPEATS)
    train, val = python_docs("train"), python_docs("validation")
    base, _ = cpu_time(lambda: BPETokenizer.train(train, 256), repeats)
    results: dict = {
        "corpus_characters": len(train),
        "pretokenize_and_count_s": base,
    }
    rows = {}
    for m in merges:
        total, tok = cpu_time(lambda m=m: BPETokenizer.train(train, 256 + m), repeats)
        ids = tok.encode(val)
        rows[str(m)] = {
            "total_s": total,
            "s_per_1000_merges": (total - base) / m * 1000,
            "val_bytes_per_token": len(val.encode("utf-8")) / len(ids),
        }
        print(f"{m} merges: {rows[str(m)]['s_per_1000_merges']:.3f} s per 1,000", file=sys.stderr)
    results["merges"] = rows
    fast, tok = cpu_time(lambda: BPETokenizer.train(train, 256 + naive_merges), repeats)
    start = time.process_time()
    slow_merges = naive_train(train, naive_merges)
    slow = time.process_time() - start
    if slow_merges != tok.merges:
        raise AssertionError("the naive and the incremental trainer learned different merges")
    results["naive_vs_incremental"] = {
        "merges": naive_merges,
        "naive_s_per_merge": slow / naive_merges,
        "incremental_s_per_merge": (fast - base) / naive_merges,
        "speedup": (slow / naive_merges) / max((fast - base) / naive_merges, 1e-9),
    }
    return results


if __name__ == "__main__":
    from runner import script_main  # benchmarks/runner.py

    script_main("bpe_training")
