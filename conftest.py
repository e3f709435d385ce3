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



# Tests that share an expensive cached model run on one worker: each group below is one unit
# of pytest-xdist's scheduling, and the groups (largest first) are handed out before the
# single tests. So two workers never wait on each other's training of the same model (measured
# cold: one worker waited 34 s for the other's MiniLM pass over the corpus) and no long training
# is left for the end of the run. (xdist's own --dist loadgroup marks tests by rewriting their
# node ids, which pytest 9 no longer allows: a scheduler is the supported hook.)
_GROUPS = {
    "minilm": ("fmref/rag/", "tests/test_rag_"),
    "sums": (
        "tests/test_align_reasoning.py",
        "fmref/align/prm.py",
        "fmref/align/rlvr.py",
        "fmref/align/verifiable.py",
        "fmref/eval/testtime.py",
    ),
    "filtering": ("tests/test_data_quality.py", "fmref/data/quality.py"),
    "react": ("tests/test_agents_policy.py", "fmref/agents/policy.py"),
}


def _scheduling_unit(nodeid):
    """The scheduling unit of a test: its group in ``_GROUPS``, else the test alone."""
    path = nodeid.split("::", 1)[0]
    return next((g for g, prefixes in _GROUPS.items() if path.startswith(prefixes)), nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _scheduling_unit(nodeid)

    return GroupScheduling(config, log)
