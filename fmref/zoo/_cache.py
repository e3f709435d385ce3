"""The machinery of :mod:`fmref.zoo`: keys, safe loading, locks, the on-disk entries.

An entry is one file ``<name>-<16 hex digits>.pt`` written by :func:`torch.save`
and read back with ``torch.load(..., weights_only=True)``: the loader builds
tensors, dicts, lists, tuples, strings and numbers and refuses any other global,
so a file planted in the cache cannot run code in the reader's process. The
file holds the result under ``"result"`` beside its name, key, settings, the
source hash it was trained under and the time it was written.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import hashlib
import inspect
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

try:  # POSIX; elsewhere two processes may train the same key twice (still atomic)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

FORMAT = 1  # version of the entry layout; a different one is a foreign entry
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# path -> ((mtime, size), (code fingerprint, imported module names, lazy exports))
_FINGERPRINTS: dict[Path, tuple[tuple[int, int], tuple[str, frozenset[str], bool]]] = {}
_MEMORY: dict[str, Any] = {}  # results this process could not store (read-only cache)
# an entry, its lock, a file moved aside, a temporary file of an unfinished write
_FILE = re.compile(r"^\.?(?P<name>[A-Za-z0-9_-]+)-[0-9a-f]{16}\.(pt|lock|pt\.bad-.+|.+\.tmp)$")


class CacheWarning(UserWarning):
    """A cache entry was bad and is rebuilt, or a result could not be stored.

    Examples
    --------
    >>> from fmref.zoo import CacheWarning
    >>> issubclass(CacheWarning, UserWarning)
    True
    """


def cache_dir() -> Path:
    """Folder that holds cached models.

    Returns
    -------
    pathlib.Path
        ``$FMREF_CACHE`` if set, else ``~/.cache/fmref``; created if missing.

    Raises
    ------
    OSError
        If the folder is missing and cannot be created.

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
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def _parsed(path: Path) -> tuple[str, frozenset[str], bool]:
    """A file's code fingerprint, the modules it imports, whether it loads lazily."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    if _FINGERPRINTS.get(path, (None,))[0] != stamp:  # parse a file once per edit
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        package = _module_name(path)
        if path.name != "__init__.py":
            package = package.rpartition(".")[0]
        names = set()
        for node in ast.walk(tree):  # module level and inside functions
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .x import y
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
        lazy = any(  # PEP 562: names imported by a module-level __getattr__
            isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body
        )
        code = code_fingerprint(source)
        _FINGERPRINTS[path] = (stamp, (code, frozenset(n for n in names if n), lazy))
    return _FINGERPRINTS[path][1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(_PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != _PACKAGE_DIR.name:
        return None
    base = _PACKAGE_DIR.joinpath(*parts[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def module_files(module: str) -> list[Path]:
    """The fmref files a module runs: its imports, transitively, and their packages.

    Imports inside functions count, relative imports are resolved, every parent
    package's ``__init__.py`` is included, and a package whose ``__init__.py``
    loads names lazily (a module-level ``__getattr__``) counts whole.

    Parameters
    ----------
    module : str
        A dotted module name, e.g. ``"fmref.multimodal.digits"``.

    Returns
    -------
    list of pathlib.Path
        Sorted; empty if ``module`` is not a module of fmref.

    Examples
    --------
    >>> from fmref.zoo import module_files
    >>> names = [p.name for p in module_files("fmref.models.gpt")]
    >>> "gpt.py" in names, "attention.py" in names, "digits.py" in names
    (True, True, False)
    >>> module_files("json")
    []
    """
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # the module and the packages around it
            path = _module_path(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            _, imports, lazy = _parsed(path)
            todo.extend(imports)
            if lazy and path.name == "__init__.py":
                todo.extend(_module_name(p) for p in path.parent.rglob("*.py"))
    return sorted(seen)


def source_hash(module: str | None = None) -> str:
    """SHA-256 over the code of fmref: all of it, or what one module runs.

    Each file enters through :func:`code_fingerprint`, so the hash changes when
    the code changes, not when a docstring, a comment or the layout does.

    Parameters
    ----------
    module : str, optional
        Hash only :func:`module_files` of this module (a recipe's module) and
        this cache code, so that an edit elsewhere in fmref retrains nothing.
        ``None``, or a module outside fmref (a gallery script), hashes every
        ``.py`` file of the installed package.

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> from fmref.zoo import source_hash
    >>> len(source_hash())
    64
    >>> source_hash("fmref.prompting.icl") == source_hash("fmref.rag.evalset")
    False
    """
    files = module_files(module) if module is not None else []
    this = _module_path(f"{_PACKAGE_DIR.name}.zoo._cache")  # writes and reads the entries
    if files:
        files = sorted(set(files) | ({this} if this else set()))
    else:
        files = sorted(_PACKAGE_DIR.rglob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(_parsed(path)[0].encode())
    return digest.hexdigest()


def cache_key(name: str, settings: dict[str, Any], module: str | None = None) -> str:
    """Cache key of a model: its name, a hash of fmref's source and of its settings.

    Parameters
    ----------
    name : str
        Model name, e.g. ``"tiny-gpt"``; letters, digits, ``-`` and ``_`` only.
    settings : dict
        JSON-serialisable training settings (sizes, steps, seed ...).
    module : str, optional
        The module of the training function: only the fmref code it runs enters
        the key (:func:`source_hash`); ``None`` hashes all of fmref.

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
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be non-empty letters, digits, '-' or '_'; got {name!r}")
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict, got {type(settings).__name__}")
    try:
        blob = json.dumps(settings, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"settings must be JSON-serialisable: {err}") from None
    digest = hashlib.sha256((source_hash(module) + blob).encode()).hexdigest()
    return f"{name}-{digest[:16]}"


class _BadEntry(Exception):
    """An entry that cannot be read, or that is not what its name promises."""


def read_entry(path: Path) -> dict[str, Any]:
    """Load one cache file safely: tensors and plain containers only, never code.

    Parameters
    ----------
    path : pathlib.Path
        A ``.pt`` file of the cache.

    Returns
    -------
    dict
        ``{"format", "name", "key", "settings", "source", "created", "result"}``.

    Raises
    ------
    ValueError
        If the file cannot be read, is cut short, holds a pickled global outside
        the allow-list (``weights_only=True``), or is not a cache entry.

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import cache_dir, read_entry
    >>> bad = cache_dir() / "doc-read-entry.pt"
    >>> torch.save({"weights": torch.ones(2)}, bad)  # a file, but no cache entry
    >>> try:
    ...     read_entry(bad)
    ... except ValueError as err:
    ...     print(str(err).split(": ", 1)[1])
    not a cache entry of format 1
    >>> bad.unlink()
    """
    try:
        entry = _load(path)
    except _BadEntry as err:
        raise ValueError(f"{path}: {err}") from None
    return entry


def _load(path: Path, key: str | None = None) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch's notes on odd files: we report our own
            warnings.simplefilter("ignore")
            entry = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise _BadEntry(f"unreadable ({err.strerror or err})") from None
    except Exception as err:  # a truncated zip, random bytes, a pickle with globals ...
        raise _BadEntry(f"refused by torch.load(weights_only=True): {_reason(err)}") from None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or "result" not in entry:
        raise _BadEntry(f"not a cache entry of format {FORMAT}")
    if key is not None and entry.get("key") != key:
        raise _BadEntry(f"holds the entry {entry.get('key')!r}, not {key!r}")
    return entry


def _reason(err: Exception) -> str:
    """The informative sentence of torch.load's error (not its advice to unpickle)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:  # e.g. "Unsupported global: GLOBAL io.open ..."
        tail = text.split("WeightsUnpickler error:", 1)[1]
        text = next(part for part in tail.split("\n\n") + [""] if part.strip())
        text = text.split(" Please use")[0]
    else:  # e.g. "PytorchStreamReader failed reading zip archive: failed finding ..."
        text = text.split(". ")[0]
    return " ".join(text.split()).rstrip(".")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``<path>.lock`` (released by the OS on a crash)."""
    try:
        fd = os.open(path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:  # a read-only cache: nobody can write the entry, no lock needed
        yield False
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits while another process trains this key
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.bad-{stamp}-{os.getpid()}")
    os.replace(path, aside)
    return aside


def _write(path: Path, entry: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(entry, f)
        try:  # store only what the safe loader will read back
            _load(Path(tmp), entry["key"])
        except _BadEntry as err:
            raise TypeError(
                "train() must return tensors, dicts, lists, tuples, str, bytes, int, "
                f"float, bool or None, which weights_only=True loads; {err}"
            ) from None
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


def cached(name: str, settings: dict[str, Any], train: Callable[[], Any]) -> Any:
    """Return ``train()``'s result, computing it at most once per key.

    The entry is read with ``torch.load(weights_only=True)``, so a file planted
    in the cache cannot run code. An entry that is unreadable, cut short,
    refused by the safe loader or not a cache entry is moved aside (renamed
    ``<file>.bad-<time>-<pid>``, not deleted) with one :class:`CacheWarning`
    naming the file, and rebuilt. Two processes asking for one key at once
    train it once: the second waits on a lock file and loads the first's result.
    If the cache folder is read-only the result is kept in memory for this
    process, with one warning.

    Parameters
    ----------
    name : str
        Model name (see :func:`cache_key`).
    settings : dict
        Everything ``train`` depends on besides fmref's source.
    train : callable
        Called with no arguments on a cache miss. The code of fmref that its
        module runs enters the key (:func:`source_hash`), so an edit elsewhere
        retrains nothing; defined outside fmref (a gallery script), all of
        fmref enters. It returns tensors, dicts (state
        dicts included), lists, tuples, strings, numbers, booleans or ``None``,
        nested in any way: what ``torch.load(weights_only=True)`` reads back.

    Returns
    -------
    object
        The stored or freshly computed result.

    Raises
    ------
    TypeError
        If ``train()`` returns a type the safe loader refuses (nothing is stored).

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import cached
    >>> calls = []
    >>> def train():
    ...     calls.append(1)
    ...     return {"w": torch.ones(2)}
    >>> a = cached("doc-example", {"n": 2}, train)
    >>> b = cached("doc-example", {"n": 2}, train)
    >>> len(calls) <= 1, torch.equal(a["w"], b["w"])
    (True, True)
    """
    module = getattr(inspect.unwrap(train), "__module__", None)  # where the recipe lives
    key = cache_key(name, settings, module)
    if key in _MEMORY:
        return _MEMORY[key]
    try:
        path = cache_dir() / f"{key}.pt"
    except OSError as err:
        _warn(f"fmref.zoo: cannot create the cache folder ({err}); {name} is kept in memory")
        _MEMORY[key] = result = train()
        return result
    with contextlib.suppress(_BadEntry, FileNotFoundError):
        if path.exists():
            return _load(path, key)["result"]  # the common case: no lock needed
    with _locked(path) as writable:
        warned = False  # one warning per fault
        if path.exists():  # trained by another process meanwhile, or bad
            try:
                return _load(path, key)["result"]
            except _BadEntry as err:
                try:
                    where = f"moved it to {_move_aside(path).name} and retrained it"
                except OSError as move_err:
                    writable, warned = False, True
                    where = (
                        f"could not move it aside ({move_err.strerror or move_err}); "
                        "retrained it, kept in memory for this process"
                    )
                _warn(f"fmref.zoo: bad cache entry {path}: {err}; {where}")
        start = time.perf_counter()
        result = train()
        entry = {
            "format": FORMAT,
            "name": name,
            "key": key,
            "settings": settings,
            "module": module,
            "source": source_hash(module),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - start, 2),
            "result": result,
        }
        try:
            if not writable:
                raise PermissionError(errno.EACCES, "the folder is read-only")
            _write(path, entry)
        except OSError as err:
            if not warned:
                _warn(
                    f"fmref.zoo: cannot store {path} ({err.strerror or err}); "
                    "the result is kept in memory for this process"
                )
            _MEMORY[key] = result
    return result


def entries() -> list[dict[str, Any]]:
    """Every file of the cache folder, with what its header says.

    Returns
    -------
    list of dict
        One dict per ``.pt`` file, sorted by file name: ``file``, ``name``,
        ``key``, ``bytes``, ``created``, and ``current`` (True when the entry was
        trained under today's fmref code, False when stale, None when the file
        is bad: then ``error`` says why); plus one dict per file moved aside
        (``name`` is ``None``, ``error`` is ``"moved aside"``).

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import cached, entries
    >>> _ = cached("doc-entries", {"n": 1}, lambda: torch.zeros(3))
    >>> rows = [e for e in entries() if e["name"] == "doc-entries"]
    >>> any(e["current"] for e in rows), sorted(rows[0])[:4]
    (True, ['bytes', 'created', 'current', 'error'])
    """
    current: dict[Any, str] = {}  # module -> source hash
    rows = []
    folder = cache_dir()
    for path in sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pt.bad-*")):
        row = {"file": path.name, "bytes": path.stat().st_size, "name": None, "key": None}
        row.update(created=None, current=None, error=None)
        if path.suffix != ".pt":
            row["error"] = "moved aside"
        else:
            try:
                entry = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                if not isinstance(entry, dict) or entry.get("format") != FORMAT:
                    raise _BadEntry(f"not a cache entry of format {FORMAT}")
                row.update({k: entry.get(k) for k in ("name", "key", "created")})
                module = entry.get("module")
                if module not in current:
                    current[module] = source_hash(module)
                row["current"] = entry.get("source") == current[module]
            except Exception as err:  # reported, not raised: a listing must list
                row["error"] = " ".join(str(err).split())[:120]
        rows.append(row)
    return rows


def clear(names: list[str] | None = None) -> list[Path]:
    """Delete cache entries (all, or those of some model names) and their lock files.

    Parameters
    ----------
    names : list of str, optional
        Model names such as ``["tiny-gpt"]``; ``None`` deletes everything
        the cache holds, files moved aside included.

    Returns
    -------
    list of pathlib.Path
        The files deleted.

    Raises
    ------
    TypeError
        If ``names`` is not a list of strings.

    Examples
    --------
    >>> import torch
    >>> from fmref.zoo import cached, clear, entries
    >>> _ = cached("doc-clear", {"n": 1}, lambda: torch.zeros(3))
    >>> removed = clear(["doc-clear"])  # its entry and its lock file
    >>> sorted({p.suffix for p in removed}), [e for e in entries() if e["name"] == "doc-clear"]
    (['.lock', '.pt'], [])
    """
    if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
        raise TypeError(f"names must be a list of model names, got {names!r}")
    removed = []
    for path in sorted(cache_dir().iterdir()):
        match = _FILE.match(path.name)
        if path.is_file() and match and (names is None or match["name"] in names):
            path.unlink()
            removed.append(path)
    return removed


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
