"""The build's helper scripts: the LaTeX log check and the benchmark renderer."""

import sys
from pathlib import Path

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
    import fmref_results

    rows = fmref_results.flatten({"a": {"b": 1.23456789, "c": [1, 2]}, "d": [{"e": "x"}]})
    assert rows == [("a.b", "1.235"), ("a.c", "1, 2"), ("d[0].e", "x")]


KV_RESULT = {  # the shape benchmarks/kv_cache.py saves, with made-up numbers
    "what": "greedy generation",
    "model": {"n_layer": 2, "n_embd": 8, "n_head": 2, "parameters": 1234},
    "results": [
        {
            "new_tokens": 8,
            "cached_cpu_s": 0.1,
            "uncached_cpu_s": 0.3,
            "cached_ms_per_token": 12.5,
            "uncached_ms_per_token": 37.5,
            "speedup": 3.0,
            "wall_speedup": 2.0,
        },
        {
            "new_tokens": 16,
            "cached_cpu_s": 0.2,
            "uncached_cpu_s": 1.2,
            "cached_ms_per_token": 12.5,
            "uncached_ms_per_token": 75.0,
            "speedup": 6.0,
            "wall_speedup": 5.5,
        },
    ],
}


def test_benchmark_table_has_one_row_per_setting_and_columns_with_units():
    import pytest

    pytest.importorskip("sphinx")
    import fmref_results

    header, rows = fmref_results.table_rows(fmref_results.SPECS["kv_cache"], KV_RESULT)
    assert header[:3] == [
        "new tokens",
        "with cache (CPU ms per token)",
        "without cache (CPU ms per token)",
    ]
    assert rows == [
        ["8", "12.5", "37.5", "0.10", "0.30", "3.0", "2.0"],
        ["16", "12.5", "75.0", "0.20", "1.20", "6.0", "5.5"],
    ]
    scalars = fmref_results.scalar_rows(fmref_results.SPECS["kv_cache"], KV_RESULT)
    assert scalars == [["model (layers × width, heads)", "2 × 8, 2"], ["parameters", "1,234"]]


def test_every_saved_result_renders_with_its_spec():
    import pytest

    pytest.importorskip("sphinx")
    import fmref_results

    from fmref import results

    for name in results.names():
        spec = fmref_results.SPECS[name]
        data = results.load(name)
        for _, columns in [("main", spec.columns), *spec.more_tables]:
            header, rows = fmref_results.table_rows(spec, data, columns)
            assert len(rows) == len(spec.rows(data)) >= 2, name
            assert all(len(r) == len(header) <= 8 for r in rows), name  # fits a PDF page
            assert len(set(header)) == len(header) and all(header), name
        assert len(fmref_results.scalar_rows(spec, data)) == len(spec.scalars)


def test_machine_sentence_names_the_load_and_flags_a_busy_machine():
    import pytest

    pytest.importorskip("sphinx")
    from fmref_results import machine_sentence

    machine = {
        "cpu": "AMD EPYC",
        "cores": 2,
        "torch_threads": 1,
        "torch": "2.13.0+cpu",
        "python": "3.11.7",
        "date": "2026-11-23 12:36 UTC",
        "load_average_1min": 16.47,
    }
    busy = machine_sentence(machine, max_load=1.0)
    assert busy.startswith("Measured on AMD EPYC, 2 cores, 1 torch thread, torch 2.13.0, ")
    assert "1-minute load average 16.47, above 1.0: the machine was busy" in busy
    idle = machine_sentence({**machine, "load_average_1min": 0.3}, max_load=1.0)
    assert idle.endswith("2026-11-23 12:36 UTC; 1-minute load average 0.3.")
    assert "not recorded" in machine_sentence({"cpu": "x"}, max_load=1.0)
    forced = machine_sentence({**machine, "max_load": 20, "forced": True})
    assert "busy" not in forced and forced.endswith("(saved with --force).")
    assert machine_sentence(None) == "The machine it was measured on was not recorded."


def test_benchmark_plot_is_a_png_with_the_numbers_in_its_alt_text(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    pytest.importorskip("sphinx")
    import fmref_results

    spec = fmref_results.SPECS["kv_cache"]
    path = tmp_path / "kv.png"
    alt = fmref_results.draw(spec, KV_RESULT, spec.plots[0], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert alt == (
        "Line plot of CPU ms per generated token against new tokens. "
        "without cache: 37.5 at 8, 75 at 16; with cache: 12.5 at 8, 12.5 at 16."
    )
    stamp = path.stat().st_mtime_ns
    fmref_results.draw(spec, KV_RESULT, spec.plots[0], path)  # same bytes: not rewritten
    assert path.stat().st_mtime_ns == stamp


def test_benchmark_directive_builds_tables_plots_and_machine_in_html(tmp_path):
    import pytest

    pytest.importorskip("sphinx")
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        "extensions = ['fmref_results']\n"
    )
    (src / "index.rst").write_text("Results\n=======\n\n.. fmref-benchmark::\n")
    with docutils_namespace():  # unregisters its nodes afterwards, as sphinx-build does
        app = Sphinx(
            src,
            src,
            tmp_path / "html",
            tmp_path / "doctrees",
            "html",
            status=None,
            warning=None,
            freshenv=True,
        )
        app.build()
    html = (tmp_path / "html" / "index.html").read_text()
    from fmref import results

    assert html.count('class="fmref-benchmark') >= 2 * len(results.names())
    assert '<th class="head"><p>sequence length N</p></th>' in html
    assert html.count("<img") == len(results.names())
    assert 'alt="Line plot of extra peak memory (MiB) against sequence length N.' in html
    load = results.load("attention_memory")["machine"]["load_average_1min"]
    assert "Measured on " in html and f"1-minute load average {load}" in html
    assert app.statuscode == 0


def test_gallery_sections_follow_the_manual_chapter_i_first_appendices_last():
    import fmref_gallery

    folders = [p.name for p in (ROOT / "gallery").iterdir() if p.is_dir()]
    order = sorted(folders, key=lambda f: fmref_gallery.manual_order(f"../gallery/{f}"))
    assert order[0] == "llm"  # Chapter I shows its parameter breakdown
    assert order.index("language_models") < order.index("attention") < order.index("vit")
    assert order[-2:] == ["foundations", "evaluation"]  # Appendix A, then B and C
    assert fmref_gallery.first_use("no_such_folder") == len(fmref_gallery._reading_order())


def test_a11y_names_the_sidebar_toggles_once_and_fixes_bibliography_roles():
    import pytest

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
