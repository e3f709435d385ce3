"""fmref.results: the one home of saved benchmark results, and its one writer."""

import json
import math

import pytest

from fmref import results


def test_every_saved_result_loads_with_the_machine_it_was_measured_on():
    assert results.names() == sorted(results.names())
    assert len(results.names()) >= 6
    for name in results.names():
        bench = results.load(name)
        assert {"cpu", "cores", "torch", "date"} <= set(bench["machine"]), name


def test_load_rejects_unknown_and_non_string_names():
    with pytest.raises(ValueError, match="name must be one of .*kv_cache"):
        results.load("no_such_benchmark")
    with pytest.raises(ValueError, match="name must be a benchmark's name"):
        results.load("../pyproject")
    with pytest.raises(TypeError, match="name must be a str"):
        results.load(3)


def test_check_load_accepts_an_idle_machine_and_refuses_a_busy_one_unless_forced():
    assert results.check_load(1.0, max_load=1.0) is False  # at the threshold: accepted
    with pytest.raises(results.LoadTooHighError, match="16.47 is above max_load=1.0"):
        results.check_load(16.47, max_load=1.0)
    assert results.check_load(16.47, max_load=1.0, force=True) is True
    assert results.check_load(16.47, max_load=20) is False


@pytest.mark.parametrize(
    ("load", "max_load", "error", "match"),
    [
        ("1", 1.0, TypeError, "load_average must be a number"),
        (True, 1.0, TypeError, "load_average must be a number"),
        (0.5, None, TypeError, "max_load must be a number"),
        (-0.5, 1.0, ValueError, "load_average must be a non-negative"),
        (math.nan, 1.0, ValueError, "load_average must be a non-negative"),
        (0.5, -1, ValueError, "max_load must be a non-negative"),
    ],
)
def test_check_load_rejects_bad_numbers(load, max_load, error, match):
    with pytest.raises(error, match=match):
        results.check_load(load, max_load)


def test_save_writes_the_report_with_its_machine_and_reads_back(tmp_path):
    machine = {**results.machine_info(threads=1), "load_average_1min": 0.3}
    path = results.save("demo", {"speedup": 2.5}, machine, directory=tmp_path / "out")
    saved = json.loads(path.read_text())
    assert path == tmp_path / "out" / "demo.json"
    assert saved["speedup"] == 2.5
    assert saved["machine"]["threads"] == 1 and saved["machine"]["max_load"] == 1.0
    assert "forced" not in saved["machine"]


def test_save_refuses_a_busy_machine_and_writes_nothing(tmp_path):
    machine = {**results.machine_info(), "load_average_1min": 16.47}
    with pytest.raises(results.LoadTooHighError):
        results.save("demo", {"x": 1}, machine, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
    path = results.save("demo", {"x": 1}, machine, directory=tmp_path, force=True)
    assert json.loads(path.read_text())["machine"]["forced"] is True


def test_save_rejects_bad_arguments(tmp_path):
    machine = results.machine_info()
    with pytest.raises(TypeError, match="report must be a dict"):
        results.save("demo", [1], machine, directory=tmp_path)
    with pytest.raises(ValueError, match="report must not have a 'machine' key"):
        results.save("demo", {"machine": {}}, machine, directory=tmp_path)
    with pytest.raises(TypeError, match="machine must be the dict of machine_info"):
        results.save("demo", {}, {"cpu": "x"}, directory=tmp_path)
    with pytest.raises(ValueError, match="name must be a benchmark's name"):
        results.save("a/b", {}, machine, directory=tmp_path)


def test_machine_info_falls_back_when_proc_cpuinfo_is_unreadable(monkeypatch):
    def unreadable(self, *args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(results.Path, "read_text", unreadable)
    monkeypatch.setattr(results.platform, "processor", lambda: "")
    assert results.machine_info()["cpu"] == "unknown"
