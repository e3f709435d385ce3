"""Sphinx configuration of the fmref manual: one file, one section per concern."""

# =============================================================================
# Paths and project
# =============================================================================
import datetime
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # fmref itself (also installed editable by tox)
sys.path.insert(0, str(DOCS / "_ext"))  # the manual's own extensions

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402

import fmref  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

project = "fmref: Foundation Model Engineering, a Reference"
author = "The fmref authors"
copyright = f"2026, {author}"
version = fmref.__version__
release = fmref.__version__
build_date = datetime.date.today().isoformat()
torch_version = torch.__version__.split("+")[0]

# =============================================================================
# Chapters still being written
# =============================================================================
# A chapter listed here is built and shown, but the manual checks report it as
# "in progress" instead of failing on it. The list is empty when every chapter
# issue has landed.
in_progress: list[str] = []
# While a chapter is written, its author checks it as if finished without editing
# this file: FMREF_FINISHED=chapters/07-parameter-efficient-tuning tools/quickdocs.sh ...
in_progress = [c for c in in_progress if c not in os.environ.get("FMREF_FINISHED", "").split(",")]

# =============================================================================
# Extensions
# =============================================================================
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.bibtex",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinx_book_theme",  # its directives (margin, ...) must work in every builder
    "sphinx-mathjax-offline",  # MathJax 3 served from _static: no CDN
    "fmref_api",  # writes docs/api/ from fmref's __all__
    "fmref_results",  # renders benchmark JSON (fmref/results, fmref.results)
    "fmref_widgets",  # interactive figures computed by fmref (docs/_static/widgets)
    "fmref_checks",  # the manual's completeness checks
    "fmref_a11y",  # accessible names and roles the theme's markup lacks
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "sg_execution_times.rst",
    "auto_examples/**/sg_execution_times.rst",
    "gen_modules/**",
]
nitpicky = True
# No intersphinx (nothing is fetched during a build): references to other
# projects' objects are written out and allowed to stay unlinked.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(torch|numpy|np|scipy|sklearn|transformers|diffusers|peft|typing|collections"
        r"|pathlib|dataclasses|abc|re|json|math|random|itertools|functools|os|sys|io"
        r"|hashlib|string|enum|statistics|fractions|decimal|heapq|bisect)(\..*)?",
    ),
    (r"py:.*", r"(optional|callable|array[-_]like|Tensor|default .*|iterable|sequence)"),
]
highlight_language = "text"  # a bare ``::`` block is text; Python blocks say so
pygments_style = "sphinx"
# Each chapter has its own bibliography (``:filter: docname in docnames``), so a
# paper cited in two chapters is listed in both; sphinxcontrib-bibtex resolves a
# citation to the citing chapter's own list first and warns about the repeat,
# which is the intended layout here. Each list numbers its entries from 1, so
# the same label naming different papers in different chapters is intended too.
# A key repeated within one chapter still warns.
suppress_warnings = ["bibtex.duplicate_citation", "bibtex.duplicate_label"]

# =============================================================================
# API appendix: autodoc + numpydoc
# =============================================================================
autodoc_typehints = "none"  # types are in the numpydoc Parameters sections
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # nn.Module.forward's docstring is not ours
autodoc_default_options = {"members": True, "undoc-members": False}
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# =============================================================================
# Doctests: the same seeded state as pytest's (conftest.py)
# =============================================================================
doctest_global_setup = """
from fmref._testing import doctest_setup
doctest_setup()
"""
import doctest  # noqa: E402

# No IGNORE_EXCEPTION_DETAIL: an error message shown in the manual is checked
# exactly. ELLIPSIS may not hide digits in a chapter (fmref_checks fails the build).
doctest_default_flags = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
)
doctest_test_doctest_blocks = "default"

# =============================================================================
# Gallery
# =============================================================================
# sphinx-gallery gives thumbnails an empty alt (decorative, the title follows);
# the manual's browser check asks every image for a text alternative, so the
# thumbnails carry their example's title as alt text.
import sphinx_gallery.backreferences as _sg_backrefs  # noqa: E402

for _name in ("THUMBNAIL_TEMPLATE", "BACKREF_THUMBNAIL_TEMPLATE"):
    _template = getattr(_sg_backrefs, _name)
    if ":alt: {title}" not in _template:
        setattr(_sg_backrefs, _name, _template.replace("    :alt:\n", "    :alt: {title}\n"))

sphinx_gallery_conf = {
    "examples_dirs": ["../gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("fmref",),
    "download_all_examples": True,
    "remove_config_comments": True,
    "subsection_order": "fmref_gallery.manual_order",  # Chapter I first, appendices last
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,  # those pages load DataTables from a CDN
    "min_reported_time": 0,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn"),
    # two examples at a time (joblib processes): every example runs on one thread, so a
    # serial gallery leaves the second core of the 2-core budget machine idle
    "parallel": 2,
}

# =============================================================================
# Bibliography
# =============================================================================
# references.bib is the manual's one bibliography. While several people write
# chapters at once, each may keep new entries in docs/bib/<name>.bib (so nobody
# edits the same file); they are appended to references.bib when the chapter lands.
bibtex_bibfiles = ["references.bib", *sorted(f"bib/{p.name}" for p in (DOCS / "bib").glob("*.bib"))]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# =============================================================================
# HTML
# =============================================================================
html_theme = "sphinx_book_theme"
html_title = "fmref"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["fmref.css"]
html_context = {"default_mode": "light"}  # avoids the pydata "invalid theme mode" console error
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    # One search box: pydata's top bar would repeat the sidebar's search field; the
    # article header's icon shows only where the sidebar is collapsed; Ctrl+K works anywhere
    "navbar_persistent": [],
}
html_last_updated_fmt = build_date
# the date line of the PDF's title page carries the stamp too
today = f"{build_date}, fmref {fmref.__version__}, PyTorch {torch_version}"
html_copy_source = False
rst_prolog = f"""
.. |torch_version| replace:: {torch_version}
.. |build_date| replace:: {build_date}
"""

# =============================================================================
# LaTeX / PDF
# =============================================================================
latex_engine = "xelatex"
latex_use_xindy = False  # Debian ships xindy separately
latex_documents = [("index", "fmref.tex", project, author, "manual")]
latex_elements = {
    "papersize": "a4paper",
    "pointsize": "10pt",
    "fontpkg": r"\setmainfont{FreeSerif}\setsansfont{FreeSans}"
    r"\setmonofont{FreeMono}",
    "sphinxsetup": "verbatimwrapslines=true, verbatimforcewraps=true",
    # Chapters carry their numbers in their titles ("Chapter V. ..."), as in the HTML;
    # LaTeX's own counter would also count the preface and notation pages and print
    # "CHAPTER SEVEN" above Chapter V. So nothing is numbered by LaTeX.
    "preamble": r"\setcounter{secnumdepth}{-1}",
}
