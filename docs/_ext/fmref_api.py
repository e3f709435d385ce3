"""Write the API appendix (docs/api/) from fmref's modules and their ``__all__``.

Every public module of fmref gets one page: its docstring, then every name in its
``__all__`` (autodoc, numpydoc), then the gallery examples that use those names
(``.. minigallery::``). Pages are rewritten only when their text changes, so a
no-op rebuild stays a no-op.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import fmref


def public_modules() -> list[str]:
    """Names of fmref's public modules (no part starts with an underscore), sorted."""
    names = ["fmref"]
    for info in pkgutil.walk_packages(fmref.__path__, prefix="fmref."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def public_names(modname: str) -> list[str]:
    """The module's own ``__all__`` (empty when it has none).

    A package's lazy exports (``fmref._lazy``) are documented on their modules' pages,
    so only an ``__all__`` the package defines itself counts here.
    """
    module = importlib.import_module(modname)
    return list(vars(module).get("__all__", []))


def _page(modname: str) -> str:
    module = importlib.import_module(modname)
    names = [n for n in public_names(modname) if not n.startswith("__")]
    lines = [f".. _api-{modname}:", "", f"``{modname}``", "=" * (len(modname) + 4), ""]
    lines += [f".. automodule:: {modname}", "   :no-members:", ""]
    if names:
        lines += [".. rubric:: Contents", "", f".. currentmodule:: {modname}", ""]
        lines += [".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {n}" for n in names] + [""]
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, type):
            lines += [f".. autoclass:: {modname}.{name}", "   :members:", ""]
        elif callable(obj):
            lines += [f".. autofunction:: {modname}.{name}", ""]
        else:
            lines += [f".. autodata:: {modname}.{name}", "   :annotation:", ""]
    if names:
        targets = " ".join(f"{modname}.{n}" for n in names)
        lines += [
            f".. minigallery:: {targets}",
            "   :add-heading: Gallery examples using this module",
            "",
        ]
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages(app) -> None:
    """``builder-inited`` hook: (re)write docs/api/*.rst."""
    api = Path(app.srcdir) / "api"
    api.mkdir(exist_ok=True)
    modules = public_modules()
    wanted = {f"{m}.rst" for m in modules} | {"index.rst"}
    for stale in api.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for modname in modules:
        _write_if_changed(api / f"{modname}.rst", _page(modname))
    index = [
        ".. _api:",
        "",
        "API appendix",
        "============",
        "",
        "Every public module of the :mod:`fmref` package, generated from the code.",
        "Each object's *Examples* are doctested by pytest and by the manual's build;",
        "the chapters link here, and each page lists the gallery examples that use",
        "its objects.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ] + [f"   {m}" for m in modules]
    _write_if_changed(api / "index.rst", "\n".join(index) + "\n")


def setup(app):
    app.connect("builder-inited", write_api_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
