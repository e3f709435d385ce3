"""The benchmarks behind the manual's speed and memory claims.

Each module measures one idea as ratios within one run and exposes
``run(quick=False) -> dict`` (the report) and ``MACHINE`` (fields added to
:func:`fmref.results.machine_info`, e.g. the thread count of its child
processes). ``python -m benchmarks`` (:mod:`benchmarks.runner`) reruns them in
the manual's order and saves each result with :func:`fmref.results.save` in
``fmref/results/``, where the chapters read them with :func:`fmref.results.load`.
"""

BENCHMARKS = (  # in the manual's order
    "bpe_training",  # Chapter II
    "attention_memory",  # Chapter VI
    "training_memory",  # Chapter XII
    "parallelism",  # Chapter XII
    "kv_cache",  # Chapter XIII
    "speculative",  # Chapter XIII
    "quantization",  # Chapter XIV
)
