"""Saved benchmark results: the JSON files that ``benchmarks/`` writes and the manual reads.

Every script in ``benchmarks/`` measures speed or memory and saves one JSON
file here, in the package, so that an installed fmref reads the same numbers as
a checkout: the chapters' snippets call :func:`load`, the results page renders
every file. :func:`machine_info` records where a result was measured and
:func:`save` writes a result with it, refusing to save from a busy machine
(a 1-minute load average above :data:`MAX_LOAD`) unless forced.
``python -m benchmarks`` reruns them all.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from importlib import resources
from pathlib import Path

__all__ = ["MAX_LOAD", "LoadTooHighError", "names", "load", "machine_info", "check_load", "save"]

MAX_LOAD = 1.0
"""The highest 1-minute load average :func:`save` accepts without ``force``."""


class LoadTooHighError(RuntimeError):
    """The machine was too busy for a result worth saving.

    Examples
    --------
    >>> from fmref.results import LoadTooHighError, check_load
    >>> try:
    ...     check_load(3.5, max_load=1.0)
    ... except LoadTooHighError as err:
    ...     print(err)
    load average 3.5 is above max_load=1.0: rerun on an idle machine or force
    """


def _check_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a benchmark's name), got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"name must be a benchmark's name such as 'kv_cache', got {name!r}")
    return name


def names() -> list[str]:
    """Names of the saved benchmark results, sorted.

    Returns
    -------
    list of str
        One name per JSON file in this package (the file name without ``.json``).

    Examples
    --------
    >>> from fmref.results import names
    >>> names()
    ['attention_memory', 'bpe_training', 'kv_cache', 'parallelism', 'quantization',
     'speculative', 'training_memory']
    """
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load(name: str) -> dict:
    """Read one saved benchmark result.

    Parameters
    ----------
    name : str
        The benchmark's name, e.g. ``"kv_cache"`` (see :func:`names`).

    Returns
    -------
    dict
        The result as saved: the benchmark's numbers and, under ``"machine"``,
        where and when they were measured (:func:`machine_info`).

    Raises
    ------
    ValueError
        If no result of that name is saved.

    Examples
    --------
    >>> from fmref.results import load
    >>> bench = load("kv_cache")
    >>> [r["new_tokens"] for r in bench["results"]]
    [256, 1024]
    >>> bench["machine"]["cores"]
    2
    """
    _check_name(name)
    path = resources.files(__name__).joinpath(f"{name}.json")
    if not path.is_file():
        raise ValueError(f"name must be one of {names()}, got {name!r}")
    return json.loads(path.read_text(encoding="utf-8"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or "unknown"


def machine_info(**extra) -> dict:
    """Where and when a benchmark runs: CPU, cores, torch, Python, load and date.

    Take it just before the measurement starts, so that its load average is the
    machine's own and not the benchmark's.

    Parameters
    ----------
    **extra
        Fields added to (or overriding) the record, e.g. the thread count of a
        benchmark's child processes, or how it timed.

    Returns
    -------
    dict
        ``cpu``, ``cores``, ``torch_threads``, ``torch``, ``python``,
        ``load_average_1min`` (:func:`os.getloadavg`) and ``date`` (UTC), then
        ``extra``.

    Examples
    --------
    >>> from fmref.results import machine_info
    >>> info = machine_info(timer="process CPU time")
    >>> list(info)
    ['cpu', 'cores', 'torch_threads', 'torch', 'python', 'load_average_1min', 'date', 'timer']
    >>> info["cores"] == __import__("os").cpu_count()
    True
    """
    import torch

    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__.split("+")[0],
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    info.update(extra)
    return info


def check_load(load_average: float, max_load: float = MAX_LOAD, *, force: bool = False) -> bool:
    """Refuse a busy machine: raise unless the load is at most ``max_load`` or ``force``.

    Parameters
    ----------
    load_average : float
        The machine's 1-minute load average before the benchmark started.
    max_load : float, default MAX_LOAD
        The highest load accepted.
    force : bool, default False
        Accept any load (the result then records ``"forced": true``).

    Returns
    -------
    bool
        True if the load was above ``max_load`` and ``force`` let it through.

    Raises
    ------
    LoadTooHighError
        If ``load_average > max_load`` and not ``force``.

    Examples
    --------
    >>> from fmref.results import check_load
    >>> check_load(0.4, max_load=1.0), check_load(3.5, max_load=1.0, force=True)
    (False, True)
    """
    for arg, value in (("load_average", load_average), ("max_load", max_load)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{arg} must be a number, got {type(value).__name__}")
        if not value >= 0:  # also NaN
            raise ValueError(f"{arg} must be a non-negative number, got {value}")
    if load_average <= max_load:
        return False
    if not force:
        raise LoadTooHighError(
            f"load average {load_average} is above max_load={max_load}: "
            "rerun on an idle machine or force"
        )
    return True


def save(
    name: str,
    report: dict,
    machine: dict,
    *,
    max_load: float = MAX_LOAD,
    force: bool = False,
    directory: str | os.PathLike | None = None,
) -> Path:
    """Write a benchmark's result with the machine it ran on, if that machine was idle.

    The one writer of every file that :func:`load` reads.

    Parameters
    ----------
    name : str
        The benchmark's name; the file is ``<directory>/<name>.json``.
    report : dict
        The benchmark's numbers (JSON-serialisable, without a ``"machine"`` key).
    machine : dict
        :func:`machine_info` taken before the benchmark started.
    max_load, force
        Passed to :func:`check_load` with ``machine["load_average_1min"]``.
    directory : path-like, optional
        Where to write; default this package's folder (in a checkout, the
        source tree the manual is built from).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    LoadTooHighError
        If the machine was busy and not ``force``; nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from fmref.results import machine_info, save
    >>> machine = machine_info()
    >>> machine["load_average_1min"] = 0.2  # as if measured on an idle machine
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save("demo", {"speedup": 2.5}, machine, directory=folder)
    ...     print(path.name, path.read_text().count("speedup"))
    demo.json 1
    """
    _check_name(name)
    if not isinstance(report, dict):
        raise TypeError(f"report must be a dict, got {type(report).__name__}")
    if "machine" in report:
        raise ValueError("report must not have a 'machine' key: pass it as machine")
    if not isinstance(machine, dict) or "load_average_1min" not in machine:
        raise TypeError("machine must be the dict of machine_info(), with 'load_average_1min'")
    forced = check_load(machine["load_average_1min"], max_load, force=force)
    machine = {**machine, "max_load": max_load, **({"forced": True} if forced else {})}
    folder = Path(resources.files(__name__)) if directory is None else Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**report, "machine": machine}, indent=2) + "\n", encoding="utf-8")
    return path
