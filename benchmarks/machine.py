"""The machine a benchmark ran on, saved beside its results.

Every benchmark in this folder stores ``machine_info()`` under the key
``"machine"`` of its JSON, so that the manual can say where each number was
measured (docs/_ext/fmref_results.py renders it).
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(**extra) -> dict:
    """CPU model, core count, torch threads and version, Python, load and date.

    Keyword arguments are added to (or override) the returned fields, e.g. the
    thread count a benchmark's child processes use, or how it timed.
    """
    import torch

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__.split("+")[0],
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    info.update(extra)
    return info
