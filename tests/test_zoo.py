"""Tests of fmref.zoo.tiny_gpt: trained once, cached, loaded back identical."""

import os

import pytest
import torch

from fmref import zoo


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FMREF_CACHE", str(tmp_path))
    return tmp_path


def test_tiny_gpt_is_trained_once_and_cached(fresh_cache, monkeypatch):
    quick = dict(
        steps=4,
        warmup=1,
        eval_interval=2,
        eval_batches=1,
        vocab_size=300,
        n_layer=1,
        n_embd=16,
        batch_size=2,
    )
    calls = []
    original = zoo._train_tiny_gpt

    def counting(settings):
        calls.append(settings)
        return original(settings)

    monkeypatch.setattr(zoo, "_train_tiny_gpt", counting)
    model, tokenizer, history = zoo.tiny_gpt(**quick)
    again, tokenizer2, history2 = zoo.tiny_gpt(**quick)
    assert len(calls) == 1  # the second call loaded the cache
    assert len(list(fresh_cache.glob("tiny-gpt-*.pt"))) == 1
    assert tokenizer.vocab_size == 300 and tokenizer2.merges == tokenizer.merges
    assert model.config.n_layer == 1 and not model.training
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert history["step"] == [1, 2, 3, 4] and history2["val_step"] == [2, 4]
    ids = torch.tensor([tokenizer.encode("The if statement")])
    assert model(ids).shape == (1, ids.shape[1], 300)


def test_tiny_gpt_unknown_setting_raises():
    with pytest.raises(ValueError, match="overrides must be among TINY_GPT_SETTINGS"):
        zoo.tiny_gpt(learning_rate=1.0)


def test_cache_key_bad_input_raises():
    with pytest.raises(ValueError, match="name must be non-empty"):
        zoo.cache_key("tiny gpt", {})
    with pytest.raises(TypeError, match="settings must be a dict"):
        zoo.cache_key("tiny-gpt", [("steps", 1)])
    with pytest.raises(TypeError, match="settings must be JSON-serialisable"):
        zoo.cache_key("tiny-gpt", {"steps": object()})


def test_one_thread_restores_the_callers_thread_count_even_after_an_error():
    from fmref.zoo import one_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert one_thread()(torch.get_num_threads)() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(KeyError), one_thread():
            assert torch.get_num_threads() == 1
            raise KeyError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_source_hash_follows_code_not_prose(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    module = pkg / "m.py"
    monkeypatch.setattr(zoo, "_PACKAGE_DIR", pkg)
    versions = {
        "original": '"""Doc."""\n\ndef f(x):\n    """Double."""\n    return 2 * x\n',
        "prose": '"""New doc."""\n\n\ndef f(x):  # edited\n    """Twice x."""\n    return 2*x\n',
        "code": '"""Doc."""\n\ndef f(x):\n    """Double."""\n    return 3 * x\n',
        "body a string": 'def f(x):\n    """Only a docstring."""\n',
    }
    hashes = {}
    for i, (name, text) in enumerate(versions.items()):
        module.write_text(text)
        os.utime(module, ns=(i * 10**9, i * 10**9))  # a new mtime, as after an edit
        hashes[name] = zoo.source_hash()
    assert hashes["prose"] == hashes["original"]  # docstrings, comments, layout: same key
    assert hashes["code"] != hashes["original"]
    assert hashes["body a string"] not in (hashes["original"], hashes["code"])
    (pkg / "n.py").write_text("")  # a new file changes the key too
    assert zoo.source_hash() != hashes["body a string"]
