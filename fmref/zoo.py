"""Train small models once and cache them on disk.

Several chapters, gallery examples, tests and benchmarks use the same small
trained models. :func:`cached` trains a model the first time it is asked for
and stores its state dict under a key that hashes the fmref source code and the
training settings, so a clean build trains each model at most once and a change
to fmref (or to the settings) retrains it instead of serving a stale model.

The cache lives in ``$FMREF_CACHE`` (default ``~/.cache/fmref``); ``tox`` points
every environment at one folder under ``.tox`` so tests and the docs share it.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from fmref._validate import check_instance

__all__ = [
    "cache_dir",
    "source_hash",
    "code_fingerprint",
    "cache_key",
    "cached",
    "one_thread",
    "TINY_GPT_SETTINGS",
    "tiny_gpt",
]

_PACKAGE_DIR = Path(__file__).resolve().parent
_FINGERPRINTS: dict[Path, tuple[tuple[int, int], str]] = {}  # path -> (mtime, size), code


def cache_dir() -> Path:
    """Folder that holds cached models.

    Returns
    -------
    pathlib.Path
        ``$FMREF_CACHE`` if set, else ``~/.cache/fmref``; created if missing.

    Examples
    --------
    >>> from fmref.zoo import cache_dir
    >>> cache_dir().is_dir()
    True
    """
    path = Path(os.environ.get("FMREF_CACHE", Path.home() / ".cache" / "fmref"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def code_fingerprint(source: str) -> str:
    """The code of a Python source text, without its docstrings, comments and layout.

    Two sources with the same fingerprint compile to the same program, so a
    model cached under one is valid under the other: editing prose in a
    docstring or a comment, or reformatting, does not retrain anything.

    Parameters
    ----------
    source : str
        The text of a module.

    Returns
    -------
    str
        ``ast.dump`` of the module with every docstring removed.

    Examples
    --------
    >>> from fmref.zoo import code_fingerprint
    >>> a = code_fingerprint('def f(x):\\n    "Double."\\n    return 2 * x  # twice')
    >>> a == code_fingerprint("def f(x): return 2*x")
    True
    >>> a == code_fingerprint("def f(x): return 3*x")
    False
    """
    check_instance("source", source, str)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def source_hash() -> str:
    """SHA-256 over the code of every ``.py`` file of the installed fmref package.

    Each file enters through :func:`code_fingerprint`, so the hash changes when
    the code changes, not when a docstring, a comment or the layout does.

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> from fmref.zoo import source_hash
    >>> len(source_hash())
    64
    """
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if _FINGERPRINTS.get(path, (None,))[0] != stamp:  # parse a file once per edit
            _FINGERPRINTS[path] = (stamp, code_fingerprint(path.read_text(encoding="utf-8")))
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(_FINGERPRINTS[path][1].encode())
    return digest.hexdigest()


def cache_key(name: str, settings: dict[str, Any]) -> str:
    """Cache key of a model: its name, a hash of fmref's source and of its settings.

    Parameters
    ----------
    name : str
        Model name, e.g. ``"tiny-gpt"``; letters, digits, ``-`` and ``_`` only.
    settings : dict
        JSON-serialisable training settings (sizes, steps, seed ...).

    Returns
    -------
    str
        ``"<name>-<16 hex digits>"``.

    Raises
    ------
    ValueError
        If ``name`` is empty or has other characters.
    TypeError
        If ``settings`` is not a JSON-serialisable dict.

    Examples
    --------
    >>> from fmref.zoo import cache_key
    >>> key = cache_key("tiny-gpt", {"steps": 100, "seed": 0})
    >>> key.startswith("tiny-gpt-"), len(key)
    (True, 25)
    >>> key == cache_key("tiny-gpt", {"seed": 0, "steps": 100})  # order does not matter
    True
    >>> key == cache_key("tiny-gpt", {"steps": 101, "seed": 0})
    False
    """
    check_instance("name", name, str)
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be non-empty letters, digits, '-' or '_'; got {name!r}")
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict, got {type(settings).__name__}")
    try:
        blob = json.dumps(settings, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"settings must be JSON-serialisable: {err}") from None
    digest = hashlib.sha256((source_hash() + blob).encode()).hexdigest()
    return f"{name}-{digest[:16]}"


def cached(name: str, settings: dict[str, Any], train: Callable[[], Any]) -> Any:
    """Return ``train()``'s result, computing it at most once per key.

    Parameters
    ----------
    name : str
        Model name (see :func:`cache_key`).
    settings : dict
        Everything ``train`` depends on besides fmref's source.
    train : callable
        Called with no arguments on a cache miss; returns anything
        :func:`torch.save` can store (a state dict, a history, a tuple of both).

    Returns
    -------
    object
        The stored or freshly computed result.

    Examples
    --------
    >>> from fmref.zoo import cached
    >>> calls = []
    >>> def train():
    ...     calls.append(1)
    ...     return {"w": torch.ones(2)}
    >>> import torch
    >>> a = cached("doc-example", {"n": 2}, train)
    >>> b = cached("doc-example", {"n": 2}, train)
    >>> len(calls) <= 1, torch.equal(a["w"], b["w"])
    (True, True)
    """
    if not callable(train):
        raise TypeError(f"train must be callable, got {type(train).__name__}")
    path = cache_dir() / f"{cache_key(name, settings)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=False)
    result = train()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(result, tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return result


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run a block, or a function it decorates, on one intra-op thread.

    Everything :func:`cached` stores is computed this way, so that what is
    stored does not depend on the thread count of whoever computes it first
    (a float sum split over more threads is added in another order), and
    because models this small gain nothing from threads on a shared machine.
    The caller's setting is restored afterwards, also after an exception.

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import one_thread
    >>> before = torch.get_num_threads()
    >>> with one_thread():
    ...     torch.get_num_threads()
    1
    >>> @one_thread()
    ... def threads():
    ...     return torch.get_num_threads()
    >>> threads(), torch.get_num_threads() == before
    (1, True)
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------
# The tiny GPT of the language-model chapters (II, VIII) and their gallery.
# ---------------------------------------------------------------------------

#: Settings of :func:`tiny_gpt`: a byte-level BPE of 768 ids and a 3-layer GPT
#: (about 0.4M parameters) trained on the Python documentation corpus.
TINY_GPT_SETTINGS: dict[str, Any] = {
    "vocab_size": 768,  # 256 bytes + 512 merges
    "block_size": 64,  # context length in tokens
    "n_layer": 3,  # Transformer blocks
    "n_head": 4,  # attention heads of 24 dimensions
    "n_embd": 96,  # model width
    "dropout": 0.0,  # the model sees each token about 2.5 times: no dropout needed
    "steps": 400,  # AdamW steps, on one CPU thread
    "batch_size": 16,  # windows per step: 1,024 tokens
    "lr_max": 3e-3,  # peak learning rate (a small model tolerates a large one)
    "lr_min": 3e-4,  # cosine floor, lr_max / 10
    "warmup": 50,  # linear warm-up steps
    "weight_decay": 0.1,  # on matrices and embeddings only
    "eval_interval": 50,  # steps between validations
    "eval_batches": 4,  # batches per validation
    "seed": 0,  # initial weights, batches
}


def _train_tiny_gpt(settings: dict[str, Any]) -> dict[str, Any]:
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.bpe import BPETokenizer
    from fmref.text.corpus import python_docs
    from fmref.train.loop import TrainConfig, train

    s = settings
    tokenizer = BPETokenizer.train(python_docs("train"), s["vocab_size"])
    train_ids = torch.tensor(tokenizer.encode(python_docs("train")))  # (N_train,)
    val_ids = torch.tensor(tokenizer.encode(python_docs("validation")))  # (N_val,)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size,
        block_size=s["block_size"],
        n_layer=s["n_layer"],
        n_head=s["n_head"],
        n_embd=s["n_embd"],
        dropout=s["dropout"],
    )
    torch.manual_seed(s["seed"])  # the initial weights
    model = GPT(config)
    train_config = TrainConfig(
        steps=s["steps"],
        batch_size=s["batch_size"],
        block_size=s["block_size"],
        lr_max=s["lr_max"],
        lr_min=s["lr_min"],
        warmup=s["warmup"],
        weight_decay=s["weight_decay"],
        eval_interval=s["eval_interval"],
        eval_batches=s["eval_batches"],
        seed=s["seed"],
    )
    with one_thread():  # the same weights bit for bit on any thread setting
        history = train(model, train_ids, train_config, val_data=val_ids)
    return {
        "gpt_config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "state_dict": model.state_dict(),
        "tokenizer": tokenizer.to_dict(),
        "history": history,
    }


def tiny_gpt(**overrides: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The tiny GPT trained on :func:`fmref.text.corpus.python_docs`, from the cache.

    The first call trains a byte-level BPE tokenizer on the corpus's training
    split and a small :class:`~fmref.models.gpt.GPT` on its tokens with
    :func:`fmref.train.loop.train` (on one thread, so that the weights do not
    depend on the thread setting), and caches the result with :func:`cached`;
    later calls only load it.

    Parameters
    ----------
    **overrides
        Settings to change from :data:`TINY_GPT_SETTINGS` (e.g. ``steps=10``
        for a quick test); a different setting is a different cached model.

    Returns
    -------
    model : fmref.models.gpt.GPT
        The trained model, in eval mode.
    tokenizer : fmref.text.bpe.BPETokenizer
        Its tokenizer.
    history : dict
        The training history of :func:`fmref.train.loop.train` (``step``,
        ``train_loss``, ``val_step``, ``val_loss``, ``lr``, ...).

    Raises
    ------
    ValueError
        If an override names an unknown setting.

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import tiny_gpt
    >>> model, tokenizer, history = tiny_gpt()
    >>> tokenizer.vocab_size, model.config.n_layer, model.config.block_size
    (768, 3, 64)
    >>> history["val_loss"][-1] < history["val_loss"][0]
    True
    >>> logits = model(torch.tensor([tokenizer.encode("The for statement")]))  # (1, T, V)
    >>> logits.shape[-1]
    768
    """
    unknown = sorted(set(overrides) - set(TINY_GPT_SETTINGS))
    if unknown:
        raise ValueError(
            f"overrides must be among TINY_GPT_SETTINGS {sorted(TINY_GPT_SETTINGS)}, got {unknown}"
        )
    from fmref.models.gpt import GPT, GPTConfig
    from fmref.text.bpe import BPETokenizer

    settings = {**TINY_GPT_SETTINGS, **overrides}
    stored = cached("tiny-gpt", settings, lambda: _train_tiny_gpt(settings))
    model = GPT(GPTConfig(**stored["gpt_config"]))
    model.load_state_dict(stored["state_dict"])
    model.eval()
    return model, BPETokenizer.from_dict(stored["tokenizer"]), stored["history"]
