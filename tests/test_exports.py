"""fmref's packages: lazy exports (PEP 562), and docstrings that list every module."""

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import textwrap

import pytest

import fmref
from fmref import _lazy

PACKAGES = sorted(
    f"fmref.{info.name}" for info in pkgutil.iter_modules(fmref.__path__) if info.ispkg
    and not info.name.startswith("_")
)
TOP_MODULES = sorted(
    f"fmref.{info.name}" for info in pkgutil.iter_modules(fmref.__path__)
    if not info.name.startswith("_")
)


def _exported(package: str) -> list[tuple[str, str]]:
    """(name, module) of every name the package exports lazily from its modules."""
    pkg = importlib.import_module(package)
    return sorted(_lazy.exports(package, pkg.__path__)[0].items())


# packages whose public names live in their __init__ (no public modules to export from)
FLAT = [p for p in PACKAGES if not _lazy.submodules(p, importlib.import_module(p).__path__)]


def test_fmref_docstring_maps_every_chapter_to_its_subpackages():
    doc = fmref.__doc__
    mentioned = set(re.findall(r":mod:`(fmref\.\w+)`", doc))
    assert mentioned == set(TOP_MODULES), set(TOP_MODULES) ^ mentioned
    numerals = re.findall(r"^([IVX]+|App\. [ABC])\s", doc, re.M)
    assert len(numerals) == 25, numerals  # 22 chapters and 3 appendices, one row each


@pytest.mark.parametrize("package", PACKAGES)
def test_package_docstring_lists_every_module(package):
    pkg = importlib.import_module(package)
    modules = {f"{package}.{name}" for name in _lazy.submodules(package, pkg.__path__)}
    listed = set(re.findall(rf":mod:`~?({re.escape(package)}\.\w+)`", pkg.__doc__))
    assert listed == modules, f"missing from the docstring: {sorted(modules - listed)}; " \
        f"not modules: {sorted(listed - modules)}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_documented_and_importable_both_ways(package):
    pkg = importlib.import_module(package)
    exported = _exported(package)
    assert bool(exported) == (package not in FLAT), f"{package} exports nothing"
    for name, modname in exported:
        module = importlib.import_module(modname)
        # the module lists it, so the API appendix documents it on the module's page
        assert name in module.__all__
        via_package = getattr(pkg, name)
        assert via_package is getattr(module, name)
        namespace = {}
        exec(f"from {package} import {name} as a\nfrom {modname} import {name} as b", namespace)
        assert namespace["a"] is namespace["b"]
        assert name in dir(pkg)
        if inspect.isclass(via_package) or inspect.isfunction(via_package):
            assert ">>>" in (inspect.getdoc(via_package) or ""), f"{modname}.{name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_source_read_all_equals_the_imported_all(package):
    # the lazy table reads __all__ from the source; it must agree with the module's own list
    pkg = importlib.import_module(package)
    for sub in _lazy.submodules(package, pkg.__path__):
        modname = f"{package}.{sub}"
        module = importlib.import_module(modname)
        assert _lazy.module_all(modname) == list(getattr(module, "__all__", [])), modname


def test_subpackages_resolve_from_a_plain_import_without_importing_their_modules():
    code = textwrap.dedent(
        """
        import sys
        import fmref
        import fmref.rag
        assert "torch" not in sys.modules, "import fmref.rag imported torch"
        assert not [m for m in sys.modules if m.startswith("fmref.rag.")]
        print(sorted(m for m in sys.modules if m.startswith("fmref")))
        print(fmref.nn.__name__, "nn" in dir(fmref))
        from fmref.eval import pass_at_k  # imports fmref.eval.passk alone, which needs no torch
        print(pass_at_k.__module__, [m for m in sys.modules if m.startswith("fmref.eval.")])
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "['fmref', 'fmref._lazy', 'fmref.rag']",
        "fmref.nn True",
        "fmref.eval.passk ['fmref.eval.passk']",
        "False",
    ]
    assert fmref.__getattr__("nn") is sys.modules["fmref.nn"]


def test_star_import_gives_the_package_exports():
    namespace = {}
    exec("from fmref.peft import *", namespace)
    assert {"LoRALinear", "apply_lora", "merge_lora"} <= set(namespace)
    assert set(namespace) - {"__builtins__"} == set(importlib.import_module("fmref.peft").__all__)


def test_unknown_and_ambiguous_names_raise_attribute_errors():
    with pytest.raises(AttributeError, match="'fmref.peft' has no attribute 'LoraLinear'"):
        fmref.peft.LoraLinear  # noqa: B018
    with pytest.raises(AttributeError, match="'fmref' has no attribute 'peft2'"):
        fmref.peft2  # noqa: B018
    with pytest.raises(AttributeError, match="'fmref.peft' has no attribute '__wrapped__'"):
        fmref.peft.__wrapped__  # noqa: B018


def test_ambiguous_names_name_every_home(tmp_path, monkeypatch):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from fmref._lazy import attach\n__getattr__, __dir__ = attach(__name__, __path__)\n"
    )
    (pkg / "a.py").write_text("__all__ = ['f', 'g']\ndef f(): 'a'\ndef g(): 'a'\n")
    (pkg / "b.py").write_text("__all__: list[str] = ['g']\ndef g(): 'b'\n")
    (pkg / "c.py").write_text("NAMES = ['h']\n__all__ = NAMES + []\ndef h(): 'c'\n")
    (pkg / "d.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazypkg

    assert lazypkg.f.__doc__ == "a"
    assert lazypkg.h.__doc__ == "c"  # __all__ that is not a literal: the module is imported
    assert lazypkg.__all__ == ["f", "h"]
    assert _lazy.module_all("lazypkg.d") == []
    with pytest.raises(AttributeError, match=r"import lazypkg\.a\.g and lazypkg\.b\.g"):
        lazypkg.g  # noqa: B018
    assert _lazy._static_all("sys") is None  # a built-in module has no source
