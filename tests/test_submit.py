"""Jobs run through a submit command (paraschut's custom JobExecutor), with a local
stand-in for sbatch: a shell script that records each call, starts the job script in
the background and prints "Submitted batch job N"."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

import pypipegraph as ppg
from pypipegraph.executors import submit_worker
from pypipegraph.executors.submit import sign

from conftest import read

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the job scripts cannot import this module

MINI_SBATCH = """#!/bin/sh
# a stand-in for sbatch: note the call, run the script (its last argument) in the background
for script; do :; done
echo "$@" >> {calls}
n=$(wc -l < {calls})
cp "$script" "submitted-$n.sh"
(sleep {delay}; sh "$script") > /dev/null 2>&1 &
echo "Submitted batch job $n"
"""


@pytest.fixture
def sbatch(ppg_dir):
    """Makes the stand-in (holding each job `delay` seconds in its "queue"); its calls
    are in calls.txt, one line per submission."""
    def make(delay: float = 0) -> str:
        path = ppg_dir / "mini_sbatch"
        (ppg_dir / "calls.txt").touch()
        path.write_text(MINI_SBATCH.format(calls=ppg_dir / "calls.txt", delay=delay))
        path.chmod(0o755)
        return str(path)
    return make


def new_graph(command, **kwargs):
    return ppg.new_pipegraph(resource_coordinator=ppg.SubmitCoordinator(command, **kwargs), quiet=True,
                             dump_graph=False)


def calls() -> list[str]:
    return Path("calls.txt").read_text().splitlines()


class Holder:
    pass


def write_pid(of, text=""):
    Path(of).write_text(f"{text}{os.getpid()}")


HOLDER = Holder()


def write_loaded(of):
    write_pid(of, HOLDER.data)


def test_jobs_run_through_the_submit_command_in_fresh_pythons(sbatch):
    command = [sbatch(), "-c", "{cores}", "-J", "{name}", "{extra}", "{script}"]

    def build():
        new_graph(command, cores=4)
        loader = ppg.AttributeLoadingJob("data", HOLDER, "data", lambda: "loaded ")
        for i in range(3):
            ppg.FileGeneratingJob(f"out/{i}.txt", write_loaded).depends_on(loader)
        big = ppg.FileGeneratingJob("out/big.txt", write_pid)
        big.cores_needed = 2
        big.cluster(extra=["--gres=gpu:1"])

    build()
    ppg.run_pipegraph()
    pids = {int(read(f"out/{i}.txt").removeprefix("loaded ")) for i in range(3)} | {int(read("out/big.txt"))}
    assert len(pids) == 4 and os.getpid() not in pids  # each job in its own fresh Python
    assert all(read(f"out/{i}.txt").startswith("loaded ") for i in range(3))  # loaders ran there
    made = sorted(calls())
    assert len(made) == 4
    assert any(line.startswith("-c 2 -J out_big.txt --gres=gpu:1 ") for line in made), made
    assert sum(line.startswith("-c 1 -J out_") for line in made) == 3
    assert not os.path.exists(".pypipegraph_submit")  # scripts and results are removed after the run
    build()
    ppg.run_pipegraph()
    assert len(calls()) == 4  # up to date: nothing submitted


def fail_loudly(of):
    print("aligning sample 7")
    raise ValueError("no reads for sample 7")


def test_a_failing_job_reports_its_exception_output_and_traceback(sbatch):
    new_graph([sbatch(), "{script}"])
    job = ppg.FileGeneratingJob("out/fail.txt", fail_loudly)
    ok = ppg.FileGeneratingJob("out/ok.txt", write_pid)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ValueError) and str(job.exception) == "no reads for sample 7"
    assert job.stdout == "aligning sample 7\n"
    errors = read("logs/ppg_errors.txt")
    assert f'File "{__file__}", line' in errors and 'raise ValueError("no reads for sample 7")' in errors
    assert ok.was_run


def die(of):
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_job_whose_process_dies_fails_with_its_exit_status(sbatch):
    new_graph([sbatch(), "{script}"])
    job = ppg.FileGeneratingJob("out/dies.txt", die)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ppg.JobDiedException)
    assert "ended with exit status 137 without a result" in str(job.exception)
    assert str(job.exception).startswith(f"out/dies.txt did not finish on {os.uname().nodename} (pid ")


def test_a_submit_command_that_fails_fails_the_job_with_its_output(ppg_dir):
    new_graph(["sh", "-c", "echo 'sbatch: error: invalid partition' >&2; exit 1", "{script}"])
    job = ppg.FileGeneratingJob("out/a.txt", write_pid)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "the submit command sh exited with code 1: sbatch: error: invalid partition" in str(job.exception)


def test_a_placeholder_the_job_does_not_set_is_named(sbatch):
    new_graph([sbatch(), "-p", "{queue}", "{script}"], defaults={"walltime": "1:00:00"})
    plain = ppg.FileGeneratingJob("out/plain.txt", write_pid)
    routed = ppg.FileGeneratingJob("out/routed.txt", write_pid).cluster(queue="long")
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "out/plain.txt: the submit command uses {queue}, which this job does not set" in str(plain.exception)
    assert routed.was_run and calls()[0].startswith("-p long ")


def test_queued_and_running_jobs_are_told_apart(sbatch):
    """The stand-in holds each job 1.5 s before starting it: the job counts as queued
    until its script announced the start, then as running on this host."""
    new_graph([sbatch(delay=1.5), "{script}"])
    seen = []

    class Sampler(ppg.Listener):
        def on_run_started(self, scheduler):
            self.scheduler = scheduler

        def on_tick(self):
            seen.append((self.scheduler.progress(), self.scheduler.running_jobs(hosts=True)))

    ppg.util.global_pipegraph.listeners.append(Sampler())
    ppg.FileGeneratingJob("out/a.txt", lambda of: (time.sleep(1.5), write_pid(of))[0])
    ppg.run_pipegraph()
    assert any(progress["queued"] == 1 and progress["running"] == 0 for progress, _ in seen)
    running = [row for progress, rows in seen for row in rows if progress["running"] == 1]
    assert running and {row[3] for row in running} == {int(read("out/a.txt"))}
    assert {row[4] for row in running} == {os.uname().nodename}


class _Planted:
    def __reduce__(self):
        return (os.mkdir, ("PLANTED_RAN",))


def test_the_worker_refuses_a_job_list_this_run_did_not_sign(ppg_dir):
    key = os.urandom(32)
    Path("key").write_bytes(key)
    Path("jobs.pickle").write_bytes(sign(os.urandom(32), pickle.dumps(_Planted())))  # another key
    with pytest.raises(ValueError, match="not written by this run"):
        submit_worker.main(["jobs.pickle", "0", "", str(ppg_dir / "job"), "key"])
    assert not os.path.exists("PLANTED_RAN") and not os.path.exists("job.result")
    assert "not written by this run" in read("job.stderr")  # what the master shows as the job's stderr


def test_the_master_refuses_a_result_this_run_did_not_sign(sbatch):
    """A job whose result file was replaced (after it was written) fails instead of
    unpickling it."""
    new_graph([sbatch(), "{script}"])
    job = ppg.FileGeneratingJob("out/a.txt", write_pid)
    original = ppg.executors.submit.SubmitExecutor._look

    def look(self, task):
        result = task.base + ".result"
        if os.path.exists(result) and not os.path.exists("swapped"):
            Path(result).write_bytes(os.urandom(32) + pickle.dumps(_Planted()))
            Path("swapped").touch()
        return original(self, task)

    ppg.executors.submit.SubmitExecutor._look = look
    try:
        with pytest.raises(ppg.RuntimeError):
            ppg.run_pipegraph()
    finally:
        ppg.executors.submit.SubmitExecutor._look = original
    assert "its result could not be read" in str(job.exception) and "not written by this run" in str(job.exception)
    assert not os.path.exists("PLANTED_RAN")


def test_a_submit_command_without_script_placeholder_is_refused():
    with pytest.raises(ValueError, match=r"must contain \{script\}"):
        ppg.SubmitCoordinator("sbatch --wait")


def test_a_running_job_killed_from_the_console_stops(sbatch):
    new_graph([sbatch(), "{script}"])
    job = ppg.FileGeneratingJob("out/slow.txt", lambda of: (time.sleep(60), write_pid(of))[0])

    class Killer(ppg.Listener):
        def on_run_started(self, scheduler):
            self.scheduler = scheduler

        def on_tick(self):
            for running, *_ in self.scheduler.running_jobs():
                self.scheduler.kill_job(running)  # what `kill N` in the console does

    ppg.util.global_pipegraph.listeners.append(Killer())
    started = time.time()
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert time.time() - started < 30
    assert job.failed and job.error_reason == "killed from the console"
    pid = int(str(job.exception).split("(pid ")[1].split(")")[0])
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # its Python is gone
    assert not os.path.exists("out/slow.txt")


def generate(count):
    for i in range(count):
        ppg.FileGeneratingJob(f"out/generated{i}.txt", write_pid)


def test_jobs_generated_in_a_submitted_job_run_too(sbatch):
    new_graph([sbatch(), "{script}"])
    ppg.JobGeneratingJob("generate", lambda: generate(2))
    ppg.run_pipegraph()
    pids = {int(read(f"out/generated{i}.txt")) for i in range(2)}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len(calls()) == 2  # the generator ran in the master (as in 0.197); its jobs were submitted


def test_directives_head_each_job_script_filled_per_job(sbatch):
    new_graph([sbatch(), "{script}"], directives=["#SBATCH --time={walltime}", "#SBATCH -c {cores}"],
              defaults={"walltime": "1:00:00"})
    ppg.FileGeneratingJob("out/a.txt", write_pid).cluster(walltime="24:00:00")
    sneaky = ppg.FileGeneratingJob("out/b.txt", write_pid).cluster(walltime="1:00\ntouch INJECTED")
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert read("submitted-1.sh").splitlines()[:3] == ["#!/bin/sh", "#SBATCH --time=24:00:00", "#SBATCH -c 1"]
    assert "would span lines once filled in" in str(sneaky.exception)
    assert len(calls()) == 1 and not os.path.exists("INJECTED")
