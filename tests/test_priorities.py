"""Which ready job starts first: `job.priority`, then the recorded critical path."""

import time
from pathlib import Path

import pytest

import pypipegraph as ppg


def stamped(name, seconds):
    """A job that records when it started and stopped."""

    def work(of):
        start = time.time()
        time.sleep(seconds)
        Path(of).write_text(f"{start} {time.time()}")

    return ppg.FileGeneratingJob(f"out/{name}", work)


def started(name) -> float:
    return float(Path(f"out/{name}").read_text().split()[0])


def stopped(name) -> float:
    return float(Path(f"out/{name}").read_text().split()[1])


def one_core(factory, **kwargs):
    return factory.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=1), **kwargs)


def test_higher_priority_starts_first(new_pipegraph):
    one_core(new_pipegraph)
    for name, priority in [("low", -1), ("plain", 0), ("high", 10), ("mid", 5)]:
        stamped(name, 0.0).priority = priority
    ppg.run_pipegraph()
    order = sorted(["low", "plain", "high", "mid"], key=started)
    assert order == ["high", "mid", "plain", "low"]


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


def test_without_history_jobs_start_in_definition_order(new_pipegraph):
    one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()
    assert max(started(f"short{i}") for i in range(4)) < started("chain0")


def test_recorded_critical_path_starts_first(new_pipegraph):
    one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()  # records the runtimes
    one_core(new_pipegraph)
    chain_and_shorts(2)
    ppg.run_pipegraph()
    chain_done = stopped("chain2")
    assert all(started(f"short{i}") > chain_done for i in range(4))


def test_critical_path_can_be_switched_off(new_pipegraph):
    one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()
    one_core(new_pipegraph, critical_path=False)
    chain_and_shorts(2)
    ppg.run_pipegraph()
    assert max(started(f"short{i}") for i in range(4)) < started("chain0")


def test_user_priority_beats_critical_path(new_pipegraph):
    one_core(new_pipegraph)
    chain_and_shorts(1)
    ppg.run_pipegraph()
    one_core(new_pipegraph)
    chain_and_shorts(2)
    ppg.util.global_pipegraph.jobs["out/short3"].priority = 1
    ppg.run_pipegraph()
    assert started("short3") < started("chain0")


def test_critical_path_shortens_the_run(new_pipegraph):
    """Two cores: a 3 x 0.3 s chain and 8 x 0.15 s short jobs. Shorts first: the
    chain starts after ~0.6 s and ends at ~1.5 s; chain first: ~0.9-1.2 s."""
    wall = {}
    for round_no, critical_path in [(1, True), (2, False), (3, True)]:
        new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=2),
                                    critical_path=critical_path)
        chain_and_shorts(round_no, shorts=8, short=0.15, links=3, link=0.3)
        begin = time.time()
        ppg.run_pipegraph()
        wall[round_no] = time.time() - begin
    assert started("chain0") <= min(started(f"short{i}") for i in range(8)) + 0.05
    assert wall[3] < wall[2] - 0.15, wall
