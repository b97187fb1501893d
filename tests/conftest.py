"""Shared fixtures: every test runs in its own temporary directory with a fresh graph."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pypipegraph as ppg

# A library's own test suite, run in its own pytest process per engine (test_compat_library.py):
# its conftest.py uses pypipegraph.testing.fixtures, whose fixture names are also defined here.
collect_ignore = ["compat_lib"]


class GraphFactory:
    """Creates pipegraphs in one test directory; `.new_pipegraph()` simulates a rerun."""

    def __init__(self, directory: Path):
        self.directory = directory

    def new_pipegraph(self, **kwargs) -> ppg.Pipegraph:
        kwargs.setdefault("quiet", True)
        kwargs.setdefault("dump_graph", False)
        return ppg.new_pipegraph(**kwargs)


@pytest.fixture
def ppg_dir(tmp_path, monkeypatch):
    """A fresh working directory with out/ and logs/, and no graph yet."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "logs").mkdir()
    ppg.util.global_pipegraph = None
    yield tmp_path
    ppg.util.global_pipegraph = None


@pytest.fixture
def new_pipegraph(ppg_dir):
    """A quiet graph in a fresh directory; call `.new_pipegraph()` for the next run."""
    factory = GraphFactory(ppg_dir)
    factory.new_pipegraph()
    return factory


def append(filename: str, text: str) -> None:
    """Append text to a file (jobs use it to count how often they ran)."""
    with open(filename, "a") as fh:
        fh.write(text)


def read(filename) -> str:
    return Path(filename).read_text()


def runs(filename) -> int:
    """How many times a counting job ran (one character per run)."""
    return len(Path(filename).read_text()) if os.path.exists(filename) else 0
