"""Data-parallel training: DDP over gloo equals single-process training on the global batch."""

import json
import os
import re
import socket
import subprocess
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from fmref.train.distributed import byte_dataset, main, make_model, torchrun_command, train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def one_rank_group(tmp_path):
    """A real gloo process group of world size 1 (file store; nothing leaves the machine)."""
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def _workers(proc):
    """The workers' own lines of a torchrun's stderr (its summary traceback left out)."""
    head = proc.stderr.split("Traceback (most recent call last)")[0]
    return f"{head[-4000:]}\n...\n{proc.stderr[-1200:]}"


def _max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("zero", [False, True])
def test_ddp_on_one_rank_equals_plain_training(one_rank_group, zero):
    ddp_model, ddp_hist = train(steps=3, global_batch=8, zero=zero)
    ref_model, ref_hist = train(steps=3, global_batch=8, distributed=False)
    assert ddp_hist["world_size"] == 1
    assert ddp_hist["loss"] == pytest.approx(ref_hist["loss"], abs=1e-6)
    assert _max_diff(ddp_model.state_dict(), ref_model.state_dict()) < 1e-6


def test_more_steps_than_an_epoch_reshuffles():
    _, hist = train(steps=5, global_batch=4, n_sequences=8, distributed=False)
    assert len(hist["loss"]) == 5  # 2 batches per epoch, 3 epochs


def test_errors():
    with pytest.raises(RuntimeError, match="process group"):
        train(steps=1)
    with pytest.raises(ValueError, match="n_sequences"):
        byte_dataset(0, 8)
    with pytest.raises(ValueError, match="n_sequences"):
        byte_dataset(10**6, 10**3)


def test_global_batch_must_divide(one_rank_group, monkeypatch):
    monkeypatch.setattr(dist, "get_world_size", lambda: 3)
    with pytest.raises(ValueError, match="global_batch"):
        train(steps=1, global_batch=8)


def test_main_under_torchrun_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    out = tmp_path / "run.pt"
    summary = main(["--steps", "2", "--global-batch", "4", "--zero", "--out", str(out), "--json"])
    assert not dist.is_initialized()  # cleaned up
    assert json.loads(capsys.readouterr().out) == summary and summary["steps"] == 2
    saved = torch.load(out)
    assert summary["world_size"] == 1 and len(saved["history"]["loss"]) == 2
    assert set(saved["state_dict"]) == set(make_model().state_dict())


@pytest.mark.slow
def test_torchrun_two_processes_equal_single_process(tmp_path):
    out = tmp_path / "ddp.pt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    cmd = torchrun_command(
        2, "--steps", 4, "--global-batch", 16, "--zero", "--check", "--out", out
    )
    for attempt in (1, 2):
        proc = subprocess.run(
            cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        # A worker killed by a signal (gloo's C++ threads abort on a torn connection) is
        # a crash of the launch, not a wrong result: say what the workers printed, and
        # launch once more. Any other failure, or a second crash, fails the test.
        crashed = proc.returncode != 0 and "Signal" in proc.stderr
        if not crashed or attempt == 2:
            break
        message = f"torchrun crashed, relaunching; the workers said:\n{_workers(proc)}"
        warnings.warn(message, stacklevel=2)
    assert proc.returncode == 0, _workers(proc)
    # what the README says it prints: the time, and the check against one process
    first, loss, check = proc.stdout.strip().splitlines()[-3:]
    assert re.fullmatch(r"2 process\(es\), 4 steps in \d+\.\d\d s, AdamW states sharded \(ZeRO-1\)",
                        first), first
    saved = torch.load(out)
    ref_model, ref_hist = train(steps=4, global_batch=16, distributed=False)
    assert loss == f"loss {ref_hist['loss'][0]:.4f} -> {ref_hist['loss'][-1]:.4f}"
    # same global batches, gradients averaged by all-reduce: same weights up to rounding
    assert saved["history"]["loss"] == pytest.approx(ref_hist["loss"], abs=1e-5)
    diff = _max_diff(saved["state_dict"], ref_model.state_dict())
    assert diff < 1e-5
    printed = float(check.rsplit(": ", 1)[1])
    assert check.startswith("largest weight difference from single-process training")
    assert printed == pytest.approx(diff, rel=0.06, abs=1e-9)


def test_torchrun_command_rejects_a_bad_process_count():
    with pytest.raises(ValueError, match="nproc_per_node"):
        torchrun_command(0)


def test_torchrun_command_picks_a_free_port():
    cmd = torchrun_command(1, "--steps", 1)
    port = int(cmd[cmd.index("--master-port") + 1])
    assert 0 < port < 65536 and cmd[-2:] == ["--steps", "1"]


def test_main_prints_time_loss_and_the_single_process_check_rounded(capsys):
    summary = main(["--steps", "2", "--global-batch", "4", "--check"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"1 process(es), 2 steps in {summary['seconds']:.2f} s",
        f"loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f}",
        "largest weight difference from single-process training on the same global batches: "
        "0.0e+00",  # one process against one process: the same arithmetic, bit for bit
    ]


def test_every_command_line_option_has_a_help_text(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    entries = re.split(r"\n(?=  -)", text.split("options:\n", 1)[1].strip("\n"))
    assert len(entries) == 12  # --help and the 11 options of main()
    for entry in entries:
        words = [w for w in entry.split() if not (w.startswith("-") or w.isupper())]
        assert words, f"no help text: {entry!r}"  # argparse prints the option alone
    assert "(default 20)" in text and "ZeRO-1" in text
