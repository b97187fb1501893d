"""Named, counted resources: `new_pipegraph(resources=...)` and `job.needs()`.

What ran at the same time is read from the run's events (conftest.Order)."""

from pathlib import Path

import pytest
from test_resources import overlap, timed

import pypipegraph as ppg

from conftest import Order


def max_overlap(order: Order, names, units=None) -> int:
    """The most units (default: one per job) the named jobs held at one moment."""
    return order.most_held({f"out/{name}": units[name] if units else 1 for name in names})


def test_at_most_n_instances_of_a_kind(new_pipegraph):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=4),
                                resources={"downloads": 2})
    order = Order.attach()
    names = [f"dl{i}" for i in range(6)]
    for name in names:
        timed(name, 0.3).needs("downloads")
    free = [timed(f"free{i}", 0.3) for i in range(2)]
    ppg.run_pipegraph()
    assert max_overlap(order, names) == 2
    # the limit is the resource, not the cores: free jobs ran beside two downloads
    assert any(overlap(order, f.job_id.split("/")[1], name) for f in free for name in names)


def test_unknown_resource_fails_before_any_job_runs(new_pipegraph):
    timed("first", 0.0)
    job = timed("db_user", 0.0).needs("db_connections")
    with pytest.raises(ppg.ResourceError) as info:
        ppg.run_pipegraph()
    message = str(info.value)
    assert job.job_id in message and "'db_connections'" in message
    assert "resources={'db_connections': N}" in message
    assert not Path("out/first").exists()


def test_request_larger_than_capacity_fails_before_any_job_runs(new_pipegraph):
    new_pipegraph.new_pipegraph(resources={"db_connections": 2})
    timed("first", 0.0)
    timed("greedy", 0.0).needs("db_connections", 3)
    with pytest.raises(ppg.ResourceError, match=r"out/greedy needs 3 unit\(s\) of resource 'db_connections', but only 2"):
        ppg.run_pipegraph()
    assert not Path("out/first").exists()


@pytest.mark.parametrize("resources, match", [
    ({"db": 0}, "the count of 'db' must be a positive int; got 0"),
    ({"db": 1.5}, "the count of 'db' must be a positive int; got 1.5"),
    ({"": 1}, "names must be non-empty strings"),
    (["db"], "resources must be a dict of name -> count"),
])
def test_malformed_resources_are_refused(new_pipegraph, resources, match):
    with pytest.raises(ValueError, match=match):
        ppg.new_pipegraph(resources=resources)


def test_malformed_needs_are_refused(new_pipegraph):
    job = timed("x", 0.0)
    with pytest.raises(ValueError, match="out/x: needs\\('db', ...\\) takes a positive int; got 0"):
        job.needs("db", 0)
    with pytest.raises(ValueError, match="out/x: needs\\(\\) takes a resource name"):
        job.needs(3)


def test_generated_job_with_unknown_resource_fails_its_generator(new_pipegraph):
    def generate():
        timed("generated", 0.0).needs("nope")

    gen = ppg.JobGeneratingJob("gen", generate)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert gen.failed and "resource 'nope'" in str(gen.exception)
    assert not Path("out/generated").exists()


def test_resources_are_released_after_failures(new_pipegraph):
    new_pipegraph.new_pipegraph(resources={"lock": 1})

    def boom(of):
        raise ValueError("boom")

    ppg.FileGeneratingJob("out/fails", boom).needs("lock")
    later = [timed(f"later{i}", 0.0).needs("lock") for i in range(3)]
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert all(Path(job.job_id).exists() for job in later)
