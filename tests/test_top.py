"""`ppg top` against real pipelines started without a terminal (as under nohup, sbatch or
cron): snapshots, stop, abort and kill from another process, the live view on a
pseudo-terminal, and the privacy of the control socket.

The pipeline (test_console.PIPELINE) runs jobs that wait for release files the test writes.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_console import (  # noqa: F401 - workdir: a fixture
    Terminal,
    child_env,
    outcomes,
    release,
    runs,
    wait_for_files,
    workdir,
)

from pypipegraph.views.control import socket_path

STORE = ".pypipegraph_status_robust"


@pytest.fixture
def runtime_dir(tmp_path_factory, monkeypatch):
    """A private runtime directory for the sockets of this test (as $XDG_RUNTIME_DIR)."""
    path = tmp_path_factory.mktemp("runtime")
    path.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


@pytest.fixture
def headless(request, runtime_dir, background):
    """In test_console's work directory (the pipeline, its folders), start the pipeline with no terminal at all: stdin /dev/null, output to a file."""
    request.getfixturevalue("workdir")

    def start(**env: str) -> subprocess.Popen:
        return background.start(child_env(XDG_RUNTIME_DIR=str(runtime_dir), **env))

    return start


def ppg(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pypipegraph", *args], env=child_env(
        XDG_RUNTIME_DIR=os.environ["XDG_RUNTIME_DIR"]), capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def serving(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until the pipeline's control socket answers."""
    deadline = time.time() + timeout
    while ppg("top", "--once", check=False).returncode:
        assert proc.poll() is None, Path("run.out").read_text()
        assert time.time() < deadline, "ppg top never reached the pipeline"
        time.sleep(0.1)


def test_once_shows_the_running_jobs_of_a_headless_run(headless):
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    serving(proc)
    out = ppg("top", "--once").stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"pipeline.py: pid {proc.pid} on ")
    assert lines[0].endswith(f"2 cores, in {os.getcwd()}")
    assert lines[1].startswith("done 0/3 (0%) · running 2 · failed 0 · blocked 0 · 0:00:")
    assert lines[3] == "make.work  0/3 · 2 running"  # progress per rule
    assert lines[5].split() == ["#", "job", "rule", "running", "cores", "pid", "host"]
    rows = {line.split()[1]: line.split() for line in lines[6:8]}
    assert set(rows) == {"out/0", "out/1"}
    for job, row in rows.items():
        assert row[2] == "make.work" and row[4] == "1"
        assert row[5] == Path(f"started/{job[-1]}").read_text()  # the worker's pid
        assert row[6] == socket.gethostname()
    release("all")
    assert proc.wait(timeout=60) == 0
    done = ppg("top", "--once", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == f"ppg top: no pipeline is running on {STORE} in this directory"


def test_kill_from_ppg_top_fails_that_job_only(headless):
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    serving(proc)
    first = ppg("top", "--once").stdout.splitlines()[6].split()[1]  # after the rule and table header lines
    assert ppg("top", "--kill", "1").stdout.strip() == f"killing {first}"
    wait_for_files("started/2")  # the freed core takes the next job
    release("all")
    assert proc.wait(timeout=60) == 1
    output = Path("run.out").read_text()
    assert f"ppg top: killing {first}" in output
    assert f"FAILED {first}: killed from ppg top: JobDiedException" in output
    assert outcomes()[first] == "killed"
    assert ppg("top", "--kill", "out/2", check=False).stderr.startswith("ppg top: no pipeline is running")


def test_stop_from_ppg_top_lets_running_jobs_finish(headless):
    proc = headless(JOBS="5")
    wait_for_files("started/0", "started/1")
    serving(proc)
    answer = ppg("top", "--stop").stdout.strip()
    assert answer == "stopping: no new jobs start; waiting for the running ones to finish"
    assert "(stopping)" in ppg("top", "--once").stdout.splitlines()[0]
    release("all")
    assert proc.wait(timeout=60) == 1
    assert Path("result").read_text().startswith(
        "RunInterrupted: The run was stopped from ppg top after 2 job(s) ran")
    assert [runs(i) for i in range(5)] == [1, 1, 0, 0, 0]
    assert "Traceback" not in Path("run.out").read_text()


def test_abort_from_ppg_top_kills_the_running_jobs(headless):
    proc = headless(JOBS="4")
    wait_for_files("started/0", "started/1")
    serving(proc)
    assert ppg("top", "--abort").stdout.strip() == "aborting: killing the running jobs"
    assert proc.wait(timeout=60) == 1
    output = Path("run.out").read_text()
    assert "The run was aborted from ppg top:" in output
    assert "2 jobs of make.work (out/0, out/1): aborted from ppg top: JobDiedException" in output \
        or "2 jobs of make.work (out/1, out/0): aborted from ppg top: JobDiedException" in output
    assert outcomes() == {"out/0": "killed", "out/1": "killed"}


def test_live_view_on_a_terminal_takes_commands(headless):
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    serving(proc)
    top = TopTerminal()
    try:
        top.expect(r"^done 0/3 \(0%\) · running 2 · failed 0 · blocked 0 · 0:00:\d\d")
        top.expect(r"^1\s+out/\d\s+make\.work\s+0:00:\d\d\s+1\s+\d+\s+\S+$")
        top.send("kill 1\n")
        top.expect(r"^killing out/\d$")
        top.expect(r"· failed 1 ·")
        release("all")
        top.expect(r"the run ended")
        assert top.wait() == 0
    finally:
        top.close()
    assert proc.wait(timeout=60) == 1


class TopTerminal(Terminal):
    """`ppg top` on a pseudo-terminal (the Terminal of test_console runs other programs too)."""

    def __init__(self):
        import fcntl
        import pty
        import struct
        import termios

        environment = child_env(XDG_RUNTIME_DIR=os.environ["XDG_RUNTIME_DIR"])
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child: only exec
            try:
                os.execve(sys.executable, [sys.executable, "-m", "pypipegraph", "top", "--interval", "0.3"],
                          environment)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.raw, self.seen, self.status, self.rusage, self.eof = b"", 0, None, None, False


def test_the_socket_is_private_and_a_shared_directory_is_refused(headless, runtime_dir):
    proc = headless(JOBS="2")
    wait_for_files("started/0", "started/1")
    serving(proc)
    path = Path(socket_path(STORE))
    assert path.parent == runtime_dir / "pypipegraph"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # the protocol, spoken directly
    client.connect(str(path))
    client.sendall(b'{"ask": "frobnicate"}\n')
    assert json.loads(client.makefile().read()) == {"error": "unknown request 'frobnicate'"}
    client.close()
    release("all")
    assert proc.wait(timeout=60) == 0
    assert not path.exists()  # removed when the run ended

    path.parent.chmod(0o755)  # someone opened the directory up: no socket is served in it
    for name in ("master.pid", "result"):
        os.remove(name)
    proc = headless(JOBS="2")
    wait_for_files("master.pid")
    done = ppg("top", "--once", check=False)
    assert done.returncode == 1
    assert "is not a private directory of yours" in done.stderr and "mode 0755" in done.stderr
    assert proc.wait(timeout=60) == 0  # the run itself goes on without a live view
    assert "note: no live view for ppg top in this run:" in Path("run.out").read_text()
