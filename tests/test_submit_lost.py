"""A batch job that ends without a word (cancelled, killed at its walltime, lost with its
node) fails its job within a bounded time instead of leaving the run waiting for ever:
noticed by its pid when it ran on this host, by its heartbeat, or by the batch system's
status command. The pipeline runs as a real subprocess with a stand-in for sbatch (and
squeue); the batch job is killed, frozen or cancelled from outside, as a batch system would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from test_command_jobs import alive
from test_console import child_env, wait_for_files

from conftest import read_pid

TIMEOUT = 60

PIPELINE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import pypipegraph as ppg

    def held(of):
        Path("started." + str(os.getpid())).write_text(str(os.getpid()))
        os.rename("started." + str(os.getpid()), "started")
        deadline = time.time() + 60
        while not os.path.exists("release"):
            assert time.time() < deadline, "never released"
            time.sleep(0.01)
        Path(of).write_text("done")

    def quick(of):
        Path(of).write_text("done")

    options = eval(os.environ["OPTIONS"])
    ppg.new_pipegraph(resource_coordinator=ppg.SubmitCoordinator(**options), quiet=True, dump_graph=False)
    lost = ppg.FileGeneratingJob("out/lost", held)
    fine = ppg.FileGeneratingJob("out/fine", quick)
    try:
        ppg.run()
        Path("result").write_text("ok")
    except ppg.RuntimeError:
        Path("result").write_text(str(lost.exception) + "\\n" + str(fine.exception))
""")

# runs each job script in the background, in the stand-in's process group (as a batch job's
# processes are one group the batch system can kill); notes each queued or running job in queue/
MINI_SBATCH = """#!/bin/sh
for script; do :; done
n=$$
echo "$script" > queue/$n
if [ "$2" != out_queued ]; then (sh "$script"; rm -f queue/$n) > /dev/null 2>&1 & fi
echo "Submitted batch job $n"
"""

MINI_SQUEUE = """#!/bin/sh
[ -e queue/$1 ] && echo RUNNING
exit 0
"""


@pytest.fixture
def pipeline(tmp_path, monkeypatch, background):
    """Start the pipeline with the SubmitCoordinator options given; the process is killed
    (with every batch job left) after the test."""
    monkeypatch.chdir(tmp_path)
    for name in ("out", "queue"):
        Path(name).mkdir()
    Path("pipeline.py").write_text(PIPELINE)
    for name, text in (("mini_sbatch", MINI_SBATCH), ("mini_squeue", MINI_SQUEUE)):
        Path(name).write_text(text)
        Path(name).chmod(0o755)

    def start(**options) -> subprocess.Popen:
        options.setdefault("submit", "./mini_sbatch -J {name} {script}")
        return background.start(child_env(OPTIONS=repr(options)))

    yield start
    background.stop()
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    groups.clear()


groups: list[int] = []  # process groups of batch jobs a test froze


def ended(proc: subprocess.Popen) -> str:
    """Wait (bounded) for the run to end; what it wrote about its two jobs."""
    try:
        proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("the run still waits for a batch job that ended:\n" + Path("run.out").read_text())
    return Path("result").read_text()


def test_a_batch_job_killed_from_outside_fails_once_its_process_is_gone(pipeline):
    proc = pipeline(cores=2)  # the default lost_after (5 minutes) is far longer than the test may wait
    wait_for_files("started")
    pid = read_pid("started")
    os.killpg(os.getpgid(pid), signal.SIGKILL)  # scancel: the job script and everything in it
    lost, fine = ended(proc).splitlines()
    assert "on this host is gone" in lost and f"its process {pid}" in lost
    assert "out/lost did not finish" in lost and "ended without a result" in lost
    assert lost.split("batch job ")[1].split()[0].isdigit()  # names the cluster's job id
    assert fine == "None" and Path("out/fine").read_text() == "done"
    assert not Path("out/lost").exists()


def test_a_frozen_batch_job_fails_once_its_heartbeat_stops(pipeline):
    proc = pipeline(cores=2, lost_after=2)
    wait_for_files("started")
    pid = read_pid("started")
    group = os.getpgid(pid)
    groups.append(group)
    os.killpg(group, signal.SIGSTOP)  # a node that stopped answering: nothing in the job runs
    lost, fine = ended(proc).splitlines()
    assert "out/lost did not finish" in lost and "its heartbeat stopped" in lost
    assert fine == "None"
    Path("release").write_text("")
    os.killpg(group, signal.SIGCONT)  # thawed, the job must not write its output any more:
    assert not alive(pid)
    assert not Path("out/lost").exists()


def queued_job() -> str | None:
    """The cluster id of the job that waits in the stand-in's queue, once it is there."""
    for path in Path("queue").iterdir():
        name = path.read_text().strip()  # empty while the stand-in is still writing it
        script = Path(name)
        if name and script.is_file() and "'out/queued'" in script.read_text():
            return path.name
    return None


def test_a_queued_batch_job_cancelled_from_outside_fails_by_the_status_command(pipeline):
    Path("pipeline.py").write_text(PIPELINE.replace('"out/lost"', '"out/queued"'))
    proc = pipeline(cores=2, lost_after=2, status="./mini_squeue {cluster_id}")
    deadline = time.time() + TIMEOUT
    while (cluster_id := queued_job()) is None:
        assert proc.poll() is None and time.time() < deadline, Path("run.out").read_text()
        time.sleep(0.01)
    Path("queue", cluster_id).unlink()  # scancel of a pending job: the batch system forgets it
    lost, fine = ended(proc).splitlines()
    assert f"out/queued did not finish: batch job {cluster_id} ended without a result" in lost
    assert "./mini_squeue {cluster_id}` no longer lists it" in lost
    assert fine == "None" and Path("out/fine").read_text() == "done"  # listed while it ran: not lost
