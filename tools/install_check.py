"""fmref as a user installs it: the manual's doctests against an installed package, and the sdist.

Run by ``tox -e install`` (after ``tox -e py`` and ``tox -e docs``, as ``.ci/run`` does),
in an environment that holds the pinned ``build`` and ``setuptools``:

1. ``python -m build --no-isolation`` builds the sdist and the wheel on the pinned
   setuptools; the sdist holds every tracked file of ``fmref/`` and ``tests/`` and
   ``conftest.py``;
2. a fresh virtual environment gets the wheel, installed non-editable with pip. Its
   dependencies are not downloaded and installed again: a ``.pth`` file lends it the
   packages of the ``docs`` and ``py`` environments (what ``--system-site-packages``
   does for the system's), whose own editable fmref stays out of sight;
3. ``import fmref`` from an empty folder finds the installed copy, not this checkout;
4. Sphinx's doctest builder runs every chapter's, appendix's and API page's doctests
   from an empty folder, on a copy of ``docs/`` that has no ``fmref/`` beside it, so a
   snippet that reads a file of the checkout fails as it would for a reader. The model
   cache is tox's (``FMREF_CACHE``), so nothing is trained again;
5. the unpacked sdist runs its own tests: all of them collect, and the packaging and
   export tests pass.

Usage: ``python tools/install_check.py --deps ENV_DIR [--deps ENV_DIR] [--keep DIR]
[DOC ...]`` (DOC: e.g. ``chapters/13-efficient-llm-inference.rst``; default every one).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the cheap test files the unpacked sdist runs (collecting all of them checks the rest)
SDIST_TESTS = ["tests/test_exports.py", "tests/test_packaging.py"]


def _run(cmd, cwd, env=None, capture=False):
    print("$", " ".join(map(str, cmd)), f"  (in {cwd})", flush=True)
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, text=True, capture_output=capture
    )
    if proc.returncode != 0:
        if capture:
            print(proc.stdout[-5000:], proc.stderr[-5000:], sep="\n")
        sys.exit(f"install check failed: {cmd[0]} ... exited with {proc.returncode}")
    return proc


def clean_env() -> dict[str, str]:
    """The environment without anything that points Python at this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env.setdefault("MPLBACKEND", "Agg")
    return env


def site_packages(python: Path) -> list[str]:
    """The purelib and platlib folders of an environment's Python."""
    code = "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])"
    out = subprocess.run([str(python), "-c", code], text=True, capture_output=True, check=True)
    return list(dict.fromkeys(out.stdout.split()))


def fresh_venv(work: Path, wheel: Path, deps: list[Path]) -> Path:
    """A new venv with the wheel installed non-editable; ``deps``' packages lent by a .pth."""
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv], work)
    python = venv / "bin" / "python"
    lent = []
    for env in deps:
        env_python = env / "bin" / "python"
        if not env_python.exists():
            sys.exit(f"install check failed: no environment at {env} (run tox -e py and "
                     "tox -e docs first)")
        lent += site_packages(env_python)
    # the wheel first, the .pth after: the lent environments hold tox's editable fmref, and pip
    # would take it for an installed fmref 0.1.0 and skip the wheel
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--no-build-isolation", wheel], work)  # fmt: skip
    (Path(site_packages(python)[0]) / "_fmref_lent_deps.pth").write_text("\n".join(lent) + "\n")
    return python


def installed_fmref(python: Path, empty: Path) -> Path:
    """Where ``import fmref`` goes from an empty folder; fails if that is the checkout."""
    code = "import fmref, pathlib; print(pathlib.Path(fmref.__file__).resolve().parent)"
    proc = _run([python, "-c", code], empty, clean_env(), capture=True)
    where = Path(proc.stdout.strip())
    if ROOT in where.parents or where.parent == ROOT:
        sys.exit(f"install check failed: fmref is imported from the checkout ({where})")
    return where


def doctests(python: Path, work: Path, empty: Path, docs: list[str]) -> tuple[int, int]:
    """Sphinx's doctest builder over a copy of docs/; returns (tests, failures)."""
    src = work / "src"
    ignore = shutil.ignore_patterns("_build", "api", "auto_examples", "gen_modules",
                                    "sg_execution_times.rst")
    shutil.copytree(ROOT / "docs", src, ignore=ignore)
    (work / "gallery").symlink_to(ROOT / "gallery")  # conf.py reads ../gallery
    out = work / "doctest"
    # fmref is imported before Sphinx runs conf.py, so every snippet uses the installed
    # copy whatever conf.py puts on sys.path (the copy's parent holds no fmref anyway)
    code = (
        "import sys, fmref\n"
        "from sphinx.cmd.build import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    cmd = [python, "-c", code, "-T", "-q", "-b", "doctest", "-D", "plot_gallery=0",
           "-d", work / "doctrees", src, out, *[src / d for d in docs]]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=empty, env=clean_env(), text=True)
    seconds = time.perf_counter() - start
    output = out / "output.txt"
    report = output.read_text(encoding="utf-8") if output.exists() else ""
    summary = re.search(r"^\s*(\d+) tests?\s*\n\s*(\d+) failures? in tests", report, re.M)
    tests, failures = (int(summary[1]), int(summary[2])) if summary else (0, -1)
    if proc.returncode != 0 or failures != 0 or tests == 0:
        failed = re.findall(r"^File \"(.+?)\", line (\d+)", report, re.M)
        for name, line in failed[:40]:
            print(f"  failed: {Path(name).relative_to(src) if src in Path(name).parents else name}"
                  f":{line}")
        sys.exit(f"install check failed: doctests of the installed package: {tests} tests, "
                 f"{failures} failures (sphinx exited with {proc.returncode}); "
                 f"report: {out / 'output.txt'}")
    print(f"doctests of the installed package: {tests} tests, 0 failures, {seconds:.0f} s")
    return tests, failures


def tracked(prefixes: tuple[str, ...]) -> set[str]:
    """Files git tracks under the prefixes (empty without git or outside a clone)."""
    try:
        out = subprocess.run(["git", "ls-files", *prefixes], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line for line in out.splitlines() if (ROOT / line).is_file()}


def build(work: Path) -> tuple[Path, Path]:
    """``python -m build`` on the pinned setuptools; the sdist is complete. (sdist, wheel)."""
    dist = work / "dist"
    start = time.perf_counter()
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT], work,
         capture=True)
    sdists, wheels = sorted(dist.glob("fmref-*.tar.gz")), sorted(dist.glob("fmref-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        sys.exit(f"install check failed: expected one sdist and one wheel in {dist}")
    with tarfile.open(sdists[0]) as tar:
        tar.extractall(work / "sdist", filter="data")
    unpacked = next((work / "sdist").iterdir())
    shipped = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    wanted = tracked(("fmref", "tests", "conftest.py", "pyproject.toml", "constraints.txt",
                      "README.rst", "LICENSE"))  # fmt: skip
    wanted |= {"conftest.py", "pyproject.toml", "tests/test_exports.py"}
    missing = sorted(wanted - shipped)
    if missing:
        sys.exit(f"install check failed: the sdist lacks {missing[:20]}")
    print(f"python -m build: {sdists[0].name}, {wheels[0].name} "
          f"({time.perf_counter() - start:.0f} s); the sdist ships {len(shipped)} files")
    return unpacked, wheels[0]


def test_sdist(python: Path, unpacked: Path) -> None:
    """The unpacked sdist collects all its tests and passes the cheap ones."""
    start = time.perf_counter()
    env = clean_env()
    pytest = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    _run([*pytest, "--collect-only", "tests"], unpacked, env, capture=True)
    _run([*pytest, *SDIST_TESTS], unpacked, env)
    print("the sdist collects all its tests and passes", " ".join(SDIST_TESTS),
          f"({time.perf_counter() - start:.0f} s)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", nargs="*", help="documents whose doctests to run (default all)")
    parser.add_argument("--keep", default=None, help="work folder to keep (default: temporary)")
    parser.add_argument("--deps", action="append", type=Path, required=True,
                        help="an environment whose packages the fresh venv borrows")
    parser.add_argument("--no-sdist-tests", action="store_true", help="skip the sdist's tests")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fmref-install-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        if args.keep:
            shutil.rmtree(work, ignore_errors=True)
        empty = work / "empty"
        empty.mkdir(parents=True)
        unpacked, wheel = build(work)
        python = fresh_venv(work, wheel, args.deps)
        print("fmref is installed at", installed_fmref(python, empty))
        doctests(python, work, empty, args.docs)
        if not args.no_sdist_tests:
            test_sdist(python, unpacked)


if __name__ == "__main__":
    main()
