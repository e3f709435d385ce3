"""Packaging as a packager reads it: required test dependencies, metadata, pinned build tools.

``tox -e install`` (tools/install_check.py) builds the sdist and the wheel, installs fmref
non-editable and runs the manual's doctests; these tests check what can be read without
building, and run from the unpacked sdist too.
"""

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


def test_every_dependency_of_the_test_extra_is_installed():
    # the test extra is required, not optional: a missing one fails tox -e py here, by name,
    # instead of silently skipping the tests that need it
    missing = []
    for spec in PYPROJECT["project"]["optional-dependencies"]["test"]:
        name = Requirement(spec).name
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    assert not missing, f'pip install -c constraints.txt ".[test]" (missing: {missing})'


def test_the_build_backend_reads_the_spdx_licence_and_is_pinned():
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    # PEP 639's license expression (license = "MIT") needs setuptools 77 or later
    assert not setuptools.specifier.contains("76.1")
    pins = _pins()
    assert setuptools.specifier.contains(pins["setuptools"]), pins["setuptools"]
    assert {"build", "pyproject-hooks"} <= set(pins)
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_metadata_has_classifiers_keywords_and_one_url_base():
    project = PYPROJECT["project"]
    python = SpecifierSet(project["requires-python"])
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]  # fmt: skip
    assert versions and all(python.contains(f"{v}.0") for v in versions)
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    cff_keywords = re.findall(r"^  - (.+)$", citation.split("keywords:", 1)[1], re.M)
    assert set(cff_keywords) <= set(project["keywords"])
    assert re.search(rf"^version: {re.escape(project['version'])}$", citation, re.M)
    urls = project["urls"].values()
    assert {"Homepage", "Documentation", "Source"} <= set(project["urls"])
    assert all(u.startswith(project["urls"]["Homepage"]) for u in urls)


def test_the_sdist_manifest_ships_conftest_and_the_tests():
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").split()
    assert "conftest.py" in manifest and "tests" in manifest and "docs" in manifest
