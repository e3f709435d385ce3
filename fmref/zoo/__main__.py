"""``python -m fmref.zoo``: list the model cache, clear it (all, or by name), or fill it.

Examples: ``python -m fmref.zoo`` (list), ``python -m fmref.zoo recipes``,
``python -m fmref.zoo clear tiny-gpt digits-vit``, ``python -m fmref.zoo clear --stale``
(entries of older fmref code, bad files), ``python -m fmref.zoo clear --all``,
``python -m fmref.zoo train tiny-gpt-medusa deepseek-mtp --jobs 2`` (train what is missing,
two recipes at a time, each in a process of its own, before a build that needs them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from fmref import zoo


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m fmref.zoo", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="list the cache entries (the default)")
    sub.add_parser("recipes", help="list the registered recipes")
    clear = sub.add_parser("clear", help="delete cache entries")
    clear.add_argument("names", nargs="*", help="model names, e.g. tiny-gpt")
    clear.add_argument("--all", action="store_true", help="delete every entry")
    clear.add_argument(
        "--stale", action="store_true", help="delete entries of older code and bad files"
    )
    train = sub.add_parser("train", help="train (or load) recipes whose function needs no argument")
    train.add_argument("names", nargs="+", help="recipe names, e.g. tiny-gpt")
    train.add_argument("--jobs", type=int, default=1, help="recipes trained at once (default 1)")
    args = parser.parse_args(argv)

    if args.command == "train":
        known = {recipe.name for recipe in zoo.list()}
        for name in args.names:
            if name not in known:
                parser.error(f"unknown recipe {name!r}: see python -m fmref.zoo recipes")
        if args.jobs < 1:
            parser.error(f"--jobs must be a positive int, got {args.jobs}")
        return _train(args.names, args.jobs)

    if args.command == "recipes":
        for recipe in zoo.list():
            print(f"{recipe.name:<20} {recipe.function:<44} {recipe.summary}")
        return 0
    if args.command == "clear":
        if bool(args.names) + args.all + args.stale != 1:
            parser.error("clear needs model names, --all or --stale (one of them)")
        if args.stale:
            removed = []
            for row in zoo.entries():
                if row["current"] is not True:
                    path = zoo.cache_dir() / row["file"]
                    path.unlink()
                    removed.append(path)
        else:
            removed = zoo.clear(None if args.all else args.names)
        print(f"removed {len(removed)} files from {zoo.cache_dir()}")
        return 0
    rows = zoo.entries()
    print(f"{zoo.cache_dir()}: {len(rows)} files")
    print(f"{'name':<20} {'key':<16} {'size':>10}  {'created':<20} code")
    for row in rows:
        if row["error"] is not None:
            status = f"bad: {row['error']}"
            name, key = row["file"], ""
        else:
            status = "current" if row["current"] else "stale (fmref's code changed)"
            name, key = row["name"], row["key"].rsplit("-", 1)[1]
        created = row["created"] or ""
        print(f"{name:<20} {key:<16} {_size(row['bytes']):>10}  {created:<20} {status}")
    return 0


def _train(names: list[str], jobs: int) -> int:
    """Train ``names`` here (one job) or in up to ``jobs`` processes at once."""
    if jobs == 1:
        for name in names:
            start = time.perf_counter()
            zoo.get(name).resolve()()  # a cache hit only loads
            print(f"{name}: ready in {time.perf_counter() - start:.1f} s", flush=True)
        return 0
    waiting, running, failed = list(names), [], []
    while waiting or running:
        while waiting and len(running) < jobs:
            name = waiting.pop(0)  # the zoo's per-key lock keeps two trainings of one key apart
            cmd = [sys.executable, "-m", "fmref.zoo", "train", name]
            running.append((name, subprocess.Popen(cmd)))
        done = [(name, p) for name, p in running if p.poll() is not None]
        if not done:
            time.sleep(0.2)
        for name, process in done:
            running.remove((name, process))
            if process.returncode != 0:
                failed.append(name)
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover - exercised through main()
    sys.exit(main())
