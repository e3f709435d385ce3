"""The manual's build fails, naming the file and line, on a broken reference,
a broken citation, or a chapter that lacks what the manual checks require.

Each test builds a two-page Sphinx project in a temporary folder with the same
flags as ``tox -e docs`` (``-n -W --keep-going``) and the manual's own checks
extension.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "docs" / "_ext"

CONF = f"""
import sys
sys.path[:0] = [{str(EXT)!r}, {str(ROOT)!r}]
extensions = ["sphinxcontrib.bibtex", "fmref_checks"]
bibtex_bibfiles = ["refs.bib"]
in_progress = []
exclude_patterns = ["_build"]
"""

BIB = """@article{known2020,
  title = {A Known Paper}, author = {Known, Ann}, journal = {J}, year = {2020}
}
"""


def build(tmp_path: Path, chapter: str) -> subprocess.CompletedProcess:
    src = tmp_path / "src"
    (src / "chapters").mkdir(parents=True)
    (src / "conf.py").write_text(CONF)
    (src / "refs.bib").write_text(BIB)
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   chapters/01-x\n")
    (src / "chapters" / "01-x.rst").write_text(chapter)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-n",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(src),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_broken_reference_fails_with_file_and_line(tmp_path):
    result = build(tmp_path, "Title\n=====\n\nSee :ref:`no-such-label`.\n")
    assert result.returncode != 0
    assert "01-x.rst:4" in result.stderr and "no-such-label" in result.stderr


def test_broken_citation_fails_with_file_and_line(tmp_path):
    result = build(tmp_path, "Title\n=====\n\nAs shown :cite:p:`unknown1999`.\n")
    assert result.returncode != 0
    assert "01-x.rst:4" in result.stderr and "unknown1999" in result.stderr


def test_incomplete_chapter_fails_the_manual_checks(tmp_path):
    result = build(
        tmp_path,
        "Title\n=====\n\nToo short, cites :cite:p:`known2020`.\n\n"
        ".. bibliography::\n   :filter: docname in docnames\n",
    )
    assert result.returncode != 0
    assert "chapters/01-x" in result.stderr
    assert "chapter check failed: no figure" in result.stderr
    assert "no section titled 'Quiz'" in result.stderr
