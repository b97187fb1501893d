"""SIGTERM and SIGHUP to the master (a batch system's time limit, `kill`, a closed
terminal) end the run as Ctrl-C does: running jobs killed, partial outputs removed, the
finished jobs recorded, a summary, and the exit status 128 + the signal's number.

The pipeline is test_console's (jobs that write a partial output, announce themselves in
started/N and wait for release files); it runs as a real subprocess without a terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_console import (  # noqa: F401 - workdir, terminal: fixtures
    child_env,
    outcomes,
    release,
    rerun,
    runs,
    terminal,
    wait_for_files,
    workdir,
)
from test_top import headless, runtime_dir  # noqa: F401 - fixtures

from pypipegraph.plumbing.host import pid_alive

from conftest import read_pid

TIMEOUT = 60


def gone(pid: int, timeout: float = TIMEOUT) -> bool:
    deadline = time.time() + timeout
    while pid_alive(pid):
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_run_as_ctrl_c_does(headless, signum):  # noqa: F811 - the fixture
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    release("0")  # job 0 finishes and is recorded; job 2 takes its core
    wait_for_files("started/2")
    workers = [read_pid(f"started/{i}") for i in (1, 2)]
    os.kill(proc.pid, signum)
    assert proc.wait(timeout=TIMEOUT) == 128 + signum
    output = Path("run.out").read_text()
    name = signal.Signals(signum).name
    assert f"The run was ended by {name}" in output and "partial outputs removed" in output
    assert f"pypipegraph: The run was ended by {name} after 1 job(s) ran" in output
    assert f"Exit status {128 + signum}." in output
    assert "Traceback" not in output
    assert Path("result").read_text().startswith(f"RunTerminated: The run was ended by {name}")
    assert Path("out/0").read_text() == "partial done"  # finished: kept
    assert not Path("out/1").exists() and not Path("out/2").exists()  # partial: removed
    assert all(gone(pid) for pid in workers)
    assert outcomes()["out/0"] == "done"
    rerun(3)  # the finished job is not redone; the killed ones run again
    assert [runs(i) for i in range(3)] == [1, 2, 2]




def test_a_signal_the_script_ignores_stays_ignored(headless):  # noqa: F811 - the fixture
    """nohup: SIGHUP ignored before the run stays ignored during it."""
    Path("pipeline.py").write_text("import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
                                   + Path("pipeline.py").read_text())
    proc = headless(JOBS="2")
    wait_for_files("started/0", "started/1")
    os.kill(proc.pid, signal.SIGHUP)
    release("all")
    assert proc.wait(timeout=TIMEOUT) == 0
    assert [runs(i) for i in range(2)] == [1, 1]


SUBMIT_PIPELINE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import pypipegraph as ppg

    def work(of):
        with open(of, "w") as fh:
            fh.write("partial")
            fh.flush()
            Path("started").write_text(str(os.getpid()))
            deadline = time.time() + 60
            while not os.path.exists("release"):
                assert time.time() < deadline, "never released"
                time.sleep(0.01)
            fh.write(" done")

    ppg.new_pipegraph(resource_coordinator=ppg.SubmitCoordinator("./mini_sbatch {script}", cores=1),
                      quiet=True)
    ppg.FileGeneratingJob("out/a", work)
    ppg.run()
""")

MINI_SBATCH = """#!/bin/sh
for script; do :; done
(sh "$script") > /dev/null 2>&1 &
echo "Submitted batch job $$"
"""


@pytest.fixture
def submit_project(tmp_path, monkeypatch):
    """A project whose pipeline submits its job through `mini_sbatch` (a background shell)."""
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    Path("pipeline.py").write_text(SUBMIT_PIPELINE)
    Path("mini_sbatch").write_text(MINI_SBATCH)
    Path("mini_sbatch").chmod(0o755)
    return tmp_path


def test_sigterm_on_a_submit_run_kills_the_batch_job_and_leaves_no_files(submit_project, background):
    proc = background.start(child_env())
    wait_for_files("started")
    job = read_pid("started")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=TIMEOUT) == 143, Path("run.out").read_text()
    assert gone(job)  # the batch job's Python was killed, not left to finish
    assert not Path("out/a").exists()
    assert not Path(".pypipegraph_submit").exists()
    assert "The run was ended by SIGTERM" in Path("run.out").read_text()


def test_the_files_of_a_submit_run_killed_by_sigkill_are_removed_by_the_next_run(submit_project, background):
    proc = background.start(child_env(), log=None)
    wait_for_files("started")
    job = read_pid("started")
    os.kill(proc.pid, signal.SIGKILL)  # cannot be caught: its directory stays behind
    proc.wait(timeout=TIMEOUT)
    os.killpg(os.getpgid(job), signal.SIGKILL)
    assert len(list(Path(".pypipegraph_submit").iterdir())) == 1
    Path("release").write_text("")
    done = subprocess.run([sys.executable, "pipeline.py"], env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path("out/a").read_text() == "partial done"
    assert not Path(".pypipegraph_submit").exists()


def test_a_closed_terminal_ends_the_run_as_sighup_does(terminal):  # noqa: F811 - the fixture
    """The terminal goes away (an ssh session dropped): the kernel sends SIGHUP to the
    master, which can no longer print to it; the run still ends cleanly and records."""
    term = terminal(JOBS="3")
    wait_for_files("started/0", "started/1")
    release("0")
    wait_for_files("started/2")
    workers = [read_pid(f"started/{i}") for i in (1, 2)]
    os.close(term.fd)  # hang up
    deadline = time.time() + TIMEOUT
    while not (pid_status := os.waitpid(term.pid, os.WNOHANG))[0]:
        assert time.time() < deadline, "the run did not end after its terminal hung up"
        time.sleep(0.02)
    term.status = pid_status[1]
    term.fd = os.open(os.devnull, os.O_RDONLY)  # for the fixture's close()
    assert os.waitstatus_to_exitcode(term.status) == 129
    assert Path("result").read_text().startswith("RunTerminated: The run was ended by SIGHUP")
    assert Path("out/0").read_text() == "partial done"
    assert not Path("out/1").exists() and not Path("out/2").exists()
    assert all(gone(pid) for pid in workers)
    assert outcomes()["out/0"] == "done"
