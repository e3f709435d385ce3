"""Checks of the built PDF manual (run by ``tox -e pdf``; skipped without ``--pdf``).

pdftotext and pdftoppm come from Debian's poppler-utils.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


@pytest.fixture(scope="module")
def pdf(request):
    path = request.config.getoption("--pdf")
    if not path:
        pytest.skip("no --pdf given (tox -e pdf passes the built manual)")
    path = Path(path)
    assert path.is_file(), f"{path} was not built"
    return path


@pytest.fixture(scope="module")
def pages(pdf):
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return text.split("\f")


def chapters_present() -> int:
    docs = Path(__file__).resolve().parents[1] / "docs" / "chapters"
    return len(list(docs.glob("[0-9][0-9]-*.rst")))


def test_page_count_is_plausible_for_the_chapters_present(pages):
    # every chapter starts on a new page; the API appendix and front matter add more
    assert len(pages) >= chapters_present() + 5
    assert len(pages) < 3000


def test_title_page_and_a_chapter_heading_are_there(pages):
    title = " ".join(" ".join(pages[:2]).split())  # the title wraps across lines
    assert "Foundation Model Engineering, a Reference" in title
    assert "PyTorch" in title  # the build stamp (conf.py's ``today``)
    # each chapter is a top-level LaTeX chapter (never "2.7. Chapter V. ..."), and
    # LaTeX numbers nothing: the titles carry the manual's own numbers, so no
    # "CHAPTER SEVEN" above Chapter V (the preface and notation would shift it)
    # and no "CHAPTER 7." in a running header
    body = "\n".join(pages)
    assert re.search(r"Chapter V\.\s+Self-Attention and Transformers", body)
    assert not re.search(r"^\s*\d+\.\d+\.?\s+Chapter V\.", body, re.M)
    assert not re.search(r"^\s*CHAPTER\s+[A-Z]+\s*$", body, re.M)
    assert not re.search(r"CHAPTER\s+\d+", body)


def test_no_broken_reference_marks(pages):
    broken = [i + 1 for i, page in enumerate(pages) if "??" in page]
    assert broken == [], f"'??' from a broken reference on pages {broken}"


def test_first_pages_render(pdf, tmp_path):
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "3", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    rendered = sorted(tmp_path.glob("page-*.png"))
    assert len(rendered) == 3
    assert all(p.stat().st_size > 1000 for p in rendered)
