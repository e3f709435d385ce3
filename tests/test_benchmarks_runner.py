"""``python -m benchmarks``: the refusal to save from a busy machine (not the timings)."""

import json
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if not (ROOT / "benchmarks" / "runner.py").is_file():
    pytest.skip("benchmarks/ is not part of this source tree", allow_module_level=True)
sys.path.insert(0, str(ROOT))

from benchmarks import BENCHMARKS, runner  # noqa: E402


@pytest.fixture
def fake(monkeypatch):
    """Every benchmark replaced by an instant one; the load average and the clock scripted."""
    calls = []

    def module(name):
        def run(quick=False):
            calls.append((name, quick))
            return {"quick": quick, "value": len(name)}

        return types.SimpleNamespace(run=run, MACHINE={"torch_threads": 1})

    state = {"loads": [0.2], "slept": 0.0}

    def getloadavg():
        load = state["loads"].pop(0) if len(state["loads"]) > 1 else state["loads"][0]
        return (load, load, load)

    def sleep(seconds):
        state["slept"] += seconds

    monkeypatch.setattr(runner, "_module", module)
    monkeypatch.setattr(runner.os, "getloadavg", getloadavg)
    monkeypatch.setattr(runner.time, "sleep", sleep)
    monkeypatch.setattr(runner.time, "monotonic", lambda: state["slept"])
    state["calls"] = calls
    return state


def test_an_idle_machine_runs_every_benchmark_in_order_and_saves_each(fake, tmp_path, capsys):
    assert runner.main(["--out", str(tmp_path)]) == 0
    assert [name for name, _ in fake["calls"]] == list(BENCHMARKS)
    saved = json.loads((tmp_path / "kv_cache.json").read_text())
    assert saved["value"] == len("kv_cache") and saved["machine"]["load_average_1min"] == 0.2
    assert "forced" not in saved["machine"] and saved["machine"]["torch_threads"] == 1
    lines = capsys.readouterr().out.splitlines()
    n = len(BENCHMARKS)
    assert lines[0] == f"[1/{n}] bpe_training: running, load 0.20"
    assert lines[-1].startswith(f"[{n}/{n}] quantization: done in ")


def test_a_busy_machine_is_refused_after_waiting_and_nothing_is_saved(fake, tmp_path, capsys):
    fake["loads"] = [16.47]
    assert runner.main(["kv_cache", "--out", str(tmp_path), "--wait", "60"]) == 2
    assert fake["calls"] == [] and list(tmp_path.iterdir()) == []
    assert fake["slept"] == 60
    out = capsys.readouterr().out
    assert "[1/1] kv_cache: refused: load average 16.47 is above max_load=1.0" in out


def test_the_runner_waits_for_the_load_to_fall(fake, tmp_path):
    fake["loads"] = [2.5, 1.8, 0.9]  # the previous benchmark's load decaying
    assert runner.main(["kv_cache", "--out", str(tmp_path)]) == 0
    assert fake["slept"] == 2 * runner.POLL_S
    assert json.loads((tmp_path / "kv_cache.json").read_text())["machine"][
        "load_average_1min"
    ] == 0.9


def test_force_saves_from_a_busy_machine_at_once_and_says_so(fake, tmp_path):
    fake["loads"] = [16.47]
    assert runner.main(["kv_cache", "--out", str(tmp_path), "--force"]) == 0
    machine = json.loads((tmp_path / "kv_cache.json").read_text())["machine"]
    assert machine["forced"] is True and machine["load_average_1min"] == 16.47
    assert fake["slept"] == 0


def test_a_higher_max_load_accepts_the_machine(fake, tmp_path):
    fake["loads"] = [3.0]
    assert runner.main(["kv_cache", "--out", str(tmp_path), "--max-load", "4"]) == 0
    assert json.loads((tmp_path / "kv_cache.json").read_text())["machine"]["max_load"] == 4.0


def test_dry_run_ignores_the_load_and_saves_nothing(fake, tmp_path, monkeypatch, capsys):
    fake["loads"] = [16.47]
    monkeypatch.chdir(tmp_path)
    assert runner.main(["bpe_training", "kv_cache", "--quick", "--dry-run"]) == 0
    assert fake["calls"] == [("bpe_training", True), ("kv_cache", True)]
    assert list(tmp_path.iterdir()) == []
    assert "[2/2] kv_cache: done in 0 s, not saved (--dry-run)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no_such"], "unknown benchmark"),
        (["--quick"], "--quick results are not the manual's settings"),
        (["--max-load", "-1"], "--max-load and --wait must be non-negative"),
        (["--wait", "nan"], "--max-load and --wait must be non-negative"),
    ],
)
def test_bad_arguments_are_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_every_benchmark_exposes_run_and_its_machine_fields():
    import importlib

    for name in BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        assert callable(module.run) and isinstance(module.MACHINE, dict), name
