"""Accessible names and roles where the theme's or docutils' markup lacks them.

Checked by axe-core in ``tests/test_a11y.py`` (``tox -e browser``). Each fix
adds what assistive technology needs and hides nothing from it:

- The sidebar's expand/collapse toggles (pydata-sphinx-theme writes each as a
  ``<summary>`` holding only a chevron icon) get a visually hidden text,
  "Toggle navigation of <page title>" (axe rule ``summary-name``).
- A bibliography is a ``role="list"`` whose entries docutils marks
  ``role="doc-biblioentry"``, a role DPUB-ARIA 1.1 deprecated and that no
  longer counts as a list item; the entries become ``role="listitem"``
  (axe rule ``aria-required-children``).

The search button (``_templates/search-button-field.html``) and the
gallery's thumbnail links (``_static/fmref.css``) are fixed in the template and
the style sheet.
"""

from __future__ import annotations

import functools

TOGGLE_CLASS = "fmref-toggle-name"


def name_toggles(soup) -> None:
    """Give each text-less ``<summary>`` of a sidebar toctree a hidden text label."""
    for summary in soup.select("li > details > summary"):
        if summary.get_text(strip=True):
            continue  # a caption or a name is already there
        li = summary.parent.parent
        link = li.find("a", recursive=False)
        title = " ".join(link.get_text().split()) if link else "this section"
        label = soup.new_tag("span", attrs={"class": ["visually-hidden", TOGGLE_CLASS]})
        label.string = f"Toggle navigation of {title}"
        summary.insert(0, label)


def _wrap_toctree(generate):
    @functools.wraps(generate)
    def wrapped(kind, *args, **kwargs):
        result = generate(kind, *args, **kwargs)
        if kind == "sidebar" and hasattr(result, "select"):  # a BeautifulSoup tree
            name_toggles(result)  # idempotent: the theme caches and reuses the tree
        return result

    return wrapped


def fix_body(body: str) -> str:
    """Bibliography entries as list items of their ``role="list"``."""
    return body.replace(' role="doc-biblioentry"', ' role="listitem"')


def on_html_page_context(app, pagename, templatename, context, doctree):
    generate = context.get("generate_toctree_html")
    if generate is not None and not getattr(generate, "_fmref_a11y", False):
        wrapped = _wrap_toctree(generate)
        wrapped._fmref_a11y = True
        context["generate_toctree_html"] = wrapped
    if isinstance(context.get("body"), str):
        context["body"] = fix_body(context["body"])


def setup(app):
    # after pydata-sphinx-theme (priority 500) has put its toctree function in the context
    app.connect("html-page-context", on_html_page_context, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
