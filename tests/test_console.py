"""The console while a graph runs, driven through a real pseudo-terminal.

Each pipeline runs in its own process with a pty as its controlling terminal (stdin and
stdout), as when a user starts it in a shell. The jobs wait for release files the test
writes, so what runs when is decided by the test, not by sleeps.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

from pypipegraph.store.reader import StoreReader

ROOT = str(Path(__file__).resolve().parent.parent)
STORE = ".pypipegraph_status_robust"
TIMEOUT = 30.0  # generous: the expected things normally happen within a second

PIPELINE = textwrap.dedent(
    """
    import os, resource, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    Path("master.pid").write_text(str(os.getpid()))
    N = int(os.environ.get("JOBS", "4"))
    FAIL = bool(os.environ.get("FAIL"))  # every job raises the same error (its number aside)
    SLEEP = float(os.environ.get("SLEEP", "0"))  # > 0: sleep instead of waiting for release files

    def make(i):
        def work(of):
            with open("counts/" + str(i), "a") as fh:
                fh.write("x")
            with open(of, "w") as fh:
                fh.write("partial")
                fh.flush()
                if FAIL:
                    raise ValueError("bad input in sample " + str(i))
                # started/i appears (with the worker's pid) once the partial output is written
                Path("started/." + str(i)).write_text(str(os.getpid()))
                os.rename("started/." + str(i), "started/" + str(i))
                if SLEEP:
                    time.sleep(SLEEP)
                else:
                    deadline = time.time() + 60
                    while not (os.path.exists("release/" + str(i)) or os.path.exists("release/all")):
                        assert time.time() < deadline, "never released"
                        time.sleep(0.01)
                fh.write(" done")
        return work

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2),
                      quiet=bool(os.environ.get("QUIET")))
    for i in range(N):
        ppg.FileGeneratingJob("out/" + str(i), make(i))
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        ppg.run()
        outcome = "ok"
    except BaseException as exc:
        outcome = type(exc).__name__ + ": " + (str(exc).splitlines() or [""])[0]
        raise
    finally:
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        Path("cpu").write_text(str(cpu))
        Path("result").write_text(outcome)
    """
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("out", "counts", "started", "release"):
        (tmp_path / name).mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    return tmp_path


def child_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPIPEGRAPH")}
    env.update(PYTHONPATH=ROOT, TERM="xterm", **extra)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


class Terminal:
    """The pipeline on a pseudo-terminal: send keys, wait for text, wait for the end."""

    def __init__(self, **env: str):
        environment = child_env(**env)
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child: only exec
            try:
                # a shell starting tests in the background ignores SIGINT: Ctrl-C must work here
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(sys.executable, [sys.executable, "pipeline.py"], environment)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.raw = b""
        self.seen = 0  # expect() looks after this position of the text
        self.status = None
        self.rusage = None
        self.eof = False

    @property
    def text(self) -> str:
        """The output without colours; a redrawn line (carriage return) counts as a new line."""
        text = self.raw.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        return ANSI.sub("", text)

    def _pump(self, timeout: float) -> None:
        if self.eof:
            time.sleep(timeout)
        elif select.select([self.fd], [], [], timeout)[0]:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: every process closed the terminal
                data = b""
            self.raw += data
            self.eof = not data
        if self.status is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.status, self.rusage = status, rusage

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match:
        """Wait until `pattern` (a regex) appears in the output after the last match."""
        deadline = time.time() + timeout
        while True:
            match = re.compile(pattern, re.M).search(self.text, self.seen)
            if match:
                self.seen = match.end()
                return match
            assert time.time() < deadline, f"{pattern!r} did not appear; output:\n{self.text}"
            assert self.status is None or self._drained(), (
                f"the pipeline exited before {pattern!r} appeared; output:\n{self.text}")
            self._pump(0.05)

    def _drained(self) -> bool:
        return self.eof or not select.select([self.fd], [], [], 0)[0]

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the end (reading the terminal meanwhile); returns the exit code."""
        deadline = time.time() + timeout
        while self.status is None:
            assert time.time() < deadline, f"the pipeline did not end; output:\n{self.text}"
            self._pump(0.05)
        while not self._drained():
            self._pump(0)
        return os.waitstatus_to_exitcode(self.status)

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal(workdir):
    started = []

    def start(**env: str) -> Terminal:
        term = Terminal(**env)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def wait_for_files(*names: str, timeout: float = TIMEOUT) -> None:
    deadline = time.time() + timeout
    while not all(os.path.exists(name) for name in names):
        assert time.time() < deadline, f"missing {[n for n in names if not os.path.exists(n)]}"
        time.sleep(0.01)


def release(*jobs) -> None:
    for job in jobs:
        Path(f"release/{job}").write_text("")


def runs(i: int) -> int:
    path = Path(f"counts/{i}")
    return len(path.read_text()) if path.exists() else 0


def rerun(jobs: int) -> None:
    """The same pipeline again, without a terminal, every job released."""
    release("all")
    done = subprocess.run([sys.executable, "pipeline.py"], env=child_env(JOBS=str(jobs)), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def outcomes() -> dict[str, str]:
    """Each job's outcome in the last run, from the store."""
    reader = StoreReader(STORE)
    try:
        return {job_id: row.outcome for job_id, row in reader.last_runs().items()}
    finally:
        reader.close()


# --- the tests -----------------------------------------------------------------


def test_enter_lists_the_running_jobs_and_help_lists_the_commands(terminal):
    term = terminal(JOBS="3")
    term.expect(r"Press Enter for the running jobs, type 'help' for commands\.")
    wait_for_files("started/0", "started/1")
    term.expect(r"^done 0/3 \(0%\) · running 2 · failed 0 · blocked 0 · 0:00:0\d$")
    term.send("\n")
    header = term.expect(r"^#\s+job\s+rule\s+running\s+cores\s+pid\s+host$")
    rows = term.expect(r"^1\s+(out/\d)\s+make\.work\s+0:00:0\d\s+1\s+(\d+)\s+\S+\n"
                       r"2\s+(out/\d)\s+make\.work\s+0:00:0\d\s+1\s+(\d+)\s+\S+$")
    assert header.start() < rows.start()
    assert {rows.group(1), rows.group(3)} == {"out/0", "out/1"}
    pids = {Path(f"started/{job[-1]}").read_text() for job in (rows.group(1), rows.group(3))}
    assert pids == {rows.group(2), rows.group(4)}  # the workers' pids
    term.send("hel")  # typed, not yet entered: on its own line below the status line
    term.expect(r"^> hel$")
    term.send("p\n")
    term.expect(r"^  stop\s+start nothing new")
    term.expect(r"^  kill N\s+kill job number N of the last list")
    term.send("frobnicate\n")
    term.expect(r"unknown command 'frobnicate'; type 'help'")
    term.send("kill 7\n")
    term.expect(r"kill takes a number from the last list of running jobs \(1-2\)")
    release("all")
    assert term.wait() == 0
    term.expect(r"pypipegraph: 3 job\(s\) ran, 0 failed; 3 jobs in the graph \(0:00:\d\d\)\.")
    assert Path("result").read_text() == "ok"
    assert all(Path(f"out/{i}").read_text() == "partial done" for i in range(3))
    assert not re.search(r"\d(hel|help|frob|kill)", term.text)  # typing never lands on the status line


def test_typed_text_never_joins_the_status_line_and_the_terminal_is_restored(terminal):
    term = terminal(JOBS="2")
    wait_for_files("started/0", "started/1")
    term.send("ki")
    term.expect(r"^> ki$")
    term.expect(r"^done \d+/\d+ .*$")  # the status line is redrawn while "ki" is typed
    term.send("\x7f\x7f\n")  # backspace twice, Enter: the running jobs
    term.expect(r"^#\s+job\s+rule")
    release("all")
    assert term.wait() == 0
    assert not re.search(r"\d:\d\d:\d\dki", term.text)
    mode = termios.tcgetattr(term.fd)  # the pty's mode as the pipeline left it: echo and lines again
    assert mode[3] & termios.ECHO and mode[3] & termios.ICANON


def test_eta_appears_once_it_can_be_estimated(terminal):
    term = terminal(JOBS="4", SLEEP="1")  # a first run: nothing recorded
    first = term.expect(r"^done 0/4 \(0%\) · running 2 · .*$").group(0)
    assert "ETA" not in first  # nothing ran yet, nothing recorded: no guess
    # two jobs of the rule took about a second each: the two left take about a second on 2 cores
    term.expect(r"^done 2/4 \(50%\) · running 2 · failed 0 · blocked 0 · 0:00:0\d · ETA 0:00:0[0-2]$")
    assert term.wait() == 0
    for i in range(4):
        os.remove(f"out/{i}")  # the outputs are gone: all four run again
    term = terminal(JOBS="4", SLEEP="1")
    # from the start: four recorded runtimes of about a second on two cores
    term.expect(r"^done 0/4 \(0%\) · running 2 · failed 0 · blocked 0 · 0:00:00 · ETA 0:00:0[12]$")
    assert term.wait() == 0


def test_quiet_shows_no_status_line_but_takes_commands(terminal):
    term = terminal(JOBS="2", QUIET="1")
    wait_for_files("started/0", "started/1")
    term.send("\n")
    term.expect(r"^#\s+job\s+rule\s+running\s+cores\s+pid\s+host$")
    release("all")
    assert term.wait() == 0
    assert "done 0/" not in term.text and "Press Enter" not in term.text
    assert "pypipegraph:" not in term.text


def test_stop_lets_running_jobs_finish_and_starts_nothing_new(terminal):
    term = terminal(JOBS="5")
    wait_for_files("started/0", "started/1")
    term.send("stop\n")
    term.expect(r"stopping: no new jobs start; waiting for the running ones to finish")
    release("all")
    assert term.wait() == 1
    result = Path("result").read_text()
    assert result.startswith("RunInterrupted: The run was stopped from the console after 2 job(s) ran")
    term.expect(r"^The run was stopped \(`stop`\): running jobs finished, nothing new started\.$")
    term.expect(r"^pypipegraph: 2 job\(s\) ran, 0 failed; 5 jobs in the graph")
    term.expect(r"^To continue: run the script again; finished jobs are not redone\.$")
    term.expect(r"^ppg\.RunInterrupted: The run was stopped from the console after 2 job\(s\) ran; .*"
                r"see the summary above$")
    assert "Traceback" not in term.text
    assert Path("out/0").read_text() == Path("out/1").read_text() == "partial done"
    assert [runs(i) for i in range(5)] == [1, 1, 0, 0, 0]  # not started
    assert outcomes() == {"out/0": "done", "out/1": "done"}
    rerun(5)
    assert [runs(i) for i in range(5)] == [1, 1, 1, 1, 1]  # the finished ones were recorded


def test_abort_kills_the_running_jobs_and_removes_their_outputs(terminal):
    term = terminal(JOBS="4")
    wait_for_files("started/0", "started/1")
    term.send("abort\n")
    term.expect(r"aborting: killing the running jobs")
    assert term.wait(), "the run should end with an error"
    result = Path("result").read_text()
    assert result.startswith("RunInterrupted: The run was aborted from the console")
    assert result.endswith("2 job(s) failed or were killed: see logs/ppg_errors.txt.")
    term.expect(r"^The run was aborted \(`abort`\): the running jobs were killed")
    term.expect(r"^  2 jobs of make\.work \(out/[01], out/[01]\): aborted from the console: JobDiedException")
    assert "Traceback" not in term.text
    assert not os.path.exists("out/0") and not os.path.exists("out/1")  # partial outputs removed
    assert [runs(i) for i in range(4)] == [1, 1, 0, 0]
    assert outcomes() == {"out/0": "killed", "out/1": "killed"}
    rerun(4)
    assert [runs(i) for i in range(4)] == [2, 2, 1, 1]
    assert all(Path(f"out/{i}").read_text() == "partial done" for i in range(4))


def test_kill_fails_one_job_and_the_others_go_on(terminal):
    term = terminal(JOBS="3")
    wait_for_files("started/0", "started/1")
    term.send("\n")
    first = term.expect(r"^1\s+(out/\d)\s").group(1)
    other = {"out/0", "out/1"} - {first}
    term.send("kill 1\n")
    term.expect(rf"^killing {first}$")
    term.expect(rf"FAILED {first}: killed from the console: JobDiedException: The worker process \(pid \d+\) running {first} "
                r"was killed by signal SIGKILL")
    wait_for_files("started/2")  # the freed core takes the next job
    release("all")
    assert term.wait() == 1
    assert Path("result").read_text() == "RuntimeError: 1 job(s) failed:"
    assert not os.path.exists(first)
    for job in other | {"out/2"}:
        assert Path(job).read_text() == "partial done"
    assert outcomes() == {first: "killed", **dict.fromkeys(other | {"out/2"}, "done")}
    rerun(3)
    assert sum(runs(i) for i in range(3)) == 4  # only the killed job ran again


@pytest.mark.parametrize("how", ["SIGINT", "ctrl-c"])
def test_ctrl_c_keeps_finished_jobs_and_removes_partial_outputs(terminal, how):
    term = terminal(JOBS="4")
    wait_for_files("started/0", "started/1")
    release(0, 1)
    wait_for_files("started/2", "started/3")  # 0 and 1 finished (their cores are taken again)
    if how == "SIGINT":
        os.kill(term.pid, signal.SIGINT)
    else:
        term.send("\x03")  # the terminal sends SIGINT to the foreground process group
    assert term.wait() == -signal.SIGINT  # Python's exit for an uncaught KeyboardInterrupt: 130 in a shell
    assert Path("result").read_text().startswith("KeyboardInterrupt")
    term.expect(r"^The run was interrupted \(Ctrl-C\): the running jobs were killed, their partial outputs "
                r"removed\.$")
    term.expect(r"^pypipegraph: 2 job\(s\) ran, 0 failed; 4 jobs in the graph")
    term.expect(r"^KeyboardInterrupt: interrupted; see the summary above$")
    assert "Traceback" not in term.text  # no traceback through the engine's frames
    assert Path("out/0").read_text() == Path("out/1").read_text() == "partial done"
    assert not os.path.exists("out/2") and not os.path.exists("out/3")  # killed, partial removed
    for i in (2, 3):  # no worker is left behind
        pid = int(Path(f"started/{i}").read_text())
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{pid}") and "zombie" not in _proc_state(pid):
            assert time.time() < deadline, f"worker {pid} still alive"
            time.sleep(0.02)
    reader = StoreReader(STORE)
    try:
        assert reader.runs()[0].outcome == "interrupted"
    finally:
        reader.close()
    rerun(4)
    assert [runs(i) for i in range(4)] == [1, 1, 2, 2]  # finished jobs were not redone


def test_exit_status_in_a_shell_is_1_for_failures_and_130_for_ctrl_c(workdir):
    """What a shell script calling the pipeline sees in $?."""
    def shell(env: dict, interrupt: bool) -> tuple[str, str]:
        proc = subprocess.Popen(["sh", "-c", f'{sys.executable} pipeline.py; echo "exit=$?"'],
                                env=child_env(**env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        if interrupt:
            wait_for_files("started/0", "started/1")
            os.kill(int(Path("master.pid").read_text()), signal.SIGINT)  # the pipeline only, not sh
        output, _ = proc.communicate(timeout=60)
        return output.strip().splitlines()[-1], output

    last, output = shell({"JOBS": "3", "FAIL": "1", "SLEEP": "0.01"}, interrupt=False)
    assert last == "exit=1", output
    assert "Traceback" in output and "pypipegraph/" not in output  # the user's traceback, not the engine's
    for name in ["master.pid", *map(str, Path("started").iterdir())]:
        os.remove(name)
    last, output = shell({"JOBS": "3"}, interrupt=True)
    assert last == "exit=130", output
    assert "The run was interrupted (Ctrl-C)" in output and "Traceback" not in output


def test_errors_the_script_raises_itself_keep_their_traceback(workdir):
    """The summary's one-line ending is only for the engine's own error, uncaught."""
    script = Path("pipeline.py").read_text().replace(
        "    ppg.run()\n", "    try:\n        ppg.run()\n    except ppg.RuntimeError as exc:\n"
        "        raise SystemError('my own error') from exc\n")
    Path("own.py").write_text(script)
    done = subprocess.run([sys.executable, "own.py"], env=child_env(JOBS="1", FAIL="1"),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Failures (1 job(s), 1 kind):" in done.stdout
    assert done.stderr.rstrip().endswith("SystemError: my own error")
    assert 'File "' in done.stderr and "see the summary above" not in done.stderr


def test_many_failures_with_one_message_print_one_group(terminal):
    term = terminal(JOBS="40", FAIL="1", SLEEP="0.01")
    assert term.wait() == 1
    text = term.text
    assert len(re.findall(r"^FAILED ", text, re.M)) == 2  # the first, and a note that more are counted
    term.expect(r"^FAILED out/\d+: ValueError: bad input in sample \d+$")
    term.expect(r"^FAILED out/\d+: the same error again; further make\.work jobs failing this way are "
                r"counted, not printed$")
    term.expect(r"^pypipegraph: 0 job\(s\) ran, 40 failed; 40 jobs in the graph")
    term.expect(r"^Failures \(40 job\(s\), 1 kind\):$")
    term.expect(r"^  40 jobs of make\.work \(out/\d+, out/\d+, out/\d+ and 37 more\): "
                r"ValueError: bad input in sample \d+$")
    term.expect(r"^      Traceback \(most recent call last\):$")
    term.expect(r'^        File ".*pipeline\.py", line \d+, in work$')
    term.expect(r"^Logs: logs/ppg_errors\.txt|^Logs: none kept")
    term.expect(r"^To continue: fix the failing jobs and run the script again")
    term.expect(r"^ppg\.RuntimeError: 40 job\(s\) failed; see the summary above$")
    assert text.count("Traceback") == 1  # the first failure's, once; no engine traceback
    result = Path("result").read_text()
    assert result == "RuntimeError: 40 job(s) failed:"
    assert len(text.splitlines()) < 40  # the output does not grow with the failures


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


# --- without a terminal on stdin ------------------------------------------------


@pytest.mark.parametrize("stdin", ["devnull", "closed pipe", "terminal at EOF"])
def test_no_usable_stdin_finishes_normally_without_spinning(workdir, terminal, stdin):
    env = {"JOBS": "4", "SLEEP": "1"}  # 4 one-second jobs on 2 cores: a two-second run
    if stdin == "terminal at EOF":
        term = terminal(**env)
        term.expect(r"Press Enter")
        term.send("\x04")  # Ctrl-D: end of input
        assert term.wait() == 0
        output = term.text
    else:
        if stdin == "devnull":
            source = subprocess.DEVNULL
        else:
            source, writer = os.pipe()
            os.close(writer)  # whoever wrote to it is gone: reading gives end of file at once
        proc = subprocess.Popen([sys.executable, "pipeline.py"], env=child_env(**env), stdin=source,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if source != subprocess.DEVNULL:
            os.close(source)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
        assert "Press Enter" not in output  # no commands without a terminal
    assert Path("result").read_text() == "ok"
    assert "pypipegraph: 4 job(s) ran, 0 failed" in output
    if stdin != "terminal at EOF":  # a plain line at the start (and every 10 s), not a redrawn one
        assert re.search(r"^done [0-4]/4 \(\d+%\) · running \d · failed 0 · blocked 0 · 0:00:0\d", output, re.M)
    cpu = float(Path("cpu").read_text())
    assert cpu < 0.5, f"the master used {cpu:.2f} s of CPU in a two-second run"
