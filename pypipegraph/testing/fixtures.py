"""pytest fixtures for libraries' test suites (0.197's `pypipegraph.testing.fixtures`).

Use from a conftest.py: `from pypipegraph.testing.fixtures import new_pipegraph,
no_pipegraph, both_ppg_and_no_ppg, pytest_runtest_makereport  # noqa`.

Invariant: each test gets its own directory `<test file's dir>/run/.<test name>`
(`<Class>.<test name>` in a class), made fresh with logs/, cache/, results/ and out/,
and is run with that as the working directory; the directory is removed after a
passing test and kept after a failing one (to look at). The working directory is
restored afterwards. `new_pipegraph` yields a graph whose `.new_pipegraph()` makes
the next one in the same directory (for "run, change, run again" tests).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from .. import util
from ..cluster.local import LocalSystem
from ..graph import new_pipegraph as _new_graph


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (`item.rep_setup`, `item.rep_call`)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _test_dir(request, suffix: str = "") -> Path:
    base = Path(str(request.fspath)).parent / "run"
    if request.cls is None:
        return (base / ("." + request.node.name + suffix)).absolute()
    return (base / (request.cls.__name__ + "." + request.node.name)).absolute()


def _passed(request) -> bool:
    node = request.node
    setup = getattr(node, "rep_setup", None)
    call = getattr(node, "rep_call", None)
    return bool(setup is not None and setup.passed and call is not None
                and (call.passed or call.outcome == "skipped"))


def _graph_maker(target: Path, cores: int | None):
    """new_pipegraph(quiet=True, **kwargs) in `target` (created with its subdirectories
    on first use)."""
    made = []

    def make(quiet: bool = True, **kwargs):
        if not made:
            target.mkdir(parents=True, exist_ok=True)
            os.chdir(target)
            for sub in ("logs", "cache", "results", "out"):
                Path(sub).mkdir(exist_ok=True)
            logging.getLogger("pypipegraph").setLevel(logging.WARNING)
            made.append(True)
        kwargs.setdefault("dump_graph", False)
        graph = _new_graph(LocalSystem(cores, interactive=False), quiet=quiet, **kwargs)
        graph.result_dir = Path("results")
        graph.new_pipegraph = make
        return graph

    return make


def _in_fresh_dir(request, target: Path, make_now: bool):
    if target.exists():
        shutil.rmtree(target)
    if make_now:
        target.mkdir(parents=True)
    home = Path(os.getcwd()).absolute()
    if make_now:
        os.chdir(target)

    def finalize():
        if _passed(request) and not hasattr(util.global_pipegraph, "test_keep_output"):
            shutil.rmtree(target, ignore_errors=True)

    request.addfinalizer(finalize)
    return home


@pytest.fixture
def new_pipegraph(request):
    """A fresh pipegraph (one core, quiet) in a fresh directory for this test."""
    target = _test_dir(request)
    home = _in_fresh_dir(request, target, make_now=False)
    try:
        yield _graph_maker(target, 1)()
    finally:
        os.chdir(home)


@pytest.fixture
def no_pipegraph(request):
    """No pipegraph (code runs directly), in a fresh directory for this test."""
    target = _test_dir(request)
    home = _in_fresh_dir(request, target, make_now=True)
    util.global_pipegraph = None
    try:
        yield None
    finally:
        os.chdir(home)


class _NoGraph:
    """What `both_ppg_and_no_ppg` yields without a graph: `.new_pipegraph()` does nothing."""

    @staticmethod
    def new_pipegraph():
        util.global_pipegraph = None
        return None


@pytest.fixture
def both_ppg_and_no_ppg(request):
    """Parametrise with [True, False] (indirect) in conftest.py: the test runs once with a
    pipegraph and once without:

        def pytest_generate_tests(metafunc):
            if "both_ppg_and_no_ppg" in metafunc.fixturenames:
                metafunc.parametrize("both_ppg_and_no_ppg", [True, False], indirect=True)
    """
    with_graph = bool(getattr(request, "param", True))
    target = _test_dir(request, str(with_graph))
    home = _in_fresh_dir(request, target, make_now=not with_graph)
    try:
        if with_graph:
            yield _graph_maker(target, None)()
        else:
            util.global_pipegraph = None
            yield _NoGraph()
    finally:
        os.chdir(home)
