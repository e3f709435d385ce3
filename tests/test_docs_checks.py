"""The manual's own checks (docs/_ext/fmref_checks.py) catch what they claim to catch."""

import doctest
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import fmref_checks  # noqa: E402
from docutils.core import publish_doctree  # noqa: E402
from docutils.parsers.rst import directives  # noqa: E402

GOOD = """
Title
=====

{prose}

>>> 1 + 1
2

>>> 2 + 2
4

Key takeaways
-------------

>>> 3
3

Quiz
----

>>> 4
4

Exercises
---------

>>> 5
5
"""


def stats_of(text):
    # registered at each call, not once at import: a Sphinx test app built earlier in the same
    # process (tests/test_widgets_data.py) leaves docutils' directives without it
    directives.register_directive("notrun", fmref_checks.NotRun)
    return fmref_checks.doc_stats(publish_doctree(text, settings_overrides={"report_level": 5}))


def test_words_count_prose_but_not_code():
    stats = stats_of("Title\n=====\n\nOne two three four.\n\n>>> alpha = 'beta gamma delta'\n")
    assert stats["words"] == 5  # "Title" + four words; the doctest is not prose
    assert stats["doctests"] == 1


def test_chapter_without_figure_or_citation_fails_with_reasons():
    stats = stats_of(GOOD.format(prose="word " * 1600))
    problems = fmref_checks.chapter_problems(stats)
    assert problems == ["no figure", "no citation"]


def test_short_chapter_and_missing_sections_are_reported():
    stats = stats_of("Title\n=====\n\nToo short.\n")
    problems = " | ".join(fmref_checks.chapter_problems(stats))
    assert "words of prose (at least 1500)" in problems
    assert "doctested snippets (at least 5)" in problems
    for name in ("Key takeaways", "Quiz", "Exercises"):
        assert f"no section titled {name!r}" in problems


def test_exercises_without_doctest_fail():
    text = GOOD.format(prose="word " * 1600).replace(">>> 5\n5\n", "Do it yourself.\n")
    stats = stats_of(text)
    assert "no doctested solution in 'Exercises'" in fmref_checks.chapter_problems(stats)


def test_untested_python_block_is_flagged_and_notrun_is_counted():
    text = (
        "T\n=\n\n.. code-block:: python\n\n   x = 1\n\n"
        ".. notrun:: needs a GPU\n\n   y = 2\n\n.. code-block:: bash\n\n   ls\n"
    )
    stats = stats_of(text)
    assert len(stats["untested"]) == 1
    assert stats["notrun"] == ["needs a GPU"]


def test_parse_doctest_output_counts_tests_and_failures():
    text = (
        "Results of doctest builder run on 2026-11-23\n\n"
        "Document: chapters/05-x\n-----------------------\n"
        "1 items passed all tests:\n  12 tests in default\n12 tests in 1 items.\n12 passed.\n\n"
        "Document: chapters/06-y\n-----------------------\n"
        "**********************************************************************\n"
        "1 items had failures:\n   1 of   3 in default\n3 tests in 1 items.\n2 passed.\n"
        "***Test Failed*** 1 failure.\n"
    )
    assert fmref_checks.parse_doctest_output(text) == {
        "chapters/05-x": (12, 0),
        "chapters/06-y": (3, 1),
    }


def test_plain_references_turns_uncited_entries_into_a_list():
    lines = ["References", "----------", ".. [1] Su et al., RoFormer,", "       2021.", "", "Text"]
    fmref_checks.plain_references(None, "function", "f", None, {}, lines)
    assert lines == [
        "References",
        "----------",
        "- [1] Su et al., RoFormer,",
        "  2021.",
        "",
        "Text",
    ]


def test_plain_references_keeps_real_citations():
    lines = ["As shown in [1]_.", "", ".. [1] Su et al."]
    fmref_checks.plain_references(None, "function", "f", None, {}, list(lines))
    kept = list(lines)
    fmref_checks.plain_references(None, "function", "f", None, {}, kept)
    assert kept == lines


def test_ellipsis_hiding_digits_is_found_and_addresses_timings_text_are_not():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert fmref_checks.elided_digits("('0.0...', '0.00...')", "('0.0123', '0.0045')", flags) == [
        "123",
        "45",
    ]
    assert fmref_checks.elided_digits("TTFT ... s", "TTFT  0.25 s", flags) == ["0.25"]
    assert fmref_checks.elided_digits("<Foo at 0x...>", "<Foo at 0x7f3a9c>", flags) == []
    assert fmref_checks.elided_digits("Answer: ...", "Answer: Paris", flags) == []
    assert fmref_checks.elided_digits("3...x", "3.4x", flags | fmref_checks.VARIES) == []
    assert fmref_checks.elided_digits("3...x", "3.4x", doctest.NORMALIZE_WHITESPACE) == []
    assert fmref_checks.elided_digits("3...x", "nothing like it", flags) == []


def test_elision_checker_records_what_a_chapter_doctest_hides():
    found = []
    checker = fmref_checks.DigitElisionChecker("chapters/14-x", found)
    runner = doctest.DocTestRunner(checker=checker, optionflags=doctest.ELLIPSIS)
    text = (
        ">>> print(f'{2/3:.4f}')\n0.66...\n"
        ">>> print('12.5x faster')  # doctest: +VARIES\n1...x faster\n"
        ">>> print('x' * 3)\nxxx\n"
    )
    test = doctest.DocTestParser().get_doctest(text, {}, "t", "t.rst", 0)
    runner.run(test, out=lambda s: None)
    assert runner.failures == 0
    assert found == [("chapters/14-x", "0.66...", ["67"], "0.6667\n")]
    other = fmref_checks.DigitElisionChecker("api/fmref.x", [])
    assert other.check_output("0.66...", "0.6667\n", doctest.ELLIPSIS) and other.found == []


TAKEAWAYS = """
Title
=====

Key takeaways
-------------

* The :term:`KV cache` grows with **GQA** heads and :term:`speed <TTFT>`.
* Nothing marked here.

Quiz
----
"""


def test_takeaway_terms_are_marked_and_must_be_defined_or_indexed():
    from docutils.nodes import Text
    from docutils.parsers.rst import roles
    from sphinx import addnodes

    def term_role(name, rawtext, text, lineno, inliner, options=None, content=None):
        title, _, target = text.partition(" <")
        node = addnodes.pending_xref(
            rawtext, reftype="term", reftarget=(target or title).rstrip(">").lower()
        )
        node += Text(title)
        return [node], []

    roles.register_local_role("term", term_role)
    stats = stats_of(TAKEAWAYS)
    assert stats["takeaway_terms"] == ["kv cache", "gqa", "ttft"]
    assert stats["unmarked_takeaways"] == ["Nothing marked here."]
    indexed = fmref_checks.index_names(
        [("single", "grouped-query attention; GQA", "id1", "", None)]
    )
    assert indexed == {"grouped-query attention", "gqa", "grouped-query attention gqa"}
    problems = fmref_checks.takeaway_problems(stats, {"kv cache"}, indexed)
    assert problems == [
        "a Key takeaways bullet marks no term: 'Nothing marked here.'",
        "Key takeaways term 'ttft' has no glossary or index entry",
    ]


def test_ignore_exception_detail_in_a_chapter_is_reported():
    text = (
        "T\n=\n\n>>> int('x')  # doctest: +IGNORE_EXCEPTION_DETAIL\n"
        "Traceback (most recent call last):\nValueError: no\n"
    )
    stats = stats_of(text)
    assert len(stats["ignore_exception_detail"]) == 1
    assert "IGNORE_EXCEPTION_DETAIL" in fmref_checks.takeaway_problems(stats, set(), set())[0]


def test_doctest_builder_warns_when_a_chapter_output_hides_digits(tmp_path, monkeypatch):
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    monkeypatch.setattr(fmref_checks, "api_problems", lambda py_objects: [])
    src = tmp_path / "src"
    (src / "chapters").mkdir(parents=True)
    (src / "conf.py").write_text(
        "extensions = ['sphinx.ext.doctest', 'fmref_checks']\n"
        "import doctest\n"
        "doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE\n"
    )
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   chapters/x\n")
    (src / "chapters" / "x.rst").write_text(
        "X\n=\n\n>>> print(2 / 3)\n0.66...\n\n"
        ">>> print('3.5x faster')  # doctest: +VARIES\n3...x faster\n"
    )
    warnings = []

    class Sink:
        def write(self, text):
            warnings.append(text)

        def flush(self):
            pass

    # docutils_namespace: the nodes and directives this app registers are removed when it is
    # done (as sphinx-build does), so a later Sphinx app in the same process warns about none
    with docutils_namespace():
        app = Sphinx(
            str(src),
            str(src),
            str(tmp_path / "out"),
            str(tmp_path / "doctrees"),
            "doctest",
            status=None,
            warning=Sink(),
            freshenv=True,
        )
        app.build()
    text = "".join(warnings)
    assert "doctest output '0.66...' hides the digits" in text
    assert "3.5x" not in text  # the timing marked +VARIES may elide its digits
