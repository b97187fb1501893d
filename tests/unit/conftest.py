"""The fast tier: the real Scheduler and Rebuilder, driven by a fake executor and an
in-memory store, with no process forked. A job's callback runs in the test process when
the fake executor finishes it, so the order of events is exact and repeatable.

`drive(graph, slots=..., cores=...)` prepares the graph, runs it once and returns the
Recorder of the events, in order.
"""

from __future__ import annotations

import os

import pytest

import pypipegraph as ppg
from pypipegraph.events import Listener
from pypipegraph.executors.worker import run_job
from pypipegraph.listeners import OutcomeFields
from pypipegraph.rebuilder import Rebuilder
from pypipegraph.resources import CoreBudget


class MemoryStore:
    """The store protocol the Rebuilder and the ready queue use, in a dict."""

    def __init__(self):
        self.records: dict = {}
        self._failures: dict = {}
        self.sources: dict = {}

    def get(self, key):
        return self.records.get(key)

    def put(self, key, record) -> None:
        self.records[key] = record

    def delete(self, key) -> None:
        self.records.pop(key, None)

    def store_source(self, digest, text) -> None:
        self.sources[digest] = text

    def source(self, digest):
        return self.sources.get(digest)

    def record_count(self) -> int:
        return len(self.records)

    def failures(self) -> dict:
        return self._failures

    def ran_before(self, key) -> bool:
        return False  # no runs are kept here

    def previous_run_started(self) -> None:
        return None


class _Handle:
    __slots__ = ("job_index", "started", "pid", "finish")
    state = "running"
    host = ""

    def __init__(self, job_index: int):
        self.job_index = job_index
        self.started = 0.0
        self.pid = os.getpid()


class _Result:
    def __init__(self, ok, value, tb, start: float, stop: float):
        self.ok, self.value, self.traceback = ok, value, tb
        self.stdout = self.stderr = ""
        self.start, self.stop, self.pid = start, stop, os.getpid()


class FakeExecutor:
    """`slots` jobs at once on a simulated clock: a job started at `clock` takes its
    runtime (`runtimes` {job id: seconds}, default 1) and `wait()` finishes the running job
    that ends first (the one started first among equals), running its callback in this
    process. A run is one deterministic sequence of starts and finishes, and `clock` at the
    end is how long it would have taken."""

    def __init__(self, jobs: list, slots: int, runtimes: dict | None = None):
        self.jobs = jobs
        self.slots = slots
        self.runtimes = runtimes or {}
        self.busy: dict = {}  # handle -> None, in start order
        self.generation = 0
        self.peak = 0
        self.clock = 0.0

    def start(self, job_index: int, min_generation: int = 0):
        if len(self.busy) >= self.slots:
            return None
        handle = _Handle(job_index)
        handle.started = self.clock
        handle.finish = self.clock + self.runtimes.get(self.jobs[job_index].job_id, 1.0)
        self.busy[handle] = None
        self.peak = max(self.peak, len(self.busy))
        return handle

    def wait(self, timeout, extra=()):
        if not self.busy:
            return [], []
        handle = min(self.busy, key=lambda h: h.finish)  # the first of equals: dicts keep start order
        del self.busy[handle]
        self.clock = handle.finish
        ok, value, tb = run_job(self.jobs[handle.job_index])
        return [(handle, handle.job_index, _Result(ok, value, tb, handle.started, handle.finish))], []

    def kill(self, handle) -> None:
        raise AssertionError("nothing is killed in the unit tier")

    def running(self) -> list:
        return list(self.busy)

    def states(self) -> tuple[int, None]:
        return len(self.busy), None

    def bump_generation(self) -> int:
        self.generation += 1
        return self.generation

    def shutdown(self, kill: bool = False) -> None:
        self.busy.clear()


class Recorder(Listener):
    """Every event of a job that is not an invariant, as a (name, job id) tuple, in order;
    `held` the cores held at each start, `together` the jobs running at each start, and
    `clock` the simulated time the run took."""

    def __init__(self, budget: CoreBudget):
        self.budget = budget
        self.events: list = []
        self.held: list = []
        self.together: list[set] = []
        self.running: dict = {}  # job id -> job
        self.clock = 0.0

    def on_job_ready(self, job, reasons) -> None:
        self._add("ready", job)

    def on_job_started(self, job, cores) -> None:
        self._add("started", job)
        self.held.append(self.budget.total - self.budget.free)
        if job.runs_in != "master":
            self.running[job.job_id] = job
            self.together.append(set(self.running))

    def on_job_finished(self, job, attempt) -> None:
        self._add("finished", job)
        self.running.pop(job.job_id, None)

    def on_job_failed(self, job, failure) -> None:
        self._add("failed", job)
        self.running.pop(job.job_id, None)

    def overlap(self, a: str, b: str) -> bool:
        """Whether jobs `a` and `b` ever ran at the same time."""
        return any(a in ids and b in ids for ids in self.together)

    def most_held(self, units: dict) -> int:
        """The most `units` ({job id: units}) held by jobs running at one moment."""
        return max((sum(units.get(i, 0) for i in ids) for ids in self.together), default=0)

    def on_job_skipped(self, job) -> None:
        self._add("skipped", job)

    def on_job_blocked(self, job, cause) -> None:
        self._add("blocked", job)

    def _add(self, kind: str, job) -> None:
        if not job.is_invariant:
            self.events.append((kind, job.job_id))

    def of(self, kind: str) -> list[str]:
        """Job ids of the events of one kind, in order (invariants left out)."""
        return [job_id for name, job_id in self.events if name == kind]


class Driver:
    """Runs graphs against one MemoryStore (a second `run` is a rerun)."""

    def __init__(self):
        self.store = MemoryStore()
        self.notes: list = []

    def new_graph(self, **kwargs) -> ppg.Pipegraph:
        kwargs.setdefault("quiet", True)
        kwargs.setdefault("dump_graph", False)
        return ppg.new_pipegraph(**kwargs)

    def run(self, graph, slots: int = 1, cores: int | None = None, runtimes: dict | None = None,
            memory: int = 1 << 40) -> Recorder:
        jobs = graph.prepare()
        budget = CoreBudget(cores or slots, memory)
        recorder = Recorder(budget)
        executor = FakeExecutor(jobs, slots, runtimes)
        scheduler = graph.scheduler(jobs, Rebuilder(self.store, self.notes.append), budget,
                                    [OutcomeFields(), recorder], executor=executor)
        recorder.failed = scheduler.run()
        recorder.clock = executor.clock
        return recorder


@pytest.fixture
def driver(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    ppg.util.global_pipegraph = None
    yield Driver()
    ppg.util.global_pipegraph = None
