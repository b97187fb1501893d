"""Command jobs: real programs run from forked workers, their logs, reruns and failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import read, runs

ROOT = str(Path(__file__).resolve().parent.parent)


def run_ok():
    ppg.run_pipegraph()


def failure(job_id: str) -> ppg.CommandFailed:
    """Run; `job_id` must fail with CommandFailed. Returns the exception."""
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    job = ppg.util.global_pipegraph.jobs[job_id]
    assert job.failed and type(job.exception) is ppg.CommandFailed, repr(job.exception)
    return job.exception


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while read
        return False


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def child_env() -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYPIPEGRAPH_LOG_SOCKET", None)
    return env


def start_pipeline(body: str) -> subprocess.Popen:
    """Run a pipeline script in a subprocess of the test (in the current directory)."""
    Path("pipeline.py").write_text(
        "import pypipegraph as ppg\nppg.new_pipegraph(quiet=True, interactive=False)\n"
        + textwrap.dedent(body) + "ppg.run_pipegraph()\n")
    return subprocess.Popen([sys.executable, "pipeline.py"], env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# --- running and rerunning ---------------------------------------------------------


def test_a_command_writes_two_files_and_its_output_is_logged(new_pipegraph):
    job = ppg.CommandJob(["out/a.txt", "out/b.txt"],
                         ["sh", "-c", 'echo A > out/a.txt; echo B > out/b.txt; echo made; echo note >&2'])
    run_ok()
    assert (read("out/a.txt"), read("out/b.txt")) == ("A\n", "B\n")
    assert job.job_id == "out/a.txt:out/b.txt"
    assert (job.stdout, job.stderr) == ("made\n", "note\n")
    logs = Path("logs/jobs/out_a.txt_out_b.txt")
    assert (logs / "stdout").read_text() == "made\n"
    assert (logs / "stderr").read_text() == "note\n"
    assert "echo A > out/a.txt" in (logs / "command").read_text()


def test_a_shell_string_with_a_pipe(new_pipegraph):
    Path("names.txt").write_text("carol\nalice\nbob\n")
    ppg.CommandJob("out/sorted.txt", "sort names.txt | head -n 2 > out/sorted.txt")
    run_ok()
    assert read("out/sorted.txt") == "alice\nbob\n"


def counting(argument: str, **kwargs):
    """A command job that appends to out/count (one character per run)."""
    return ppg.CommandJob("out/a.txt", f"printf x >> out/count; echo {argument} > out/a.txt", **kwargs)


def test_reruns_on_a_changed_argument_not_on_an_unchanged_one(new_pipegraph):
    counting("one")
    run_ok()
    new_pipegraph.new_pipegraph()
    job = counting("one")
    run_ok()
    assert not job.was_run and runs("out/count") == 1
    new_pipegraph.new_pipegraph()
    job = counting("two")
    run_ok()
    assert job.was_run and runs("out/count") == 2
    assert read("out/a.txt") == "two\n"
    assert job.run_reasons == ("command of out/a.txt changed",)


def test_reruns_on_a_changed_environment(new_pipegraph):
    def define(threads):
        return ppg.CommandJob("out/a.txt", 'printf x >> out/count; echo "$THREADS $HOME" > out/a.txt',
                              env={"THREADS": threads})
    define("2")
    run_ok()
    assert read("out/a.txt") == f"2 {os.environ['HOME']}\n"  # added to the inherited environment
    new_pipegraph.new_pipegraph()
    define("2")
    run_ok()
    new_pipegraph.new_pipegraph()
    define("8")
    run_ok()
    assert read("out/a.txt").startswith("8 ") and runs("out/count") == 2


def chain():
    a = ppg.CommandJob("out/a.txt", ["sh", "-c", "echo 1 > out/a.txt"])
    b = ppg.CommandJob("out/b.txt", "cat out/a.txt out/a.txt > out/b.txt")
    b.depends_on_file("out/a.txt")
    return a, b


def test_a_deleted_output_reruns_it_and_the_same_content_stops_there(new_pipegraph):
    chain()
    run_ok()
    assert read("out/b.txt") == "1\n1\n"
    os.unlink("out/a.txt")
    new_pipegraph.new_pipegraph()
    a, b = chain()
    run_ok()
    assert a.was_run and not b.was_run  # the same content again: early cutoff


def test_working_directory_and_accepted_return_codes(new_pipegraph):
    Path("work").mkdir()
    Path("work/reads.txt").write_text("ACGT\nTTTT\n")
    # grep exits with 1 when nothing matches; here that is a valid result
    ppg.CommandJob("out/hits.txt", "grep GGGG reads.txt > ../out/hits.txt", cwd="work",
                   ok_returncodes=(0, 1), empty_ok=True)
    ppg.CommandJob("out/lines.txt", ["sh", "-c", "wc -l < reads.txt > ../out/lines.txt"], cwd=Path("work"))
    run_ok()
    assert read("out/hits.txt") == ""
    assert read("out/lines.txt").strip() == "2"


def test_shell_choices(new_pipegraph):
    # a list through the shell (quoted), a str without one (split), and bash for pipefail
    Path("names file.txt").write_text("x\n")
    Path("$HOME").write_text("y\n")
    ppg.CommandJob("out/a.txt", ["cp", "$HOME", "out/a.txt"], shell=True)
    ppg.CommandJob("out/b.txt", "cp 'names file.txt' out/b.txt", shell=False)
    ppg.CommandJob("out/c.txt", "set -o pipefail; false | cat > out/c.txt", shell="bash")
    ppg.CommandJob("out/d.txt", "false | cat > out/d.txt", empty_ok=True)
    exc = failure("out/c.txt")
    assert exc.returncode == 1
    assert read("out/a.txt") == "y\n"  # quoted for the shell: no expansion
    assert read("out/b.txt") == "x\n"
    assert read("out/d.txt") == ""  # /bin/sh: the pipeline's status is that of `cat`


def test_ignore_code_changes(new_pipegraph):
    counting("one").ignore_code_changes()
    run_ok()
    new_pipegraph.new_pipegraph()
    job = counting("two")
    job.ignore_code_changes()
    run_ok()
    assert not job.was_run and read("out/a.txt") == "one\n"


def test_redefinition(new_pipegraph):
    job = ppg.CommandJob("out/a.txt", ["touch", "out/a.txt"])
    assert ppg.CommandJob("out/a.txt", ["touch", "out/a.txt"]) is job
    with pytest.raises(ValueError, match="defined twice with different arguments"):
        ppg.CommandJob("out/a.txt", ["touch", "out/a.txt"], env={"A": "1"})
    assert job.env == {}


def test_without_a_logs_directory_the_output_still_reaches_the_job(new_pipegraph):
    os.rmdir("logs")
    job = ppg.CommandJob("out/a.txt", "echo progress; echo warn >&2; exit 2")
    exc = failure("out/a.txt")
    assert (job.stdout, job.stderr) == ("progress\n", "warn\n")
    assert exc.stderr_tail == "warn"
    assert "Last lines of stderr:\n  warn" in str(exc)
    assert not os.path.exists("logs")


# --- the log grows while the command runs ----------------------------------------------


def test_the_log_file_grows_during_the_run_and_ppg_log_shows_it(ppg_dir):
    proc = start_pipeline("""
        ppg.CommandJob("out/a.txt", "echo first; while [ ! -e go ]; do sleep 0.02; done; "
                       "echo second; echo done > out/a.txt")
    """)
    try:
        log = Path("logs/jobs/out_a.txt/stdout")
        wait_for(lambda: log.exists() and log.read_text() == "first\n")
        # the command is still running (it waits for `go`); the store is locked by the run
        shown = subprocess.run([sys.executable, "-m", "pypipegraph", "log", "out/a.txt"],
                               capture_output=True, text=True, env=child_env(), timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "--- stdout (logs/jobs/out_a.txt/stdout, written " in shown.stdout
        assert "first" in shown.stdout and "second" not in shown.stdout
        assert proc.poll() is None
        Path("go").touch()
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert log.read_text() == "first\nsecond\n"
    shown = subprocess.run([sys.executable, "-m", "pypipegraph", "log", "out/a.txt"],
                           capture_output=True, text=True, env=child_env(), timeout=60)
    assert shown.stdout.splitlines()[0].endswith(", done")
    assert "first\nsecond" in shown.stdout


# --- failures ----------------------------------------------------------------------------


def test_a_non_zero_exit_quotes_the_command_and_the_last_lines_of_stderr(new_pipegraph):
    ppg.CommandJob("out/a.txt", "for i in $(seq 1 30); do echo line $i >&2; done; exit 3")
    exc = failure("out/a.txt")
    quoted = "\n".join(f"  line {i}" for i in range(11, 31))
    assert str(exc) == (
        "CommandJob 'out/a.txt': the command `for i in $(seq 1 30); do echo line $i >&2; done; exit 3` "
        "exited with code 3 (ok_returncodes: 0).\n"
        f"Last lines of logs/jobs/out_a.txt/stderr:\n{quoted}")
    assert exc.returncode == 3
    assert not os.path.exists("out/a.txt")


def test_a_missing_program(new_pipegraph):
    ppg.CommandJob("out/a.txt", ["samtoolz", "sort", "in.bam"])
    ppg.CommandJob("out/b.txt", "samtoolz sort in.bam > out/b.txt")
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run_pipegraph()
    jobs = ppg.util.global_pipegraph.jobs
    assert str(jobs["out/a.txt"].exception) == (
        "CommandJob 'out/a.txt': cannot run `samtoolz sort in.bam`: the program 'samtoolz' was not "
        "found. Install it, or give its full path (PATH is searched when the name has no '/').")
    text = str(jobs["out/b.txt"].exception)
    assert text.startswith(
        "CommandJob 'out/b.txt': the command `samtoolz sort in.bam > out/b.txt` exited with code 127 "
        "(127: the shell did not find the program) (ok_returncodes: 0).\n"
        "Last lines of logs/jobs/out_b.txt/stderr:\n  ")
    assert "samtoolz" in text.splitlines()[-1] and "not found" in text.splitlines()[-1]
    assert len(info.value.failed_jobs) == 2


def test_a_killed_command(new_pipegraph):
    ppg.CommandJob("out/a.txt", "echo out of memory >&2; kill -9 $$")
    exc = failure("out/a.txt")
    assert str(exc) == ("CommandJob 'out/a.txt': the command `echo out of memory >&2; kill -9 $$` was "
                        "killed by signal SIGKILL.\nLast lines of logs/jobs/out_a.txt/stderr:\n"
                        "  out of memory")
    assert exc.returncode == -signal.SIGKILL


def test_a_declared_output_not_written(new_pipegraph):
    ppg.CommandJob(["out/a.txt", "out/b.txt"], ["sh", "-c", "echo a > out/a.txt"])
    exc = failure("out/a.txt:out/b.txt")
    assert str(exc) == ("CommandJob 'out/a.txt:out/b.txt': the command `sh -c 'echo a > out/a.txt'` "
                        "exited with code 0 but did not write out/b.txt. The command must write every "
                        "declared output.\nIt wrote nothing to stderr.")
    assert not os.path.exists("out/a.txt")  # a failed job leaves no partial output


def test_a_missing_working_directory(new_pipegraph):
    ppg.CommandJob("out/a.txt", "touch ../out/a.txt", cwd="work")
    exc = failure("out/a.txt")
    assert str(exc) == ("CommandJob 'out/a.txt': cannot run `touch ../out/a.txt`: its working directory "
                        "work does not exist. Create it first (or depend on the job that makes it).")


# --- no program is left running ----------------------------------------------------------


def test_background_processes_of_a_finished_command_are_killed(new_pipegraph):
    ppg.CommandJob("out/a.txt", "sleep 300 & echo $! > out/a.txt")
    run_ok()
    pid = int(read("out/a.txt"))
    wait_for(lambda: not alive(pid), timeout=5)


@pytest.mark.parametrize("how", ["abort", "kill worker", "kill master"])
def test_a_killed_run_leaves_no_program_running(ppg_dir, how):
    """Ctrl-C / abort kill the workers; `kill N` kills one worker; the master may die: the
    program, the shell and the shell's children all die with the worker."""
    proc = start_pipeline("""
        ppg.CommandJob("out/a.txt", "sleep 300 & echo $$ $PPID $! > out/pids; wait")
    """)
    try:
        wait_for(lambda: os.path.exists("out/pids") and len(Path("out/pids").read_text().split()) == 3)
        shell, worker, sleeper = (int(p) for p in Path("out/pids").read_text().split())
        assert alive(sleeper)
        if how == "abort":
            proc.send_signal(signal.SIGINT)  # Ctrl-C: the master aborts the run
        elif how == "kill worker":
            os.kill(worker, signal.SIGKILL)  # what `kill N` in the console does
        else:
            proc.kill()  # the workers die with the master, the program with its worker
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    if how == "kill worker":
        assert "out/a.txt: JobDiedException" in output
    for pid in (worker, shell, sleeper):
        wait_for(lambda pid=pid: not alive(pid), timeout=5)


# --- with the rest of the engine ----------------------------------------------------------


def test_ppg_why_and_status_explain_a_changed_command(ppg_dir):
    body = """
        import sys
        ppg.CommandJob("out/a.txt", f"echo {sys.argv[1]} > out/a.txt")
    """
    Path("pipeline.py").write_text(
        "import pypipegraph as ppg\nppg.new_pipegraph(quiet=True, interactive=False)\n"
        + textwrap.dedent(body) + "ppg.run_pipegraph()\n")
    subprocess.run([sys.executable, "pipeline.py", "one"], env=child_env(), check=True, timeout=60)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True,
                              text=True, env=child_env(), timeout=60, check=True).stdout

    why = cli("why", "pipeline.py", "--args", "two")
    assert "will run: 1\n  out/a.txt (CommandJob): command of out/a.txt changed\n" in why
    assert "'cmd': 'echo one > out/a.txt'" in why and "'cmd': 'echo two > out/a.txt'" in why
    assert "will run: 0" in cli("why", "pipeline.py", "--args", "one")
    status = cli("status")
    assert "out/a.txt" in status and "CIout/a.txt" not in status


def test_a_generating_job_creates_command_jobs(new_pipegraph):
    def make():
        for name in ("x", "y"):
            ppg.CommandJob(f"out/{name}.txt", ["sh", "-c", f"echo {name} > out/{name}.txt"])
    ppg.JobGeneratingJob("make", make)
    run_ok()
    assert (read("out/x.txt"), read("out/y.txt")) == ("x\n", "y\n")
    assert "CIout/x.txt" in ppg.util.global_pipegraph.jobs
