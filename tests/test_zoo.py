"""Tests of fmref.zoo: the registry, tiny_gpt, and a cache that survives faults.

The fault-injection tests damage an entry of a tiny recipe (a few floats, no
model) in a temporary cache and check that the next call warns once, naming the
file, moves it aside, retrains, and returns what a clean cache returns.
"""

import ast
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import fmref
from fmref import zoo
from fmref.zoo import _cache, one_thread
from fmref.zoo.__main__ import _size, main

PACKAGE = Path(fmref.__file__).parent


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FMREF_CACHE", str(tmp_path))
    monkeypatch.setattr(_cache, "_MEMORY", {})
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
    with pytest.raises(ValueError, match=r"overrides must be among \[.*'steps'.*\], got \['learn"):
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
    monkeypatch.setattr(_cache, "_PACKAGE_DIR", pkg)
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


# ---------------------------------------------------------------------------
# The registry: every cached model has a recipe; models/ and nn/ stay pure.
# ---------------------------------------------------------------------------


def _cached_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "cached":
            first = node.args[0]
            assert isinstance(first, ast.Constant), ast.unparse(node)  # a literal name
            yield first.value


def test_every_cached_name_in_the_package_has_a_recipe_that_resolves():
    used = set()
    for path in PACKAGE.rglob("*.py"):
        used |= set(_cached_names(ast.parse(path.read_text(encoding="utf-8"))))
    names = [r.name for r in zoo.list()]
    assert names == sorted(names) and len(names) == len(set(names))
    assert used and used <= set(names), sorted(used - set(names))
    for recipe in zoo.list():
        assert callable(recipe.resolve()), recipe.function
        assert zoo.get(recipe.name) is recipe
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.get("gpt-5")


def test_no_gallery_script_caches_a_model_of_its_own():
    """Every trained model the gallery uses is a recipe: scripts call zoo.get, never cached."""
    gallery = PACKAGE.parent / "gallery"
    offenders = []
    for path in sorted(gallery.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == "cached":
                    offenders.append(f"{path.relative_to(gallery)}:{node.lineno}")
    assert offenders == []
    bad = ast.parse("from fmref.zoo import cached\nresult = cached('m', {}, train)\n")
    assert [n.func.id for n in ast.walk(bad) if isinstance(n, ast.Call)] == ["cached"]  # seen


# The recipes moved out of the gallery, each at tiny settings: trained once, then loaded.
GALLERY_RECIPES = {
    "swiss-roll-denoiser": dict(steps=2, hidden=8),
    "attention-copy-gpt": dict(steps=2, n_embd=8),
    "digits-vae": dict(epochs=1, hidden=8),
    "digits-patch-vqae": dict(steps=2, made_steps=2, codes=4),
    "mini-scaling-study": dict(width=8, steps=2, batch=2, block=8),
}


@pytest.mark.parametrize("name", GALLERY_RECIPES)
def test_gallery_recipes_train_once_then_load(fresh_cache, name):
    recipe = zoo.get(name)
    first = recipe.load(**GALLERY_RECIPES[name])
    [entry] = fresh_cache.glob(f"{name}-*.pt")
    mtime = entry.stat().st_mtime_ns
    again = recipe.load(**GALLERY_RECIPES[name])
    assert entry.stat().st_mtime_ns == mtime  # loaded, not retrained
    if isinstance(first, dict):  # a scaling run: numbers
        assert first == again and 4.0 < first["val_loss"] < 6.5  # about ln 256 = 5.55
        return
    for a, b in zip(first, again):
        if isinstance(a, torch.nn.Module):
            assert not a.training
            for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
                assert torch.equal(x, y), key
        elif isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
        else:
            assert a == b and len(a["loss"]) > 0


@pytest.mark.parametrize("name", sorted(set(GALLERY_RECIPES) - {"mini-scaling-study"}))
def test_gallery_recipes_refuse_an_unknown_setting(name):
    with pytest.raises(ValueError, match="overrides must be among"):
        zoo.get(name).load(learning_rate=1.0)


def test_copy_batch_copies_after_the_separator_and_checks_sizes():
    from fmref.prompting.icl import copy_batch

    seq = copy_batch(5, 4, torch.Generator().manual_seed(0))
    assert seq.shape == (5, 9) and (seq[:, 4] == 10).all() and torch.equal(seq[:, :4], seq[:, 5:])
    assert int(seq[:, :4].max()) <= 9
    for bad, name in ((dict(n=0), "n"), (dict(n=2, length=-1), "length"), (dict(n=2.0), "n"),
                      (dict(n=True), "n")):
        with pytest.raises(ValueError, match=f"^{name} must be a positive int"):
            copy_batch(**bad)


def test_models_and_nn_never_import_zoo():
    offenders = []
    for sub in ("models", "nn"):
        for path in (PACKAGE / sub).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = "." * node.level + (node.module or "")
                    mods = [base] + [f"{base}.{a.name}" for a in node.names]
                else:
                    continue
                if any(m.split(".")[-1] == "zoo" or ".zoo." in m + "." for m in mods):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


# ---------------------------------------------------------------------------
# Fault injection on a tiny recipe.
# ---------------------------------------------------------------------------

SETTINGS = {"n": 4}


def _tiny(calls):
    def train():
        calls.append(1)
        return {"w": torch.arange(4.0), "history": [1.0, 0.5], "meta": ("ok", 3, None)}

    return train


def _same(a, b):
    return torch.equal(a["w"], b["w"]) and a["history"] == b["history"] and a["meta"] == b["meta"]


def _entry(name="tiny-recipe"):
    return Path(_cache.cache_dir()) / f"{zoo.cache_key(name, SETTINGS)}.pt"


class _Evil:
    """Unpickling this calls open(path, "w"): it creates a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _truncate(path, _):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero_fill(path, _):
    path.write_bytes(bytes(path.stat().st_size))


def _random_bytes(path, _):
    path.write_bytes(torch.randint(0, 256, (2048,), dtype=torch.uint8).numpy().tobytes())


def _raw_pickle(path, marker):
    path.write_bytes(pickle.dumps({"result": _Evil(marker)}, protocol=2))


def _torch_pickle(path, marker):
    torch.save({"format": 1, "key": path.stem, "result": _Evil(marker)}, path)


def _foreign(path, _):
    torch.save({"weights": torch.ones(3)}, path)  # a valid file, not a cache entry


def _other_key(path, _):
    entry = torch.load(path, weights_only=True)
    torch.save({**entry, "key": "tiny-recipe-0000000000000000"}, path)


def _directory(path, _):  # unreadable, even for root: open() raises IsADirectoryError
    path.unlink()
    path.mkdir()


FAULTS = {
    "truncated": (_truncate, "failed finding central directory"),
    "zero-filled": (_zero_fill, "refused by torch.load(weights_only=True): "),
    "random bytes": (_random_bytes, "refused by torch.load"),
    "crafted pickle": (_raw_pickle, "Unsupported global: GLOBAL io.open"),
    "crafted torch file": (_torch_pickle, "Unsupported global: GLOBAL io.open"),
    "foreign file": (_foreign, "not a cache entry"),
    "another key's entry": (_other_key, "holds the entry"),
    "unreadable": (_directory, "unreadable"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_bad_entry_is_moved_aside_with_one_warning_and_rebuilt(fresh_cache, fault):
    damage, reason = FAULTS[fault]
    calls = []
    clean = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    path, marker = _entry(), fresh_cache / "pwned"
    damage(path, marker)
    with pytest.warns(zoo.CacheWarning) as record:
        again = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    assert [str(w.message) for w in record if w.category is zoo.CacheWarning] == [
        str(record[0].message)
    ]
    message = str(record[0].message)
    assert f"bad cache entry {path}:" in message and reason in message, message
    assert "weights_only=False" not in message and "documentation" not in message  # no advice
    assert "moved it to tiny-recipe-" in message and "retrained it" in message
    assert len(calls) == 2 and _same(clean, again)  # retrained once, same result
    assert not marker.exists()  # no pickled code ran
    assert len(list(fresh_cache.glob("tiny-recipe-*.pt.bad-*"))) == 1  # kept, not deleted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _same(zoo.cached("tiny-recipe", SETTINGS, _tiny(calls)), clean)
    assert len(calls) == 2


def test_the_crafted_pickles_would_run_code_under_a_plain_unpickler(tmp_path):
    """The fault is real: without weights_only the same bytes create the file."""
    _raw_pickle(tmp_path / "a.pt", tmp_path / "made-by-pickle")
    pickle.loads((tmp_path / "a.pt").read_bytes())["result"].close()
    _torch_pickle(tmp_path / "b.pt", tmp_path / "made-by-torch")
    torch.load(tmp_path / "b.pt", weights_only=False)["result"].close()
    assert (tmp_path / "made-by-pickle").exists() and (tmp_path / "made-by-torch").exists()


def test_read_entry_names_the_file_and_the_reason(fresh_cache):
    zoo.cached("tiny-recipe", SETTINGS, _tiny([]))
    assert zoo.read_entry(_entry())["settings"] == SETTINGS
    _truncate(_entry(), None)
    with pytest.raises(ValueError, match=r"tiny-recipe-\w+\.pt: refused by torch.load"):
        zoo.read_entry(_entry())


def test_a_result_the_safe_loader_would_refuse_is_not_stored(fresh_cache):
    with pytest.raises(TypeError, match="train\\(\\) must return tensors.*PosixPath"):
        zoo.cached("tiny-recipe", SETTINGS, lambda: {"where": Path("a")})
    assert list(fresh_cache.iterdir()) == [_entry().with_suffix(".lock")]


@pytest.fixture()
def read_only(fresh_cache, monkeypatch):
    """The cache folder made read-only; as root (where modes do not bind), also refused."""
    folder = str(fresh_cache)
    if os.geteuid() == 0:
        real_open, real_replace = os.open, os.replace

        def guarded_open(path, flags, *args, **kwargs):
            writes = os.O_CREAT | os.O_WRONLY | os.O_RDWR
            if str(path).startswith(folder) and flags & writes:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        def guarded_replace(src, dst, *args, **kwargs):
            if str(dst).startswith(folder):
                raise PermissionError(13, "Permission denied", str(dst))
            return real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "open", guarded_open)
        monkeypatch.setattr(os, "replace", guarded_replace)
    fresh_cache.chmod(0o555)
    yield fresh_cache
    fresh_cache.chmod(0o755)


def test_a_read_only_cache_gives_an_in_memory_result_with_one_warning(read_only):
    calls = []
    with pytest.warns(zoo.CacheWarning, match="cannot store .*tiny-recipe-.*kept in memory"):
        first = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no second training
        second = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    assert len(calls) == 1 and _same(first, second) and list(read_only.iterdir()) == []


def test_a_bad_entry_in_a_read_only_cache_is_reported_once(fresh_cache, monkeypatch):
    calls = []
    clean = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    _zero_fill(_entry(), None)
    next(read_only.__wrapped__(fresh_cache, monkeypatch))
    with pytest.warns(zoo.CacheWarning) as record:
        again = zoo.cached("tiny-recipe", SETTINGS, _tiny(calls))
    fresh_cache.chmod(0o755)
    assert len(record) == 1 and "could not move it aside" in str(record[0].message)
    assert str(_entry()) in str(record[0].message) and _same(clean, again)


def test_a_cache_folder_that_cannot_be_made_gives_an_in_memory_result(fresh_cache, monkeypatch):
    (fresh_cache / "file").write_text("")
    monkeypatch.setenv("FMREF_CACHE", str(fresh_cache / "file" / "cache"))
    with pytest.warns(zoo.CacheWarning, match="cannot create the cache folder"):
        result = zoo.cached("tiny-recipe", SETTINGS, _tiny([]))
    assert _same(result, _tiny([])())


CHILD = """
import sys, time
from pathlib import Path
import torch
from fmref.zoo import cached

log, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

def train():
    with log.open("a") as f:
        f.write(me.name + "\\n")
    time.sleep(1.5)  # the other process asks meanwhile
    return {"w": torch.arange(4.0) * 2}

me.touch()
deadline = time.time() + 60
while not other.exists() and time.time() < deadline:  # start together
    time.sleep(0.02)
print(cached("tiny-recipe", {"n": 4}, train)["w"].tolist())
"""


@pytest.mark.slow
def test_two_processes_asking_for_one_key_train_it_once(fresh_cache):
    log, a, b = (str(fresh_cache / name) for name in ("trained.log", "a", "b"))
    env = {**os.environ, "FMREF_CACHE": str(fresh_cache)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, log, me, other],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for me, other in ((a, b), (b, a))
    ]
    outs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert len(Path(log).read_text().split()) == 1  # one trainer; the other waited and loaded
    assert outs == ["[0.0, 2.0, 4.0, 6.0]\n"] * 2


# ---------------------------------------------------------------------------
# python -m fmref.zoo
# ---------------------------------------------------------------------------


def test_cli_lists_and_clears_the_cache(fresh_cache, monkeypatch, capsys):
    zoo.cached("tiny-recipe", SETTINGS, _tiny([]))
    zoo.cached("other-recipe", SETTINGS, _tiny([]))
    (fresh_cache / "junk-0123456789abcdef.pt").write_bytes(b"junk")
    torch.save({"weights": torch.ones(2)}, fresh_cache / "weights-0123456789abcdef.pt")
    (fresh_cache / "tiny-recipe-0123456789abcdef.pt.bad-20261204T120000-1").write_bytes(b"x")
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{fresh_cache}: 5 files"
    rows = {line.split()[0]: line for line in out[2:]}
    key = _entry().stem.rsplit("-", 1)[1]
    assert rows["tiny-recipe"].split()[1] == key and rows["tiny-recipe"].endswith("current")
    assert "bad: " in rows["junk-0123456789abcdef.pt"]
    assert rows["tiny-recipe-0123456789abcdef.pt.bad-20261204T120000-1"].endswith("moved aside")
    assert rows["weights-0123456789abcdef.pt"].endswith("bad: not a cache entry of format 1")
    size = _entry().stat().st_size
    assert 1024 < size < 4096 and f" {size / 1024:.1f} KiB " in rows["tiny-recipe"]
    assert [_size(n) for n in (10, 3 << 20, 5 << 30)] == ["10 B", "3.0 MiB", "5.0 GiB"]
    with monkeypatch.context() as m:
        m.setattr(_cache, "source_hash", lambda module=None: "0" * 64)  # fmref's code changed
        main(["list"])
        assert "stale (fmref's code changed)" in capsys.readouterr().out
    old = fresh_cache / "old-recipe-0123456789abcdef.pt"
    torch.save({**torch.load(_entry(), weights_only=True), "source": "0" * 64}, old)
    main(["clear", "--stale"])  # the bad files and the entry of older code
    assert capsys.readouterr().out == f"removed 4 files from {fresh_cache}\n"
    assert sorted(e["name"] for e in zoo.entries()) == ["other-recipe", "tiny-recipe"]
    assert main(["recipes"]) == 0
    assert "digits-vit           fmref.zoo:digits_vit" in capsys.readouterr().out
    assert main(["clear", "tiny-recipe"]) == 0
    assert capsys.readouterr().out == f"removed 2 files from {fresh_cache}\n"  # entry, lock
    assert sorted(p.name.split("-")[0] for p in fresh_cache.iterdir()) == ["other", "other"]
    (fresh_cache / "notes.txt").write_text("not ours")
    main(["clear", "--all"])
    assert [p.name for p in fresh_cache.iterdir()] == ["notes.txt"]
    with pytest.raises(SystemExit):
        main(["clear"])
    with pytest.raises(TypeError, match="names must be a list"):
        zoo.clear("tiny-recipe")


def test_a_recipe_key_covers_the_code_its_module_runs(tmp_path, monkeypatch, fresh_cache):
    pkg = tmp_path / "fmref"
    files = {
        "__init__.py": "",
        "sub/__init__.py": "",
        "sub/recipe.py": "from . import helper\n\ndef run():\n    from fmref.deep import f\n",
        "sub/helper.py": "def g():\n    return 1\n",
        "deep.py": "def f():\n    return 2\n",
        "other.py": "def h():\n    return 3\n",
        "lazy/__init__.py": "def __getattr__(name):\n    return __import__('fmref.lazy.impl')\n",
        "lazy/impl.py": "X = 1\n",
        "uses_lazy.py": "from fmref.lazy import X\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    monkeypatch.setattr(_cache, "_PACKAGE_DIR", pkg)

    def names(module):
        return [p.relative_to(pkg).as_posix() for p in zoo.module_files(module)]

    recipe = ["__init__.py", "deep.py", "sub/__init__.py", "sub/helper.py", "sub/recipe.py"]
    assert names("fmref.sub.recipe") == recipe  # relative, function-level, packages
    assert "lazy/impl.py" in names("fmref.uses_lazy")  # a lazy package counts whole
    assert names("json") == [] and zoo.source_hash("json") == zoo.source_hash()

    def edit(name, text):
        path = pkg / name
        stamp = path.stat().st_mtime_ns + 10**9
        path.write_text(text)
        os.utime(path, ns=(stamp, stamp))

    before = zoo.source_hash("fmref.sub.recipe"), zoo.source_hash()
    edit("other.py", "def h():\n    return 4\n")  # code the recipe does not run
    assert zoo.source_hash("fmref.sub.recipe") == before[0] != zoo.source_hash() != before[1]
    edit("deep.py", "def f():\n    return 5\n")  # code it runs, imported inside a function
    assert zoo.source_hash("fmref.sub.recipe") != before[0]

    def train():
        return {"w": torch.ones(1)}

    train.__module__ = "fmref.sub.recipe"  # as if defined there
    zoo.cached("tiny-recipe", SETTINGS, one_thread()(train))  # unwrapped to find the module
    key = zoo.cache_key("tiny-recipe", SETTINGS, "fmref.sub.recipe")
    entry = zoo.read_entry(fresh_cache / f"{key}.pt")
    assert entry["module"] == "fmref.sub.recipe" and entry["source"] == zoo.source_hash(
        "fmref.sub.recipe"
    )
    assert [e["current"] for e in zoo.entries()] == [True]
    edit("sub/helper.py", "def g():\n    return 6\n")
    assert [e["current"] for e in zoo.entries()] == [False]


def test_cli_trains_recipes_here_or_in_processes(fresh_cache, monkeypatch, capsys):
    calls = []

    class Recipe:  # a registered recipe whose function is cheap
        def __init__(self, name):
            self.name = name

        def resolve(self):
            return lambda: calls.append(zoo.cached(self.name, SETTINGS, _tiny([])))

    names = ["tiny-recipe", "other-recipe"]
    monkeypatch.setattr(zoo, "list", lambda: [Recipe(n) for n in names])
    monkeypatch.setattr(zoo, "get", Recipe)
    assert main(["train", *names]) == 0
    assert len(calls) == 2 and len(list(fresh_cache.glob("*-recipe-*.pt"))) == 2
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == names and out[0].endswith(" s")

    launched = []

    class Process:  # subprocess.Popen's stand-in: each ends one poll later; other-recipe fails
        def __init__(self, cmd):
            self.name, self.returncode, self.polls = cmd[-1], None, len(launched)
            launched.append(cmd[-1])

        def poll(self):
            self.polls -= 1
            if self.polls < 0:
                self.returncode = int(self.name == "other-recipe")
            return self.returncode

    monkeypatch.setattr("subprocess.Popen", Process)
    assert main(["train", *names, "tiny-recipe", "--jobs", "2"]) == 1
    assert launched == [*names, "tiny-recipe"]
    assert capsys.readouterr().err == "failed: other-recipe\n"
    for argv, message in ((["train", "no-such"], "unknown recipe 'no-such'"),
                          (["train", "tiny-recipe", "--jobs", "0"], "--jobs must be a positive")):
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
