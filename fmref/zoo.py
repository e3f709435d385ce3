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

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["cache_dir", "source_hash", "cache_key", "cached"]

_PACKAGE_DIR = Path(__file__).resolve().parent


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


def source_hash() -> str:
    """SHA-256 over every ``.py`` file of the installed fmref package.

    Returns
    -------
    str
        64 hexadecimal digits; it changes whenever any fmref source file changes.

    Examples
    --------
    >>> from fmref.zoo import source_hash
    >>> len(source_hash())
    64
    """
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
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
    path = cache_dir() / f"{cache_key(name, settings)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=False)
    result = train()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(result, tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return result
