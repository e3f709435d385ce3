"""A small, real English corpus: the topic texts of Python's own help system.

:func:`python_docs` returns the 79 topic texts of the standard library's
``pydoc_data.topics`` module (the pages ``help("if")`` or ``help("dict")``
print: the Language Reference and the built-in types, about 465,000
characters). They are English technical prose with code in it, small enough to
train a tokenizer and a tiny language model on a laptop CPU in seconds.

*Source and licence.* The text is a snapshot of CPython's ``Lib/pydoc_data/topics.py`` from Python
3.11.7, stored in ``fmref/text/data/python_docs.json.gz`` so that numbers in the
manual do not drift between Python patch releases. It is part of the Python
documentation, copyright the Python Software Foundation, distributed under the
PSF License Agreement (PSF-2.0); the snapshot file records its source, Python
version and licence beside the text.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

__all__ = ["python_docs", "python_docs_topics", "SPLITS"]

#: The splits :func:`python_docs` knows.
SPLITS = ("all", "train", "validation")

_SNAPSHOT = Path(__file__).resolve().parent / "data" / "python_docs.json.gz"
_VALIDATION_FRACTION = 0.1  # the last tenth of every topic, cut at a paragraph break


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    with gzip.open(_SNAPSHOT, "rt", encoding="utf-8") as f:
        return json.load(f)


def python_docs_topics() -> dict[str, str]:
    """The topic texts of the snapshot, by topic name.

    Returns
    -------
    dict of str to str
        79 topics in sorted order, e.g. ``"if"``, ``"dict"``, ``"formatstrings"``.

    Examples
    --------
    >>> from fmref.text.corpus import python_docs_topics
    >>> topics = python_docs_topics()
    >>> len(topics)
    79
    >>> topics["pass"].splitlines()[0]
    'The "pass" statement'
    """
    return dict(_load()["topics"])


def _split_point(text: str) -> int:
    """Index of the first paragraph break at or after 90% of ``text`` (or its end)."""
    cut = text.find("\n\n", int(len(text) * (1 - _VALIDATION_FRACTION)))
    return len(text) if cut < 0 else cut


def python_docs(split: str = "all") -> str:
    """The Python documentation corpus as one string.

    Topics are joined in sorted order with a blank line between them. The
    deterministic split puts the last tenth of every topic (from the first
    paragraph break after 90% of its length) in ``"validation"`` and the rest
    in ``"train"``, so both splits cover every topic.

    Parameters
    ----------
    split : {"all", "train", "validation"}
        Which part of the corpus to return.

    Returns
    -------
    str
        The text of the split.

    Raises
    ------
    ValueError
        If ``split`` is not one of :data:`SPLITS`.

    Examples
    --------
    >>> from fmref.text.corpus import python_docs
    >>> text = python_docs()
    >>> len(text)
    465126
    >>> train, val = python_docs("train"), python_docs("validation")
    >>> round(len(val) / len(text), 3)
    0.084
    >>> "The \\"if\\" statement" in train
    True
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    parts = []
    for text in _load()["topics"].values():
        cut = _split_point(text)
        if split == "all":
            parts.append(text)
        elif split == "train":
            parts.append(text[:cut])
        elif text[cut:].strip():
            parts.append(text[cut:].strip("\n"))
    return "\n\n".join(parts)
