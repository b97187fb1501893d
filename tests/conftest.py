"""Shared fixtures: every test runs in its own temporary directory with a fresh graph."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


class Order(ppg.Listener):
    """The order in which jobs started and finished (attach with `Order.attach()`)."""

    def __init__(self):
        self.events: list = []

    @classmethod
    def attach(cls) -> Order:
        order = cls()
        ppg.util.global_pipegraph.listeners.append(order)
        return order

    def on_job_started(self, job, cores) -> None:
        self.events.append(("started", job.job_id))

    def on_job_finished(self, job, attempt) -> None:
        self.events.append(("finished", job.job_id))

    def started(self) -> list[str]:
        return [job_id for kind, job_id in self.events if kind == "started"]

    def runs_alone(self, job_id: str) -> bool:
        """Nothing else was running when `job_id` started, nor started before it finished."""
        running: set = set()
        for kind, other in self.events:
            if kind == "started":
                if other == job_id and running:
                    return False
                if job_id in running:
                    return False
                running.add(other)
            else:
                running.discard(other)
        return True

    def most_held(self, weights: dict) -> int:
        """The most units (weights: job id -> units) the weighted jobs held at one moment."""
        held = best = 0
        for kind, job_id in self.events:
            weight = weights.get(job_id, 0)
            held += weight if kind == "started" else -weight
            best = max(best, held)
        return best

    def overlap(self, a: str, b: str) -> bool:
        """`a` and `b` ran at the same time (one started while the other ran)."""
        running: set = set()
        for kind, job_id in self.events:
            if kind == "started":
                if {job_id, *running} >= {a, b}:
                    return True
                running.add(job_id)
            else:
                running.discard(job_id)
        return False


def append(filename: str, text: str) -> None:
    """Append text to a file (jobs use it to count how often they ran)."""
    with open(filename, "a") as fh:
        fh.write(text)


def read(filename) -> str:
    return Path(filename).read_text()


def runs(filename) -> int:
    """How many times a counting job ran (one character per run)."""
    return len(Path(filename).read_text()) if os.path.exists(filename) else 0


def read_pid(filename, timeout: float = 60) -> int:
    """The pid a job wrote to `filename`, waiting for it: the file exists before its content."""
    deadline = time.monotonic() + timeout
    while not (os.path.exists(filename) and Path(filename).read_text().strip()):
        assert time.monotonic() < deadline, f"no pid in {filename} after {timeout} s"
        time.sleep(0.01)
    return int(Path(filename).read_text())


class Background:
    """Scripts a test starts with no terminal (stdin /dev/null, output to a log file, a
    session of their own); whatever still runs when the test ends is killed."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, env: dict, script: str = "pipeline.py", log: str | None = "run.out") -> subprocess.Popen:
        """Start `script` with `env`; its output goes to `log` (None: nowhere)."""
        out = open(log, "w") if log else subprocess.DEVNULL
        try:
            proc = subprocess.Popen([sys.executable, script], env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if log:
                out.close()
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def background():
    """Start scripts in the background (`background.start(env)`); killed after the test."""
    procs = Background()
    yield procs
    procs.stop()
