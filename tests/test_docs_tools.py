"""The build's helper scripts: the LaTeX log check, the benchmark renderer, the a11y fixes."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import latex_log_check  # noqa: E402


def test_latex_log_check_finds_undefined_references_citations_and_glyphs(tmp_path):
    log = (
        "LaTeX Warning: Reference `chapters/05:foo' on page 12 undefined on input line 3.\n"
        "LaTeX Warning: Citation `vaswani2017attention' on page 3 undefined on input line 9.\n"
        "Missing character: There is no 中 (U+4E2D) in font FreeSerif:mode=node;!\n"
        "Output written on fmref.pdf (200 pages).\n"
    )
    assert len(latex_log_check.problems(log)) == 3
    path = tmp_path / "fmref.log"
    path.write_text(log)
    assert latex_log_check.main(["x", str(path)]) == 1
    path.write_text("Output written on fmref.pdf (200 pages).\n")
    assert latex_log_check.main(["x", str(path)]) == 0
    assert latex_log_check.main(["x"]) == 2


def test_benchmark_results_are_flattened_to_dotted_rows():

    pytest.importorskip("sphinx")
    import fmref_results

    rows = fmref_results.flatten({"a": {"b": 1.23456789, "c": [1, 2]}, "d": [{"e": "x"}]})
    assert rows == [("a.b", "1.235"), ("a.c", "1, 2"), ("d[0].e", "x")]


def test_a11y_names_the_sidebar_toggles_once_and_fixes_bibliography_roles():
    bs4 = pytest.importorskip("bs4")
    import fmref_a11y

    soup = bs4.BeautifulSoup(
        '<ul><li class="has-children"><a class="reference" href="x.html">Chapter\n V</a>'
        '<details><summary><span class="toctree-toggle" role="presentation"><i></i></span>'
        "</summary><ul><li>a</li></ul></details></li>"
        '<li><details><summary><p class="caption">Part</p></summary></details></li></ul>',
        "html.parser",
    )
    for _ in range(2):  # the theme caches its tree: naming twice must not add a second label
        fmref_a11y.name_toggles(soup)
    names = [s.get_text(" ", strip=True) for s in soup.select("summary")]
    assert names == ["Toggle navigation of Chapter V", "Part"]
    assert soup.select_one("summary .visually-hidden") is not None  # shown to AT, not to eyes
    body = '<div role="list" class="citation-list"><div class="citation" role="doc-biblioentry">'
    assert fmref_a11y.fix_body(body) == (
        '<div role="list" class="citation-list"><div class="citation" role="listitem">'
    )
