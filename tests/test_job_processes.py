"""A job's processes: what it starts ends with it, and only the job's own process reports.

Each case runs with the compiled zygote loop, the pure-Python one (forced by the
environment variable) and reused workers, with real programs (`sh`, `sleep`) and real
forked helpers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_command_jobs import alive, wait_for
from test_top import ppg as ppg_cli
from test_top import runtime_dir, serving  # noqa: F401 - runtime_dir: a fixture

import pypipegraph as ppg
from pypipegraph.executors import zygote

from conftest import read

ROOT = str(Path(__file__).resolve().parent.parent)
MODES = ["compiled loop", "python loop", "reused workers"]


@pytest.fixture(params=MODES)
def mode(request, monkeypatch) -> bool:
    """The way jobs run; True when workers are reused."""
    if request.param == "compiled loop" and zygote._forkserver is None:
        pytest.skip("built without a C compiler: no compiled zygote loop")
    monkeypatch.setenv(zygote.PURE_PYTHON_ENV, "1" if request.param == "python loop" else "0")
    return request.param == "reused workers"


STARTS_A_PROGRAM = """
import os, subprocess
from pathlib import Path
import pypipegraph as ppg
ppg.new_pipegraph(quiet=True, reuse_workers={reuse})

def start(of):
    Path("job.pid").write_text(str(os.getpid()))
    subprocess.run(["sh", "-c", "sleep 20 & echo $$ $! > pids.tmp; mv pids.tmp pids; wait; echo late > late.txt"])
    Path(of).write_text("done")

ppg.FileGeneratingJob("out/a", start)
ppg.run()
"""


@pytest.mark.parametrize("how", ["ctrl-c", "ppg top --kill", "kill -9 of the master"])
def test_a_stopped_job_leaves_none_of_its_programs_running(ppg_dir, runtime_dir, mode, how):  # noqa: F811
    """The job's shell and its `sleep` are gone once the job is (the shell would write
    late.txt when the sleep ends: it is gone, so it never will)."""
    Path("pipeline.py").write_text(STARTS_A_PROGRAM.format(reuse=mode))
    env = dict(os.environ, PYTHONPATH=ROOT)
    with open("run.out", "w") as log:
        proc = subprocess.Popen([sys.executable, "pipeline.py"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: os.path.exists("pids"))
        shell, sleeper = (int(pid) for pid in read("pids").split())
        job = int(read("job.pid"))
        assert alive(shell) and alive(sleeper)
        if how == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        elif how == "ppg top --kill":
            serving(proc)
            assert ppg_cli("top", "--kill", "1").stdout.strip() == "killing out/a"
        else:
            proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    for pid in (job, shell, sleeper):
        wait_for(lambda pid=pid: not alive(pid), timeout=10)
    assert proc.returncode != 0
    assert not os.path.exists("late.txt")
    assert not os.path.exists("out/a")
    if how == "ppg top --kill":
        assert "out/a: killed from ppg top: JobDiedException" in read("run.out")


def _gone(pid: int) -> bool:
    return not alive(pid)


def _until(predicate) -> None:
    deadline = time.time() + 30
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("helper_ends", ["raises", "returns"])
def test_a_forked_helper_of_a_job_never_reports(new_pipegraph, mode, helper_ends):
    """One core: a job forks a helper that outlives it and then raises (or returns) where the
    job's code would; the next job is not blamed, nor cut short; the first output stays."""
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(1), reuse_workers=mode)

    def first(of):
        with open("ran", "a") as fh:
            fh.write("a")
        helper = os.fork()
        if helper == 0:
            _until(lambda: os.path.exists("out/b.started"))
            if helper_ends == "raises":
                raise RuntimeError("helper child failed")
            return
        Path("helper.pid").write_text(str(helper))
        Path(of).write_text("first")

    def follower(before):
        def write(of):
            Path(of + ".started").write_text(str(os.getpid()))
            text = Path(before).read_text()
            _until(lambda: _gone(int(read("helper.pid"))))  # the helper ended while this job runs
            Path(of).write_text(text + "+")
        return write

    def define():
        a = ppg.FileGeneratingJob("out/a", first)
        b = ppg.FileGeneratingJob("out/b", follower("out/a")).depends_on(a)
        ppg.FileGeneratingJob("out/c", follower("out/b")).depends_on(b)

    define()
    ppg.run()
    assert (read("out/a"), read("out/b"), read("out/c")) == ("first", "first+", "first++")
    for name in ("out/b", "out/c"):
        assert not alive(int(read(name + ".started")))  # nothing ran on after the run
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(1), reuse_workers=mode)
    define()
    ppg.run()  # all three were recorded as done: nothing reruns
    assert read("ran") == "a"


def test_the_compiled_loop_is_built_where_a_compiler_is():
    """The install builds the extension on Linux with a C compiler; the fallback is explicit."""
    if not sys.platform.startswith("linux") or not any(
            os.path.exists(os.path.join(d, "cc")) for d in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("no C compiler on this machine: the pure-Python loop is the one")
    assert zygote._forkserver is not None
    os.environ.pop(zygote.PURE_PYTHON_ENV, None)
    assert zygote.compiled_loop_available()
    os.environ[zygote.PURE_PYTHON_ENV] = "1"
    try:
        assert not zygote.compiled_loop_available()
    finally:
        del os.environ[zygote.PURE_PYTHON_ENV]

