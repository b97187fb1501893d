"""On a first run (no recorded runtimes), a job that gates many others starts before
jobs that gate nothing. Order is read from the run's events (conftest.Order)."""

from pathlib import Path

import pypipegraph as ppg

from conftest import Order


def write(of):
    Path(of).write_text("x")


def test_a_job_gating_many_starts_first_when_nothing_is_recorded(new_pipegraph):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=1))
    order = Order.attach()
    for i in range(6):
        ppg.FileGeneratingJob(f"out/alone{i}", write)  # defined first: ready first, gate nothing
    gate = ppg.FileGeneratingJob("out/gate", write)
    for i in range(10):
        ppg.FileGeneratingJob(f"out/waits{i}", write).depends_on(gate)
    ppg.run_pipegraph()
    started = order.started()
    assert started.index("out/gate") < min(started.index(f"out/alone{i}") for i in range(6)), started
