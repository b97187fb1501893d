"""Which ready job starts first: `job.priority`, then the recorded critical path.

Order is read from the run's events (conftest.Order), not from wall-clock stamps."""

import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import Order


def stamped(name, seconds):
    """A job that records when it started and stopped."""

    def work(of):
        start = time.time()
        time.sleep(seconds)
        Path(of).write_text(f"{start} {time.time()}")

    return ppg.FileGeneratingJob(f"out/{name}", work)


def one_core(factory, **kwargs) -> Order:
    """A one-core graph; the Order of its jobs' starts."""
    factory.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=1), **kwargs)
    return Order.attach()


def test_higher_priority_starts_first(new_pipegraph):
    order = one_core(new_pipegraph)
    for name, priority in [("low", -1), ("plain", 0), ("high", 10), ("mid", 5)]:
        stamped(name, 0.0).priority = priority
    ppg.run_pipegraph()
    assert order.started() == ["out/high", "out/mid", "out/plain", "out/low"]


def test_priority_must_be_a_number(new_pipegraph):
    job = stamped("x", 0.0)
    with pytest.raises(ValueError, match="out/x: priority must be a number"):
        job.priority = "urgent"


def chain_and_shorts(round_no, shorts=4, short=0.05, links=3, link=0.25):
    """Short jobs defined first, then a chain; everything depends on the round number."""
    param = ppg.ParameterInvariant("round", round_no)
    for i in range(shorts):
        stamped(f"short{i}", short).depends_on(param)
    previous = None
    for i in range(links):
        job = stamped(f"chain{i}", link).depends_on(param)
        if previous is not None:
            job.depends_on(previous)
        previous = job


SHORTS = [f"out/short{i}" for i in range(4)]
CHAIN = [f"out/chain{i}" for i in range(3)]


def test_without_history_jobs_start_in_definition_order(new_pipegraph):
    order = one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()
    assert order.started()[:5] == SHORTS + ["out/chain0"]


def test_recorded_critical_path_starts_first(new_pipegraph):
    one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()  # records the runtimes
    order = one_core(new_pipegraph)
    chain_and_shorts(2)
    ppg.run_pipegraph()
    assert order.started()[:3] == CHAIN  # the whole chain before any short job
