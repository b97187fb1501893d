"""Cores and memory: what may run beside what.

Whether two jobs ran at the same time is read from the run's events (conftest.Order:
one started while the other was running), not from wall-clock stamps."""

import os
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import Order


def timed(name, seconds=0.3):
    def work(of):
        time.sleep(seconds)
        Path(of).write_text("done")

    return ppg.FileGeneratingJob(f"out/{name}", work)


def overlap(order: Order, a: str, b: str) -> bool:
    return order.overlap(f"out/{a}", f"out/{b}")


def rendezvous(name, partner, timeout=5.0):
    """A job that finishes only if `partner` runs at the same time."""

    def work(of):
        Path(f"out/{name}.started").write_text("")
        deadline = time.time() + timeout
        while not os.path.exists(f"out/{partner}.started"):
            if time.time() > deadline:
                raise TimeoutError(f"{partner} did not run beside {name}")
            time.sleep(0.01)
        Path(of).write_text("met")

    return ppg.FileGeneratingJob(f"out/{name}", work)


@pytest.fixture
def two_cores(new_pipegraph):
    """A two-core graph; the Order of its jobs' starts and finishes."""
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
    return Order.attach()


def test_all_cores_job_runs_alone(two_cores):
    big = timed("big")
    big.cores_needed = -1
    timed("small1"), timed("small2")
    ppg.run()
    assert not overlap(two_cores, "big", "small1") and not overlap(two_cores, "big", "small2")


def test_one_core_jobs_run_side_by_side(two_cores):
    rendezvous("a", "b"), rendezvous("b", "a")
    ppg.run()
    assert Path("out/a").read_text() == Path("out/b").read_text() == "met"
    assert overlap(two_cores, "a", "b")


def test_memory_needed_counts_as_cores(two_cores):
    rc = ppg.util.global_pipegraph.rc
    hungry = timed("hungry")
    hungry.memory_needed = rc.memory_available  # all of it: needs both cores' share
    timed("other")
    ppg.run()
    assert not overlap(two_cores, "hungry", "other")


def test_job_needing_more_cores_than_the_machine_fails_clearly(two_cores):
    too_big = timed("too_big").use_cores(3)
    after = timed("after").depends_on(too_big)
    fine = timed("fine")
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert too_big.failed and too_big.error_reason == "Needed to much memory/cores"  # 0.197's words
    assert "needs 3 cores, only 2" in str(too_big.exception)
    assert after.failed and after.error_reason == "Indirect"
    assert fine.was_run


def test_job_needing_more_memory_than_the_machine_fails_clearly(two_cores):
    job = timed("greedy")
    job.memory_needed = ppg.util.global_pipegraph.rc.memory_available * 2
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert job.failed and job.error_reason == "Needed to much memory/cores"
    assert "memory" in str(job.exception)


def test_lowering_cores_available_before_the_run(new_pipegraph):
    order = Order.attach()
    ppg.util.global_pipegraph.rc.cores_available = 1
    timed("x"), timed("y")
    ppg.run()
    assert not overlap(order, "x", "y")
