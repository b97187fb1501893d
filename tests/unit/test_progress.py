"""progress.Progress on the real Scheduler (fake executor): what the status line counts,
the ETA from this run's rule means and from recorded runtimes, and failure groups.

The fake executor reports each job as having run `runtimes[job]` seconds and finishes
jobs in the order they started; its running jobs started at time 0, so the ETA counts
them as nearly done (their whole estimate is subtracted).
"""

from __future__ import annotations

import os

import pypipegraph as ppg
from pypipegraph.events import Listener
from pypipegraph.listeners import OutcomeFields
from pypipegraph.rebuilder import Rebuilder
from pypipegraph.resources import CoreBudget
from pypipegraph.views.progress import Progress
from pypipegraph.views.summary import ending, error_message

from .conftest import FakeExecutor


def trim(of):
    with open(of, "w") as fh:
        fh.write("trimmed")


def broken(of):
    raise ValueError(f"bad input in {of} (line {len(of) * 7})")


class Sampler(Listener):
    """(job started, counts, ETA) at each start, read from the run's Progress."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.samples: list = []

    def on_job_started(self, job, cores) -> None:
        self.samples.append((job.job_id, self.progress.counts(), self.progress.eta()))


def run(driver, graph, slots: int, runtimes: dict) -> tuple[Progress, Sampler]:
    jobs = graph.prepare()
    progress = Progress()
    sampler = Sampler(progress)
    scheduler = graph.scheduler(jobs, Rebuilder(driver.store, driver.notes.append), CoreBudget(slots, 1 << 40),
                                [OutcomeFields(), progress, sampler], executor=FakeExecutor(jobs, slots, runtimes))
    scheduler.run()
    return progress, sampler


def four_trims(driver):
    graph = driver.new_graph()
    for i in range(4):
        ppg.FileGeneratingJob(f"out/trim{i}", trim)
    return graph


def test_eta_from_the_rule_mean_on_a_first_run_and_from_records_on_a_rerun(driver):
    runtimes = {f"out/trim{i}": 2.0 for i in range(4)}
    progress, sampler = run(driver, four_trims(driver), 2, runtimes)
    etas = [eta for _, _, eta in sampler.samples]
    # nothing ran, nothing recorded: no guess; then 3 left at the mean of 2 s, 2 of them running
    assert etas == [None, None, 1, 0]
    assert sampler.samples[2][1] == {"done": 1, "total": 4, "up_to_date": 0, "ran": 1, "running": 2,
                                     "queued": 0, "failed": 0, "blocked": 0}
    assert (progress.done, progress.ran, progress.total) == (4, 4, 4)  # FunctionInvariants not counted

    for i in range(4):
        os.remove(f"out/trim{i}")  # all four run again, with 2 s recorded each
    progress, sampler = run(driver, four_trims(driver), 2, runtimes)
    assert [eta for _, _, eta in sampler.samples] == [3, 2, 1, 0]  # (8 s - running) on 2 cores


def test_failures_group_by_rule_and_message_and_blocked_jobs_are_counted(driver):
    driver.new_graph()
    for i in range(5):
        bad = ppg.FileGeneratingJob(f"out/bad{i}", broken)
        ppg.FileGeneratingJob(f"out/after{i}", trim).depends_on(bad)
    ppg.FileGeneratingJob("out/fine", trim)
    progress, _ = run(driver, ppg.util.global_pipegraph, 2, {})
    assert (progress.total, progress.done, progress.failed, progress.blocked) == (11, 1, 5, 5)
    (group,) = progress.groups.values()  # five messages differing only in the job and a number
    assert group.rule == "broken" and len(group.jobs) == 5
    assert group.message.startswith("ValueError: bad input in out/bad")
    assert "raise ValueError" in group.traceback

    text = ending(progress, "failed", "logs/ppg_errors.txt", "logs/ppg_run.txt")
    assert text.count("Traceback (most recent call last)") == 1
    assert "  5 jobs of broken (out/bad0, out/bad1, out/bad2 and 2 more): ValueError: bad input" in text
    assert "5 job(s) did not run because an upstream job failed (blocked)." in text
    failed = [job for group in progress.groups.values() for job in group.jobs]
    message = error_message(progress, failed, "see logs")
    assert message.splitlines()[0] == "5 job(s) failed (5 more did not run because of them):"
    assert len(message.splitlines()) == 3  # one line for the group, not one per job


def test_the_status_line_names_queued_jobs_on_a_cluster():
    from pypipegraph.views.progress import status_text

    counts = {"done": 3, "total": 12, "running": 2, "queued": 4, "failed": 0, "blocked": 0}
    assert status_text(counts, 65, None) == ("done 3/12 (25%) · running 2 · queued 4 · failed 0 · "
                                             "blocked 0 · 0:01:05")
    assert "queued" not in status_text({**counts, "queued": 0}, 65, None)
