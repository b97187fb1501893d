"""The scheduler and rebuilder, step by step: order of starts, core budgets, lazy
loaders, failure propagation, early cutoff and temporary files (no process forked)."""

from __future__ import annotations

import os
from pathlib import Path

import pypipegraph as ppg


def write(text: str = "x"):
    def callback(of):
        Path(of).write_text(text)

    return callback


def fail(of):
    raise ValueError("on purpose")


def test_ready_jobs_start_in_priority_order(driver):
    graph = driver.new_graph()
    for name, priority in [("low", -1), ("plain", 0), ("high", 10), ("mid", 5)]:
        ppg.FileGeneratingJob(f"out/{name}", write()).priority = priority
    events = driver.run(graph)
    assert events.of("started") == ["out/high", "out/mid", "out/plain", "out/low"]


def _chain_and_shorts(round_no: int) -> None:
    param = ppg.ParameterInvariant("round", round_no)
    for i in range(3):
        ppg.FileGeneratingJob(f"out/short{i}", write()).depends_on(param)
    previous = None
    for i in range(3):
        job = ppg.FileGeneratingJob(f"out/chain{i}", write()).depends_on(param)
        if previous is not None:
            job.depends_on(previous)
        previous = job


def test_recorded_critical_path_starts_first(driver):
    runtimes = {f"out/chain{i}": 10.0 for i in range(3)}
    first = driver.run((driver.new_graph(), _chain_and_shorts(1))[0], runtimes=runtimes)
    started = first.of("started")  # no history yet: the job that unblocks another first, then definition order
    assert started[0] == "out/chain0" and started.index("out/short0") < started.index("out/short1")
    second = driver.run((driver.new_graph(), _chain_and_shorts(2))[0], runtimes=runtimes)
    assert second.of("started")[0] == "out/chain0"


def test_cores_held_never_exceed_the_budget(driver):
    graph = driver.new_graph()
    for i in range(2):
        ppg.FileGeneratingJob(f"out/three{i}", write()).use_cores(3)
    for i in range(4):
        ppg.FileGeneratingJob(f"out/one{i}", write())
    ppg.FileGeneratingJob("out/all", write()).use_cores(-1)
    events = driver.run(graph, slots=10, cores=4)
    assert len(events.of("finished")) == 7
    assert max(events.held) <= 4
    started = events.of("started")
    assert events.held[started.index("out/all")] == 4  # it holds every core: it runs alone


LOADED = []  # module level: a closure over it would count as a change of the loader


def _load():
    LOADED.append(1)


def test_a_loader_runs_only_when_a_dependant_runs(driver):
    loaded = LOADED
    loaded.clear()

    def graph_with_loader():
        graph = driver.new_graph()
        loader = ppg.DataLoadingJob("load", _load)
        ppg.FileGeneratingJob("out/a", write()).depends_on(loader)
        return graph

    first = driver.run(graph_with_loader())
    assert first.events.index(("finished", "load")) < first.events.index(("started", "out/a"))
    assert loaded == [1]
    second = driver.run(graph_with_loader())
    assert second.of("started") == [] and loaded == [1]  # up to date: the loader is not needed
    os.unlink("out/a")
    third = driver.run(graph_with_loader())
    assert third.of("finished") == ["load", "out/a"] and loaded == [1, 1]


def test_a_failure_blocks_only_its_downstream(driver):
    graph = driver.new_graph()
    broken = ppg.FileGeneratingJob("out/broken", fail)
    middle = ppg.FileGeneratingJob("out/middle", write()).depends_on(broken)
    ppg.FileGeneratingJob("out/last", write()).depends_on(middle)
    ppg.FileGeneratingJob("out/independent", write())
    events = driver.run(graph)
    assert events.of("failed") == ["out/broken"]
    assert events.of("blocked") == ["out/middle", "out/last"]
    assert events.of("finished") == ["out/independent"]
    assert [job.job_id for job in events.failed] == ["out/broken"]
    assert middle.error_reason == "Indirect" and not middle.was_run
    assert isinstance(broken.exception, ValueError)


def test_early_cutoff_keeps_dependants_of_an_unchanged_output(driver):
    def graph_with(parameter):
        graph = driver.new_graph()
        upstream = ppg.FileGeneratingJob("out/up", write("same"))
        upstream.depends_on_params(parameter)
        ppg.FileGeneratingJob("out/down", write()).depends_on(upstream)
        return graph

    assert driver.run(graph_with(1)).of("finished") == ["out/up", "out/down"]
    rerun = driver.run(graph_with(2))
    assert rerun.of("ready") == ["out/up"]
    assert rerun.of("finished") == ["out/up"]
    assert rerun.of("skipped") == ["out/down"]
    assert "out/up: output unchanged, dependants not invalidated" in driver.notes


def test_temp_files_are_removed_after_use_and_kept_for_a_failed_dependant(driver):
    def graph_with(second_callback):
        graph = driver.new_graph()
        temp = ppg.TempFileGeneratingJob("out/temp", write("temp"))
        ppg.FileGeneratingJob("out/first", write()).depends_on(temp)
        ppg.FileGeneratingJob("out/second", second_callback).depends_on(temp)
        return graph

    first = driver.run(graph_with(fail))
    assert first.of("failed") == ["out/second"]
    assert Path("out/temp").exists()  # kept: the failed dependant needs it next time
    second = driver.run(graph_with(write()))
    assert second.of("finished") == ["out/second"]  # the temp job did not run again
    assert "out/temp: temp output kept from an earlier run, reused" in driver.notes
    assert not Path("out/temp").exists()  # every dependant settled: removed
