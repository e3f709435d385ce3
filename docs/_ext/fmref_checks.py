"""The manual's completeness checks, as a Sphinx extension and as a script.

As an extension (loaded by docs/conf.py) it reads every doctree and fails the
build, through Sphinx warnings, when:

* a Python code block in a chapter or in the API appendix is not doctested and
  is not wrapped in ``.. notrun:: <reason>`` (such blocks are counted and listed);
* a chapter has fewer than 1,500 words of prose, fewer than 5 doctested
  snippets, no figure, no citation, or lacks the sections "Key takeaways",
  "Quiz" and "Exercises", or its exercises have no doctested solution;
* a public fmref name (in a module's ``__all__``) is missing from the API
  appendix, or a public function or class has no doctested Examples section;
* a chapter's doctest uses ``IGNORE_EXCEPTION_DETAIL`` (an error message shown
  to the reader is checked exactly);
* a term that a "Key takeaways" list marks (a ``:term:`` role or **bold**) has
  neither a glossary entry nor an index entry in the manual.

As part of the doctest builder it fails the build when an ``...`` (ELLIPSIS) in
a chapter's expected output hides text that contains a digit: a doctest shows
the numbers it computes. Two elisions stay legitimate: a memory address (the
``...`` follows ``0x``) and output that varies from run to run by nature, such
as a wall-clock timing, which the example marks with ``# doctest: +VARIES``
(a flag this extension registers; the prose says what varies).

Chapters listed in ``in_progress`` (docs/conf.py) are reported, not failed. At the
end of the HTML build it prints a table (chapter, words, doctested snippets,
figures, citations, untested blocks) and saves it as ``_fmref_checks.json`` in the
output folder.

As a script, run after the doctest builder, it checks that every chapter with
doctested snippets was really run by that builder, with no failure::

    python docs/_ext/fmref_checks.py --doctest-output docs/_build/doctest/output.txt \
        --stats docs/_build/html/_fmref_checks.json
"""

from __future__ import annotations

import argparse
import doctest
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

MIN_WORDS = 1500
MIN_DOCTESTS = 5
REQUIRED_SECTIONS = ("Key takeaways", "Quiz", "Exercises")
PY_LANGS = {"python", "python3", "py", "pycon", "py3", "ipython", "ipython3", "default"}
SKIP_TEXT = (
    nodes.literal_block,
    nodes.doctest_block,
    nodes.literal,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.comment,
    nodes.citation,
    nodes.footnote,
)


# -----------------------------------------------------------------------------
# The ``notrun`` directive: the one way to show Python that is not executed
# -----------------------------------------------------------------------------
class notrun_node(nodes.General, nodes.Element):
    """Container of a deliberately untested Python block."""


def visit_notrun(self, node):
    self.body.append(self.starttag(node, "div", CLASS="fmref-notrun"))


def depart_notrun(self, node):
    self.body.append("</div>\n")


def visit_notrun_latex(self, node):
    pass


def depart_notrun_latex(self, node):
    pass


class NotRun(Directive):
    """``.. notrun:: <reason>`` followed by an indented Python block.

    The block is shown highlighted as Python with a line that says why it is not
    run (it needs a GPU, a network, many processes ...). The manual checks count
    and list every such block.
    """

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {"language": directives.unchanged}

    def run(self):
        reason = self.arguments[0]
        code = "\n".join(self.content)
        literal = nodes.literal_block(code, code)
        literal["language"] = self.options.get("language", "python")
        literal["fmref_notrun"] = reason
        note = nodes.paragraph("", "", nodes.emphasis("", f"Not run: {reason}"))
        note["classes"].append("fmref-notrun-reason")
        container = notrun_node()
        container += [note, literal]
        return [container]


# -----------------------------------------------------------------------------
# Reading one doctree
# -----------------------------------------------------------------------------
def _in(node, types) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, types):
            return True
        parent = parent.parent
    return False


def _is_doctest(node) -> bool:
    if isinstance(node, nodes.doctest_block):
        return True
    return isinstance(node, nodes.literal_block) and node.get("testnodetype") in (
        "doctest",
        "testcode",
    )


def _is_untested_python(node) -> bool:
    if not isinstance(node, nodes.literal_block) or node.get("testnodetype"):
        return False
    if node.get("fmref_notrun"):
        return False
    language = str(node.get("language", "")).lower()
    # Sphinx's code-block sets "language"; docutils' own code directive sets classes
    return language in PY_LANGS or bool(PY_LANGS & set(node.get("classes", [])))


def doc_stats(doctree) -> dict:
    """Words, doctests, figures, citations, sections and untested blocks of a doctree."""
    words = 0
    for text in doctree.findall(nodes.Text):
        if _in(text, SKIP_TEXT) or not _in(text, (nodes.paragraph, nodes.title)):
            continue
        words += len(re.findall(r"[A-Za-z0-9][\w'’\-]*", text.astext()))
    doctests = [n for n in doctree.findall(nodes.Element) if _is_doctest(n)]
    untested = [n for n in doctree.findall(nodes.literal_block) if _is_untested_python(n)]
    notrun = [
        n.get("fmref_notrun") for n in doctree.findall(nodes.literal_block) if n.get("fmref_notrun")
    ]
    figures = sum(1 for _ in doctree.findall(nodes.image))
    figures += sum(1 for n in doctree.findall(nodes.raw) if "sphx-glr-thumbcontainer" in n.astext())
    citations = sum(
        1
        for n in doctree.findall(nodes.Element)
        if n.tagname == "pending_xref" and n.get("refdomain") == "cite"
    )
    sections = {}
    takeaway_terms, unmarked = [], []
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None:
            continue
        name = title.astext().strip()
        sections[name] = sum(1 for n in section.findall(nodes.Element) if _is_doctest(n))
        if name == "Key takeaways":
            for item in section.findall(nodes.list_item):
                terms = marked_terms(item)
                takeaway_terms += terms
                if not terms:
                    unmarked.append(item.astext().strip()[:60])
    ignore_detail = [
        f"line {n.line}"
        for n in doctree.findall(nodes.Element)
        if _is_doctest(n) and "IGNORE_EXCEPTION_DETAIL" in (n.rawsource or n.astext())
    ]
    return {
        "words": words,
        "doctests": len(doctests),
        "figures": figures,
        "citations": citations,
        "sections": sections,
        "untested": [
            f"line {n.line}: {n.astext().splitlines()[0][:60] if n.astext() else ''}"
            for n in untested
        ],
        "notrun": notrun,
        "takeaway_terms": takeaway_terms,
        "unmarked_takeaways": unmarked,
        "ignore_exception_detail": ignore_detail,
    }


def marked_terms(node) -> list[str]:
    """The terms a Key takeaways bullet marks: ``:term:`` targets and **bold** text.

    A term is what the reader must know to use the takeaway; the manual marks it
    with the ``:term:`` role (a link to the glossary) or, for a name the glossary
    leaves to the index, in bold. Each is returned lower-cased.
    """
    terms = []
    for n in node.findall(nodes.Element):
        if n.tagname == "pending_xref" and n.get("reftype") == "term":
            terms.append(str(n.get("reftarget", n.astext())).lower())
        elif isinstance(n, nodes.strong):
            terms.append(n.astext().strip().lower())
    return terms


def index_names(entries) -> set[str]:
    """Every name an index entry makes findable: its terms and its full path.

    ``entries`` are Sphinx's ``(type, value, target, main, key)`` tuples; the
    value ``"KV cache; paged"`` gives ``kv cache``, ``paged`` and ``kv cache paged``.
    """
    names = set()
    for entry in entries:
        value = entry[1]
        parts = [p.strip().lower() for p in value.split(";") if p.strip()]
        names.update(parts)
        names.add(" ".join(parts))
    return names


def takeaway_problems(stats: dict, glossary: set[str], indexed: set[str]) -> list[str]:
    """Key takeaways bullets that mark no term, and marked terms nobody defines."""
    problems = [f"a Key takeaways bullet marks no term: {t!r}" for t in stats["unmarked_takeaways"]]
    for term in stats["takeaway_terms"]:
        if term not in glossary and term not in indexed:
            problems.append(f"Key takeaways term {term!r} has no glossary or index entry")
    problems += [
        f"a doctest uses IGNORE_EXCEPTION_DETAIL ({line}): show the exact error"
        for line in stats["ignore_exception_detail"]
    ]
    return problems


def is_chapter(docname: str) -> bool:
    return docname.startswith(("chapters/", "appendices/"))


def on_doctree_read(app, doctree):
    docname = app.env.docname
    if app.builder.name == "doctest" and docname.startswith("api/"):
        # The API appendix's examples are fmref's docstrings, which pytest runs with
        # --doctest-modules (tox -e py) from the same seeded state; running them a
        # second time here would only double the build's time.
        for block in list(doctree.findall(nodes.doctest_block)):
            block.replace_self(
                nodes.literal_block(block.rawsource, block.astext(), language="pycon")
            )
        return
    if not (is_chapter(docname) or docname.startswith("api/")):
        return
    if not hasattr(app.env, "fmref_stats"):
        app.env.fmref_stats = {}
    app.env.fmref_stats[docname] = doc_stats(doctree)


def on_env_purge_doc(app, env, docname):
    getattr(env, "fmref_stats", {}).pop(docname, None)


def on_env_merge_info(app, env, docnames, other):
    if not hasattr(env, "fmref_stats"):
        env.fmref_stats = {}
    env.fmref_stats.update(
        {d: s for d, s in getattr(other, "fmref_stats", {}).items() if d in docnames}
    )


# -----------------------------------------------------------------------------
# Doctest outputs: an ELLIPSIS never hides a number
# -----------------------------------------------------------------------------
#: ``# doctest: +VARIES`` marks an example whose output varies from run to run by
#: nature (a wall-clock timing); only such an example may elide digits.
VARIES = doctest.register_optionflag("VARIES")


def elided_digits(want: str, got: str, optionflags: int = doctest.ELLIPSIS) -> list[str]:
    """The pieces of ``got`` that an ``...`` in ``want`` hides and that contain a digit.

    Empty when ``want`` has no ellipsis, when ``got`` does not match it, when
    the example is marked ``VARIES``, or when every hidden digit belongs to a
    memory address (the ``...`` follows ``0x``).
    """
    if not optionflags & doctest.ELLIPSIS or optionflags & VARIES or "..." not in want:
        return []
    if optionflags & doctest.NORMALIZE_WHITESPACE:
        want, got = " ".join(want.split()), " ".join(got.split())
    parts = want.split("...")
    pattern = "(.*?)".join(re.escape(p) for p in parts)
    match = re.fullmatch(pattern, got, re.S)
    if match is None:
        return []
    hidden = []
    for before, piece in zip(parts, match.groups()):
        if re.search(r"\d", piece) and not before.endswith("0x"):
            hidden.append(piece)
    return hidden


class DigitElisionChecker(doctest.OutputChecker):
    """An output checker that records every ELLIPSIS match hiding digits."""

    def __init__(self, docname: str, found: list):
        super().__init__()
        self.docname, self.found = docname, found

    def check_output(self, want, got, optionflags):
        ok = super().check_output(want, got, optionflags)
        if ok and is_chapter(self.docname):
            hidden = elided_digits(want, got, optionflags)
            if hidden:
                first = want.strip().splitlines()[0] if want.strip() else want
                self.found.append((self.docname, first, hidden, got))
        return ok


def install_elision_checker(builder) -> None:
    """Give the doctest builder's runners the :class:`DigitElisionChecker`."""
    builder.fmref_elided = []
    test_doc, test_group = builder.test_doc, builder.test_group

    def test_doc_(docname, doctree):
        builder.fmref_docname = docname
        return test_doc(docname, doctree)

    def test_group_(group):
        checker = DigitElisionChecker(builder.fmref_docname, builder.fmref_elided)
        for runner in (builder.setup_runner, builder.test_runner, builder.cleanup_runner):
            runner._checker = checker
        return test_group(group)

    builder.test_doc, builder.test_group = test_doc_, test_group_


def on_builder_inited(app):
    if app.builder.name == "doctest":
        install_elision_checker(app.builder)


def report_elided(app, exception):
    from sphinx.util import logging

    logger = logging.getLogger("fmref_checks")
    for docname, line, hidden, got in getattr(app.builder, "fmref_elided", []):
        logger.warning(
            f"doctest output {line!r} hides the digits {hidden!r} behind '...': "
            f"print the number, or mark a timing '# doctest: +VARIES'; the output was\n{got}",
            location=docname,
        )


# -----------------------------------------------------------------------------
# Checks
# -----------------------------------------------------------------------------
def chapter_problems(stats: dict) -> list[str]:
    """What a chapter lacks, one sentence each (empty when it passes)."""
    problems = []
    if stats["words"] < MIN_WORDS:
        problems.append(f"{stats['words']} words of prose (at least {MIN_WORDS})")
    if stats["doctests"] < MIN_DOCTESTS:
        problems.append(f"{stats['doctests']} doctested snippets (at least {MIN_DOCTESTS})")
    if stats["figures"] < 1:
        problems.append("no figure")
    if stats["citations"] < 1:
        problems.append("no citation")
    for name in REQUIRED_SECTIONS:
        if name not in stats["sections"]:
            problems.append(f"no section titled {name!r}")
    if stats["sections"].get("Exercises", 0) == 0 and "Exercises" in stats["sections"]:
        problems.append("no doctested solution in 'Exercises'")
    return problems


def api_problems(py_objects: set[str]) -> list[str]:
    """Public fmref names missing from the appendix or without doctested Examples."""
    from fmref_api import public_modules, public_names

    problems = []
    for modname in public_modules():
        module = importlib.import_module(modname)
        for name in public_names(modname):
            if name.startswith("__"):
                continue
            obj = getattr(module, name, None)
            if obj is None:
                problems.append(f"{modname}.__all__ names {name!r}, which does not exist")
                continue
            if f"{modname}.{name}" not in py_objects:
                problems.append(f"{modname}.{name} is missing from the API appendix")
            if inspect.isclass(obj) or inspect.isfunction(obj):
                doc = inspect.getdoc(obj) or ""
                if not re.search(r"^Examples\n-+\n", doc, re.M) or ">>>" not in doc:
                    problems.append(f"{modname}.{name} has no doctested Examples section")
    return problems


def on_check_consistency(app, env):
    from sphinx.util import logging

    logger = logging.getLogger("fmref_checks")
    stats = getattr(env, "fmref_stats", {})
    in_progress = set(app.config.in_progress)
    for docname in sorted(stats):
        if docname.startswith("api/"):
            for line in stats[docname]["untested"]:
                logger.warning(
                    f"Python block not doctested ({line}); use a doctest or '.. notrun:: <reason>'",
                    location=docname,
                )
            continue
        if docname in in_progress:
            continue
        for line in stats[docname]["untested"]:
            logger.warning(
                f"Python block not doctested ({line}); use a doctest or '.. notrun:: <reason>'",
                location=docname,
            )
        for problem in chapter_problems(stats[docname]):
            logger.warning(f"chapter check failed: {problem}", location=docname)
    for missing in sorted(set(in_progress) - set(env.found_docs)):
        logger.warning(f"in_progress names {missing!r}, which is not a document")
    std = env.get_domain("std")
    glossary = {name.lower() for (kind, name) in std.objects if kind == "term"}
    indexed = index_names(
        e for entries in env.get_domain("index").entries.values() for e in entries
    )
    for docname in sorted(stats):
        if not is_chapter(docname) or docname in in_progress:
            continue
        for problem in takeaway_problems(stats[docname], glossary, indexed):
            logger.warning(f"chapter check failed: {problem}", location=docname)
    py_objects = set(env.get_domain("py").objects)
    for problem in api_problems(py_objects):
        logger.warning(f"API check failed: {problem}")


def gallery_times(srcdir: Path) -> dict[str, float]:
    """Seconds each executed gallery example took, from sphinx-gallery's pages."""
    times = {}
    pattern = re.compile(
        r"Total running time of the script:\*\*\s*\((\d+) minutes\s+([\d.]+) seconds\)"
    )
    for rst in sorted((srcdir / "auto_examples").rglob("plot_*.rst")):
        match = pattern.search(rst.read_text())
        if match:
            times[rst.relative_to(srcdir).with_suffix("").as_posix()] = 60 * int(
                match.group(1)
            ) + float(match.group(2))
    return times


def table(stats: dict, in_progress: set[str]) -> str:
    rows = [
        ("chapter", "status", "words", "doctests", "figures", "citations", "untested", "notrun")
    ]
    for docname in sorted(d for d in stats if is_chapter(d)):
        s = stats[docname]
        status = (
            "in progress"
            if docname in in_progress
            else ("FAIL" if chapter_problems(s) or s["untested"] else "ok")
        )
        rows.append(
            (
                docname.split("/", 1)[1],
                status,
                str(s["words"]),
                str(s["doctests"]),
                str(s["figures"]),
                str(s["citations"]),
                str(len(s["untested"])),
                str(len(s["notrun"])),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def on_build_finished(app, exception):
    if exception is None and app.builder.name == "doctest":
        report_elided(app, exception)
    if exception is not None or app.builder.name not in ("html", "dirhtml"):
        return
    stats = getattr(app.env, "fmref_stats", {})
    in_progress = set(app.config.in_progress)
    times = gallery_times(Path(app.srcdir))
    print("\nfmref manual checks\n" + table(stats, in_progress))
    notrun = [(d, r) for d, s in sorted(stats.items()) for r in s["notrun"]]
    print(f"\nblocks marked notrun: {len(notrun)}")
    for docname, reason in notrun:
        print(f"  {docname}: {reason}")
    if times:
        print(f"\ngallery: {len(times)} examples, {sum(times.values()):.1f} s in all")
        for name, seconds in times.items():
            flag = "  OVER 60 s" if seconds > 60 else ""
            print(f"  {seconds:7.1f} s  {name}{flag}")
    out = Path(app.outdir) / "_fmref_checks.json"
    out.write_text(
        json.dumps(
            {"stats": stats, "in_progress": sorted(in_progress), "gallery_times": times}, indent=1
        )
    )


_CITATION = re.compile(r"^(\s*)\.\. \[([\w-]+)\]\s+(.*)$")


def plain_references(app, what, name, obj, options, lines):
    """Turn numpydoc ``.. [1] text`` references that the text never cites into a list.

    A docstring's References section lists sources; most docstrings do not cite
    them inline with ``[1]_``, and Sphinx warns about every citation that is never
    referenced. Uncited entries become list items ``- [1] text``; a docstring that
    does cite with ``[n]_`` keeps real citations.
    """
    if any("]_" in line for line in lines):
        return
    out, indent = [], None
    for line in lines:
        match = _CITATION.match(line)
        if match:
            indent = match.group(1)
            out.append(f"{indent}- [{match.group(2)}] {match.group(3)}")
        elif indent is not None and line.strip() and len(line) - len(line.lstrip()) > len(indent):
            out.append(f"{indent}  {line.strip()}")
        else:
            indent = None if not line.strip() or not line.startswith(indent or "") else indent
            out.append(line)
    lines[:] = out


def setup(app):
    app.add_config_value("in_progress", [], "env")
    app.setup_extension("sphinx.ext.autodoc")  # for autodoc-process-docstring
    app.connect("autodoc-process-docstring", plain_references, priority=100)
    app.add_node(
        notrun_node,
        html=(visit_notrun, depart_notrun),
        latex=(visit_notrun_latex, depart_notrun_latex),
        text=(visit_notrun_latex, depart_notrun_latex),
    )
    app.add_directive("notrun", NotRun)
    app.connect("builder-inited", on_builder_inited)
    app.connect("doctree-read", on_doctree_read)
    app.connect("env-purge-doc", on_env_purge_doc)
    app.connect("env-merge-info", on_env_merge_info)
    app.connect("env-check-consistency", on_check_consistency)
    app.connect("build-finished", on_build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


# -----------------------------------------------------------------------------
# Script: after the doctest builder
# -----------------------------------------------------------------------------
def parse_doctest_output(text: str) -> dict[str, tuple[int, int]]:
    """``{docname: (tests, failures)}`` from sphinx.ext.doctest's output.txt."""
    results: dict[str, tuple[int, int]] = {}
    for block in re.split(r"^Document: ", text, flags=re.M)[1:]:
        docname = block.splitlines()[0].strip()
        tests = sum(int(n) for n in re.findall(r"^(\d+) tests? in \d+ items?\.", block, re.M))
        failures = sum(
            int(n) for n in re.findall(r"\*\*\*Test Failed\*\*\* (\d+) failures?", block)
        )
        failures += len(re.findall(r"^\d+ items? had failures:", block, re.M)) and 0
        results[docname] = (tests, failures)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doctest-output", required=True, type=Path)
    parser.add_argument("--stats", required=True, type=Path)
    args = parser.parse_args(argv)
    stats = json.loads(args.stats.read_text())["stats"]
    ran = parse_doctest_output(args.doctest_output.read_text())
    problems = []
    for docname, s in sorted(stats.items()):
        if not is_chapter(docname):
            continue  # API examples are fmref's docstrings: pytest --doctest-modules runs them
        if s["doctests"] and ran.get(docname, (0, 0))[0] == 0:
            problems.append(
                f"{docname}: {s['doctests']} doctested blocks, but the doctest "
                "builder ran none of them"
            )
        if ran.get(docname, (0, 0))[1]:
            problems.append(f"{docname}: {ran[docname][1]} doctest failures")
    total = sum(t for t, _ in ran.values())
    print(f"doctest builder: {total} examples in {len(ran)} documents")
    for problem in problems:
        print("ERROR:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
