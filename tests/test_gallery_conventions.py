"""The gallery's scripts end their figures the same way, so they also work when run by hand."""

import re
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
EXAMPLES = sorted(GALLERY.glob("*/plot_*.py"))
DRAWING = re.compile(r"^\s*(?:\w+\s*=\s*)?(?:plt\.(?!show\()|fig\w*\.|ax\w*\.|axes\[)", re.M)


def test_the_gallery_is_found():
    assert len(EXAMPLES) >= 53


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_figure_is_shown_with_plt_show(path):
    source = path.read_text(encoding="utf-8")
    shows = [m.start() for m in re.finditer(r"^\s*plt\.show\(\)\s*$", source, re.M)]
    assert shows, "the example never calls plt.show()"
    drawn_after = [m.group(0).strip() for m in DRAWING.finditer(source) if m.start() > shows[-1]]
    assert not drawn_after, f"drawing after the last plt.show(): {drawn_after[:3]}"
