"""The gallery in the manual's order: sphinx-gallery's ``subsection_order`` key.

A gallery folder's place is the first chapter that shows one of its figures or
links to it (``auto_examples/<folder>/``, ``sphx_glr_auto_examples_<folder>``
or ``:ref:`gallery-<folder>```), in reading order: Chapters I to XXII, then
the appendices. A folder that no page uses comes last. conf.py names
:func:`manual_order` by its dotted path, so the configuration stays picklable.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]


@cache
def _reading_order() -> tuple[tuple[str, str], ...]:
    """``(page name, text)`` of the chapters then the appendices, in order."""
    pages = sorted((DOCS / "chapters").glob("*.rst")) + sorted((DOCS / "appendices").glob("*.rst"))
    return tuple((p.stem, p.read_text(encoding="utf-8")) for p in pages)


def first_use(folder: str) -> int:
    """Index in reading order of the first page that uses the gallery ``folder``."""
    label = folder.replace("_", "-")
    name = re.escape(folder)
    pattern = re.compile(
        rf"auto_examples/{name}/|sphx_glr_auto_examples_{name}[_>]"
        rf"|gallery-(?:{name}|{re.escape(label)})`"
    )
    for i, (_, text) in enumerate(_reading_order()):
        if pattern.search(text):
            return i
    return len(_reading_order())


def manual_order(path: str) -> tuple[int, str]:
    """Sort key of a gallery subfolder (given as a path ending in its name)."""
    folder = Path(path).name
    return first_use(folder), folder
