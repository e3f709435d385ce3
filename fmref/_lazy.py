"""Lazy exports of fmref's packages (PEP 562 ``__getattr__`` and ``__dir__``).

``from fmref.peft import LoRALinear`` works and ``fmref.nn`` resolves after a plain
``import fmref``, yet importing a package imports none of its modules: a name is
looked up in the modules' ``__all__`` lists, read from their source without importing
them, and only the module that defines it is imported, on first use. Each name keeps
its module path too (``fmref.peft.lora.LoRALinear`` is the same object).

A name that two modules of one package export (``fmref.train.loop.train`` and
``fmref.train.distributed.train``) is not exported by the package: asking for it
raises an :class:`AttributeError` that names both homes. A name that is also a
module's name (``fmref.infer.generate``) is the module, as Python's import system
makes it once the module is imported; import the function from the module.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable


def submodules(package: str, path: Iterable[str]) -> list[str]:
    """Public modules and subpackages of a package (no leading underscore), sorted."""
    return sorted(info.name for info in pkgutil.iter_modules(list(path)) if not info.name[0] == "_")


def _static_all(modname: str) -> list[str] | None:
    """The module's ``__all__`` read from its source, or None when it is not a literal."""
    spec = importlib.util.find_spec(modname)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=spec.origin)
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            try:
                names = ast.literal_eval(value)
            except ValueError:
                return None
            return [str(n) for n in names]
    return []


def module_all(modname: str) -> list[str]:
    """A module's public names (its ``__all__``), without importing it when the list is literal."""
    names = _static_all(modname)
    if names is None:
        names = list(getattr(importlib.import_module(modname), "__all__", []))
    return names


def exports(package: str, path: Iterable[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Map each name the package's modules export to its module; and the ambiguous names.

    Returns
    -------
    tuple of (dict, dict)
        ``{name: module}`` for names that exactly one module exports, and
        ``{name: [module, ...]}`` for names that several export.
    """
    homes: dict[str, list[str]] = {}
    subs = submodules(package, path)
    for sub in subs:
        modname = f"{package}.{sub}"
        for name in module_all(modname):
            if not name.startswith("_") and name not in subs:
                homes.setdefault(name, []).append(modname)
    unique = {name: mods[0] for name, mods in homes.items() if len(mods) == 1}
    ambiguous = {name: mods for name, mods in homes.items() if len(mods) > 1}
    return unique, ambiguous


def attach(
    package: str, path: Iterable[str], *, names: bool = True
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package that exports its modules' names lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    path : iterable of str
        The package's ``__path__``.
    names : bool
        Export the names in the modules' ``__all__`` (True), or only the submodules.

    Returns
    -------
    tuple of callables
        The package's ``__getattr__`` and ``__dir__``.

    Examples
    --------
    >>> import fmref.peft, sys
    >>> "LoRALinear" in dir(fmref.peft)
    True
    >>> from fmref.peft import LoRALinear
    >>> LoRALinear is sys.modules["fmref.peft.lora"].LoRALinear
    True
    """
    path = list(path)
    subs = submodules(package, path)
    cache: dict[str, tuple[dict[str, str], dict[str, list[str]]]] = {}

    def table() -> tuple[dict[str, str], dict[str, list[str]]]:
        if "t" not in cache:
            cache["t"] = exports(package, path) if names else ({}, {})
        return cache["t"]

    def __getattr__(name: str) -> object:
        if name in subs:
            return importlib.import_module(f"{package}.{name}")
        if names and not name.startswith("__"):
            unique, ambiguous = table()
            if name in unique:
                return getattr(importlib.import_module(unique[name]), name)
            if name in ambiguous:
                homes = " and ".join(f"{m}.{name}" for m in ambiguous[name])
                raise AttributeError(
                    f"{package} does not export {name!r}: several modules define it; "
                    f"import {homes}"
                )
        if name == "__all__" and names:
            return sorted(table()[0])
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        import sys

        own = [n for n in vars(sys.modules[package]) if not n.startswith("_")]
        return sorted(set(own) | set(subs) | set(table()[0]))

    return __getattr__, __dir__
