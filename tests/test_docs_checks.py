"""The manual's own checks (docs/_ext/fmref_checks.py) catch what they claim to catch."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import fmref_checks  # noqa: E402
from docutils.core import publish_doctree  # noqa: E402
from docutils.parsers.rst import directives  # noqa: E402

directives.register_directive("notrun", fmref_checks.NotRun)

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
