"""Seed runs of the tiny GPT: deterministic per seed, different across seeds; spread."""

import pytest

from fmref.eval.seeds import seed_runs, spread

QUICK = dict(steps=3, warmup=1, eval_interval=3, eval_batches=1, n_layer=1, n_embd=16)


def test_seed_runs_are_reproducible_and_differ_between_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("FMREF_CACHE", str(tmp_path))
    first = seed_runs((0, 1), **QUICK)
    again = seed_runs((0,), **QUICK)  # served from the cache
    assert first[0] == again[0]
    assert first[0]["val_loss"] != first[1]["val_loss"]
    assert len(list(tmp_path.glob("tiny-gpt-seed-*.pt"))) == 2


def test_spread_and_validation():
    s = spread([1.0, 3.0])
    assert s == {"mean": 2.0, "std": pytest.approx(2**0.5), "min": 1.0, "max": 3.0, "range": 2.0}
    with pytest.raises(ValueError, match="values must hold at least two"):
        spread([1.0])
    with pytest.raises(ValueError, match="seeds must hold at least one"):
        seed_runs(())
    with pytest.raises(ValueError, match="overrides must be among"):
        seed_runs((0,), lr=0.1)
