"""Rerun the benchmarks and save their results, only from an idle machine.

``python -m benchmarks`` runs every benchmark of :data:`benchmarks.BENCHMARKS`
(or those named) one after the other, with a progress line per step. Before
each one it waits (up to ``--wait`` seconds) for the 1-minute load average to
fall to ``--max-load``: a benchmark run on a shared, busy machine measures the
neighbours, so the runner refuses to save it (exit status 2) unless
``--force``, and a forced result says so in its ``machine`` record.
``--quick`` runs short settings to test the scripts; their results are not the
manual's, so they go to ``--out DIR`` or nowhere (``--dry-run``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from elsewhere: find fmref and benchmarks
    sys.path.insert(0, str(ROOT))

from benchmarks import BENCHMARKS  # noqa: E402
from fmref.results import MAX_LOAD, LoadTooHighError, check_load, machine_info, save  # noqa: E402

POLL_S = 15.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Rerun fmref's benchmarks and save their results in fmref/results/.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=MAX_LOAD,
        help="highest 1-minute load average to measure on (default: %(default)s)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=180.0,
        help="seconds to wait for the load to fall to --max-load before refusing "
        "(default: %(default)s; the previous benchmark's own load takes about a minute to decay)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="save even from a busy machine, without waiting (the result records it as forced)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short settings, to test the scripts (needs --out)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="save here instead of fmref/results/"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="run and report, save nothing, ignore the load"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}: choose from {list(BENCHMARKS)}")
    if args.quick and args.out is None and not args.dry_run:
        parser.error("--quick results are not the manual's settings: give --out DIR or --dry-run")
    if not args.max_load >= 0 or not args.wait >= 0:
        parser.error("--max-load and --wait must be non-negative numbers")
    return args


def wait_for_idle(max_load: float, wait_s: float, say=print) -> float:
    """Poll the 1-minute load average until it is at most ``max_load`` or ``wait_s`` passed.

    Returns the last load read (the caller decides whether to refuse it).
    """
    deadline = time.monotonic() + wait_s
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        say(f"    load {load:.2f} > {max_load}: waiting for an idle machine")
        time.sleep(min(POLL_S, max(deadline - time.monotonic(), 0)))
        load = os.getloadavg()[0]
    return load


def _module(name: str):
    return importlib.import_module(f"benchmarks.{name}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 when all ran (and saved), 2 when the machine was too busy."""
    args = parse_args(argv)
    names = args.names or list(BENCHMARKS)
    for i, name in enumerate(names, 1):
        tag = f"[{i}/{len(names)}] {name}"
        module = _module(name)
        if args.dry_run or args.force:  # the load does not decide: no waiting
            load = os.getloadavg()[0]
        else:
            load = wait_for_idle(args.max_load, args.wait)
        if not args.dry_run:
            try:
                check_load(load, args.max_load, force=args.force)
            except LoadTooHighError as err:
                print(f"{tag}: refused: {err} (--force)", flush=True)
                return 2
        machine = {**machine_info(**module.MACHINE), "load_average_1min": round(load, 2)}
        print(f"{tag}: running{' (quick)' if args.quick else ''}, load {load:.2f}", flush=True)
        start = time.perf_counter()
        report = module.run(quick=args.quick)
        seconds = time.perf_counter() - start
        if args.dry_run:
            print(f"{tag}: done in {seconds:.0f} s, not saved (--dry-run)", flush=True)
            continue
        path = save(
            name, report, machine, max_load=args.max_load, force=args.force, directory=args.out
        )
        print(f"{tag}: done in {seconds:.0f} s, saved {path}", flush=True)
    return 0


def script_main(name: str) -> None:
    """What ``python benchmarks/<name>.py [options]`` runs: this runner for one benchmark."""
    sys.exit(main([name, *sys.argv[1:]]))
