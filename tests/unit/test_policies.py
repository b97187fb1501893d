"""Scheduling policies on a simulated clock: cores, memory, named resources, priorities and
the critical path, each proven by the exact sequence of starts (no process forked, no time
measured). The real-process tests (tests/test_resources.py, test_named_resources.py,
test_priorities.py) keep one check per policy that real workers obey it."""

from __future__ import annotations

from pathlib import Path

import pytest

import pypipegraph as ppg


def job(name: str, cores: int = 1):
    def write(of):
        Path(of).write_text(name)

    return ppg.FileGeneratingJob(f"out/{name}", write).use_cores(cores)


def ids(*names: str) -> list[str]:
    return [f"out/{name}" for name in names]


# --- cores and memory -------------------------------------------------------------------

def test_an_all_cores_job_runs_alone(driver):
    graph = driver.new_graph()
    job("big", -1)
    job("small1"), job("small2")
    run = driver.run(graph, slots=4, cores=2)
    assert not run.overlap("out/big", "out/small1") and not run.overlap("out/big", "out/small2")
    assert run.overlap("out/small1", "out/small2")  # the two cores were used side by side


def test_a_minus_two_job_lets_one_core_jobs_run_beside_it_but_not_another(driver):
    graph = driver.new_graph()
    job("wide1", -2), job("wide2", -2), job("small")
    run = driver.run(graph, slots=4, cores=2)
    assert run.overlap("out/wide1", "out/small")
    assert not run.overlap("out/wide1", "out/wide2")


def test_a_multi_core_job_waits_for_free_cores(driver):
    graph = driver.new_graph()
    job("one1"), job("two", 2), job("one2")
    run = driver.run(graph, slots=4, cores=2, runtimes={"out/one1": 3.0})
    assert not run.overlap("out/two", "out/one1") and not run.overlap("out/two", "out/one2")
    assert max(run.held) <= 2


def test_memory_needed_counts_as_the_cores_whose_share_it_takes(driver):
    graph = driver.new_graph()
    hungry = job("hungry")
    hungry.memory_needed = 8 << 30  # all of 8 GiB on 2 cores: both cores' share
    job("other")
    half = job("half")
    half.memory_needed = 4 << 30  # one core's share: runs beside a one-core job
    run = driver.run(graph, slots=4, cores=2, memory=8 << 30)
    assert not run.overlap("out/hungry", "out/other") and not run.overlap("out/hungry", "out/half")
    assert run.overlap("out/half", "out/other")


def test_a_job_that_can_never_fit_fails_and_blocks_only_its_downstream(driver):
    graph = driver.new_graph()
    too_big = job("too_big", 3)
    job("after").depends_on(too_big)
    job("fine")
    run = driver.run(graph, slots=4, cores=2)
    assert run.of("failed") == ids("too_big") and run.of("blocked") == ids("after")
    assert run.of("finished") == ids("fine")
    assert too_big.error_reason == "Needed to much memory/cores"  # 0.197's words


# --- named resources --------------------------------------------------------------------

def test_at_most_n_jobs_hold_a_named_resource(driver):
    graph = driver.new_graph(resources={"downloads": 2})
    downloads = [job(f"dl{i}").needs("downloads") for i in range(6)]
    job("free")
    run = driver.run(graph, slots=8, cores=8)
    assert run.most_held({d.job_id: 1 for d in downloads}) == 2
    assert any(run.overlap("out/free", d.job_id) for d in downloads)  # the limit is not the cores


def test_units_count_against_the_capacity_and_a_lock_serialises(driver):
    graph = driver.new_graph(resources={"gpu_gb": 16, "lock": 1})
    job("big").needs("gpu_gb", 12)
    job("small1").needs("gpu_gb", 4)
    job("small2").needs("gpu_gb", 4)
    job("a").needs("lock")
    job("b").needs("lock")
    run = driver.run(graph, slots=8, cores=8)
    assert run.most_held({"out/big": 12, "out/small1": 4, "out/small2": 4}) == 16
    assert not run.overlap("out/a", "out/b")


def test_a_failed_job_releases_its_named_resource(driver):
    graph = driver.new_graph(resources={"lock": 1})

    def boom(of):
        raise ValueError("boom")

    ppg.FileGeneratingJob("out/fails", boom).needs("lock")
    later = [job(f"later{i}").needs("lock") for i in range(3)]
    run = driver.run(graph, slots=4, cores=4)
    assert run.of("failed") == ["out/fails"]
    assert sorted(run.of("finished")) == sorted(j.job_id for j in later)


def test_an_unknown_resource_is_refused_before_any_job_runs(driver):
    graph = driver.new_graph()
    job("first")
    job("db_user").needs("db")
    with pytest.raises(ppg.ResourceError, match="out/db_user"):
        driver.run(graph)
    assert not Path("out/first").exists()


# --- order: priorities and the critical path ------------------------------------------------

def chain_and_shorts(round_no: int, shorts: int = 8, links: int = 3) -> None:
    param = ppg.ParameterInvariant("round", round_no)
    for i in range(shorts):
        job(f"short{i}").depends_on(param)
    previous = None
    for i in range(links):
        link = job(f"chain{i}").depends_on(param)
        if previous is not None:
            link.depends_on(previous)
        previous = link


RUNTIMES = {**{f"out/short{i}": 1.0 for i in range(8)}, **{f"out/chain{i}": 2.0 for i in range(3)}}


def test_the_critical_path_starts_first_and_shortens_the_run(driver):
    driver.run((driver.new_graph(), chain_and_shorts(1))[0], slots=2, runtimes=RUNTIMES)
    off = driver.run((driver.new_graph(critical_path=False), chain_and_shorts(2))[0], slots=2,
                     runtimes=RUNTIMES)
    on = driver.run((driver.new_graph(), chain_and_shorts(3))[0], slots=2, runtimes=RUNTIMES)
    assert off.of("started")[:2] == ids("short0", "short1")  # definition order
    assert on.of("started")[0] == "out/chain0"
    # two cores, 8 x 1 s and a 3 x 2 s chain: 14 s of work, at best 7 s (the chain on one
    # core, the shorts on the other); the chain last: 4 s of shorts, then 6 s on one core
    assert (on.clock, off.clock) == (7.0, 10.0)


def test_a_user_priority_beats_the_critical_path(driver):
    driver.run((driver.new_graph(), chain_and_shorts(1))[0], runtimes=RUNTIMES)
    graph = driver.new_graph()
    chain_and_shorts(2)
    graph.jobs["out/short3"].priority = 1
    assert driver.run(graph, runtimes=RUNTIMES).of("started")[0] == "out/short3"
