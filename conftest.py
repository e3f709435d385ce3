"""pytest set-up shared by the tests and the doctests of fmref's docstrings."""

import pytest

from fmref._testing import doctest_setup


@pytest.fixture(autouse=True)
def _seeded(request):
    """Start every test and every docstring example from the same seeded state.

    The Sphinx doctest builder calls the same function from ``doctest_global_setup``
    in docs/conf.py, so an example prints the same numbers under both runners.
    """
    doctest_setup()
    yield


def pytest_addoption(parser):
    parser.addoption(
        "--pdf", default=None, help="path of the built PDF manual to check (tox -e pdf)"
    )
    parser.addoption(
        "--html", default=None, help="folder of the built HTML manual (tox -e browser)"
    )
    parser.addoption(
        "--axe", default=None, help="path of axe-core's axe.min.js (tox -e browser installs it)"
    )
