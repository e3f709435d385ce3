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


# Scheduling on pytest-xdist's two workers. A unit of work is one test module (so its
# module-scoped fixtures run once, not once per worker) or one of the groups below: tests in
# several modules that share an expensive cached model, so that the two workers never wait on
# each other's training of it (measured cold: one worker waited 34 s for the other's MiniLM pass
# over the corpus). The heaviest units go first, largest first (measured seconds, cold, with
# coverage), so no long training is left for the end of the run. (xdist's own --dist loadgroup
# marks tests by rewriting their node ids, which pytest 9 no longer allows; a scheduler is the
# supported hook.)
_GROUPS = {
    "filtering": ("tests/test_data_quality.py", "fmref/data/quality.py"),  # ~105 s
    "minilm": ("fmref/rag/", "tests/test_rag_"),  # ~49 s
    "sums": (  # ~39 s
        "tests/test_align_reasoning.py",
        "fmref/align/prm.py",
        "fmref/align/rlvr.py",
        "fmref/align/verifiable.py",
        "fmref/eval/testtime.py",
    ),
    "react": ("tests/test_agents_policy.py", "fmref/agents/policy.py"),  # ~32 s
}
_HEAVY = (  # 10-20 s each
    "tests/test_widgets_registry.py",
    "tests/test_parallel.py",
    "tests/test_multimodal_digits.py",
    "tests/test_widgets_data.py",
    "tests/test_zoo.py",
)
_ORDER = [*_GROUPS, *_HEAVY]


def _scheduling_unit(nodeid):
    """The unit a test is scheduled with: its group in ``_GROUPS``, else its module."""
    path = nodeid.split("::", 1)[0]
    return next((g for g, prefixes in _GROUPS.items() if path.startswith(prefixes)), path)


def pytest_collection_modifyitems(config, items):
    """Heaviest units first (a stable sort: every worker collects the same order)."""
    rank = {unit: i for i, unit in enumerate(_ORDER)}
    items.sort(key=lambda item: rank.get(_scheduling_unit(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def __init__(self, config, log):
            super().__init__(config, log)
            config.option.loadscopereorder = False  # keep the order sorted above

        def _split_scope(self, nodeid):
            return _scheduling_unit(nodeid)

    return UnitScheduling(config, log)
