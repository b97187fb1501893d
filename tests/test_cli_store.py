"""The store commands of `ppg` (status, log, history, forget) on a real store.

Every pipeline and every command runs in its own process, as a user would run them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
STORE = ".pypipegraph_status_robust"

PIPELINE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    def count(name):
        with open("counts/" + name, "a") as fh:
            fh.write("x")

    def hello(of):
        count("hello")
        print("hello from the job")
        Path(of).write_text("hello")

    def quiet(of):
        count("quiet")
        Path(of).write_text("quiet")

    def broken(of):
        count("broken")
        print("about to fail", file=sys.stderr)
        raise ValueError("broken on purpose")

    def deep(of):
        count("deep")
        Path(of).write_text(Path("out/hello").read_text() + "!")

    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
    h = ppg.FileGeneratingJob("out/hello", hello)
    ppg.FileGeneratingJob("out/quiet", quiet).depends_on_params(("some", "parameters"))
    ppg.FileGeneratingJob("out/broken", broken)
    ppg.FileGeneratingJob("out/sub/deep", deep).depends_on(h)
    try:
        ppg.run()
    except ppg.RuntimeError:
        print("RUN FAILED")
    """
)

SLOW_PIPELINE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    def slow(of):
        Path("started").write_text("yes")
        deadline = time.time() + 60
        while not Path("release").exists() and time.time() < deadline:
            time.sleep(0.02)  # the test looks at the running pipeline, then releases it
        Path(of).write_text("slow")

    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
    ppg.FileGeneratingJob("out/slow", slow)
    ppg.run()
    """
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("out", "out/sub", "counts", "logs"):
        (tmp_path / name).mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    return tmp_path


def env() -> dict:
    result = dict(os.environ)
    result["PYTHONPATH"] = ROOT + os.pathsep + result.get("PYTHONPATH", "")
    result.pop("PYPIPEGRAPH_LOG_SOCKET", None)
    return result


def run_pipeline(script: str = "pipeline.py") -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60, env=env())
    assert done.returncode == 0, done.stderr
    return done


def ppg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True,
                          text=True, timeout=60, env=env())


def ok(*args: str) -> str:
    done = ppg(*args)
    assert done.returncode == 0, f"ppg {' '.join(args)} failed: {done.stderr}"
    assert done.stderr == ""
    return done.stdout


def table_rows(output: str) -> dict[str, list[str]]:
    """{job id: the other cells} of a `ppg status` table (job ids have no spaces here)."""
    lines = output.splitlines()
    assert lines[0].split()[:2] == ["job", "last"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:-1]}


def counts(name: str) -> int:
    path = Path("counts") / name
    return len(path.read_text()) if path.exists() else 0


def one_line_error(done: subprocess.CompletedProcess, command: str) -> str:
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"ppg {command}: ")
    return lines[0]


# --- status --------------------------------------------------------------------

FIG_PIPELINE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    def write(of):
        Path(of).write_text(of)

    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
    ppg.FileGeneratingJob("FIGURE.txt", write)
    ppg.FileGeneratingJob("PIPE.txt", write)
    ppg.run()
    """
)


def test_outputs_named_like_invariant_ids_are_listed_and_forgotten(workdir):
    """The store keeps each job's kind: FIGURE.txt is an output, not a FunctionInvariant."""
    Path("fig.py").write_text(FIG_PIPELINE.format(root=ROOT))
    run_pipeline("fig.py")
    rows = table_rows(ok("status"))
    assert rows["FIGURE.txt"][0] == "done"
    assert rows["PIPE.txt"][0] == "done"
    assert "FIGURE.txt_func" not in rows  # its function invariant stays hidden
    assert "FIGURE.txt_func" in table_rows(ok("status", "--all"))
    out = ok("forget", "FIG*")
    assert out.splitlines() == ["forgot FIGURE.txt", "1 job forgotten; it runs on the next run"]




def test_status_lists_each_job_with_its_last_outcome(workdir):
    assert "RUN FAILED" in run_pipeline().stdout
    out = ok("status")
    rows = table_rows(out)
    assert set(rows) == {"out/hello", "out/quiet", "out/broken", "out/sub/deep"}
    assert rows["out/hello"][0] == "done"
    assert rows["out/broken"][0] == "failed"
    assert rows["out/hello"][2] == "s"  # "0.00 s"
    today = time.strftime("%Y-%m-%d")
    assert today in rows["out/hello"] and today in rows["out/broken"]
    assert out.splitlines()[-1].startswith("4 jobs, 1 failed;")
    assert "invariants hidden" in out.splitlines()[-1]

    every = table_rows(ok("status", "--all"))
    assert {"out/hello_func", "PIout/quiet", "out/hello"} <= set(every)
    assert every["out/hello_func"][0] == "ok"


def test_status_filters_by_state_and_glob(workdir):
    run_pipeline()
    failed = ok("status", "--state", "failed")
    assert set(table_rows(failed)) == {"out/broken"}
    assert failed.splitlines()[-1].startswith("1 job shown (filtered), 1 failed")

    assert set(table_rows(ok("status", "--state", "done"))) == {"out/hello", "out/quiet", "out/sub/deep"}
    both = ok("status", "--state", "done", "--state", "failed", "out/b*", "out/sub/*")
    assert set(table_rows(both)) == {"out/broken", "out/sub/deep"}
    assert set(table_rows(ok("status", "out/*l*"))) == {"out/hello"}
    assert len(table_rows(ok("status", "out/*e*"))) == 4  # fnmatch: * matches "/" too

    none = ok("status", "--state", "killed")
    assert none.splitlines() == ["0 jobs shown (filtered), 0 failed; 5 invariants hidden (--all shows them)"]

    # a state no job has (states are also user-defined: ppg.set_state) lists nothing
    unknown = ok("status", "--state", "exploded")
    assert unknown.splitlines()[0].startswith("0 jobs shown (filtered)")


def test_status_after_a_rerun_shows_up_to_date_jobs(workdir):
    run_pipeline()
    run_pipeline()  # nothing changed but the broken job, which fails again
    rows = table_rows(ok("status"))
    assert rows["out/hello"][0] == "done" and rows["out/hello"][-1] == "1"  # ran in run 1
    assert rows["out/broken"][0] == "failed" and rows["out/broken"][-1] == "2"


def test_status_runs_lists_recent_runs(workdir):
    run_pipeline()
    run_pipeline()
    out = ok("status", "--runs")
    lines = out.splitlines()
    assert lines[0].split() == ["run", "started", "took", "outcome", "ran", "failed"]
    assert len(lines) == 3
    newest, oldest = lines[1].split(), lines[2].split()
    assert newest[0] == "2" and oldest[0] == "1"  # newest first
    assert oldest[-3:] == ["failed", "3", "1"]  # 3 ran, 1 failed
    assert newest[-3:] == ["failed", "0", "1"]  # only the broken job ran again, and failed


# --- log ----------------------------------------------------------------------


def test_log_shows_stdout_of_a_job_that_printed(workdir):
    run_pipeline()
    out = ok("log", "out/hello")
    assert out.splitlines()[0].startswith("out/hello: last ran in run 1, ")
    assert out.splitlines()[0].endswith(", done")
    assert "--- stdout (run 1) ---\nhello from the job\n" in out
    assert "stderr" not in out and "traceback" not in out


def test_log_shows_the_traceback_and_stderr_of_the_failed_job(workdir):
    run_pipeline()
    out = ok("log", "out/broken")
    assert out.splitlines()[0].endswith(", failed")
    assert "--- stderr (run 1) ---\nabout to fail\n" in out
    tb = out[out.index("--- traceback (run 1) ---"):]
    assert "Traceback (most recent call last)" in tb
    assert "in broken" in tb and 'raise ValueError("broken on purpose")' in tb
    assert tb.rstrip().endswith("ValueError: broken on purpose")


def test_log_of_a_job_that_printed_nothing(workdir):
    run_pipeline()
    out = ok("log", "out/quiet")
    assert out.splitlines()[-1] == "no output recorded"
    assert "---" not in out


def test_log_of_an_unknown_job_is_one_line_error(workdir):
    run_pipeline()
    line = one_line_error(ppg("log", "out/nothing"), "log")
    assert line == "ppg log: unknown job out/nothing (not in the store)"


# --- history ------------------------------------------------------------------


def test_history_lists_each_run_of_the_job(workdir):
    run_pipeline()
    run_pipeline()
    out = ok("history", "out/broken")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["run", "started", "outcome", "runtime"]
    assert [line.split()[0] for line in lines[1:3]] == ["1", "2"]
    assert all(line.split()[3] == "failed" for line in lines[1:3])
    assert lines[1].endswith("never ran (no record in the store)")
    assert lines[-1] == "2 runs of out/broken, 2 not done"

    once = ok("history", "out/hello").splitlines()  # up to date the second time: no row
    assert len(once) == 3 and once[-1] == "1 run of out/hello"
    assert once[1].split()[3] == "done"

    line = one_line_error(ppg("history", "nope"), "history")
    assert line == "ppg history: unknown job nope (not in the store)"


# --- forget ---------------------------------------------------------------------


def test_forget_makes_the_job_run_again(workdir):
    run_pipeline()
    assert counts("hello") == counts("quiet") == counts("deep") == 1
    out = ok("forget", "out/hello")
    assert out.splitlines() == ["forgot out/hello", "1 job forgotten; it runs on the next run"]
    assert table_rows(ok("status"))["out/hello"][0] == "pending"  # in the queue: it runs next time
    run_pipeline()
    assert counts("hello") == 2  # forgotten: ran again
    assert counts("quiet") == 1
    assert counts("deep") == 1  # its output came out the same: no need to rerun the dependant
    assert table_rows(ok("status"))["out/hello"][-1] == "2"


def test_forget_with_patterns(workdir):
    run_pipeline()
    out = ok("forget", "out/sub/*", "out/q*")
    assert out.splitlines() == ["forgot out/sub/deep", "forgot out/quiet",
                                "2 jobs forgotten; each runs on the next run"]
    dry = ok("forget", "--dry-run", "out/*")
    assert dry.splitlines()[0] == "would forget out/hello"  # patterns skip invariants
    assert "out/hello_func" not in dry
    assert ok("forget", "out/hello_func").splitlines()[0] == "forgot out/hello_func"  # exact ids: any job
    failed_only = ok("forget", "out/broken")
    assert "no record (its last run failed): it runs next time anyway" in failed_only
    run_pipeline()
    assert (counts("hello"), counts("quiet"), counts("deep")) == (1, 2, 2)


def test_forget_a_pattern_matching_nothing_is_an_error_and_forgets_nothing(workdir):
    run_pipeline()
    line = one_line_error(ppg("forget", "out/hello", "out/none*"), "forget")
    assert "out/none* matches no job" in line
    assert "out/hello" in table_rows(ok("status"))  # the valid one was not forgotten either


def test_forget_is_refused_while_a_pipeline_runs(workdir):
    Path("slow.py").write_text(SLOW_PIPELINE.format(root=ROOT))
    run_pipeline()
    proc = subprocess.Popen([sys.executable, "slow.py"], env=env())
    try:
        deadline = time.time() + 30
        while not os.path.exists("started"):
            assert time.time() < deadline and proc.poll() is None, "the slow job did not start"
            time.sleep(0.02)
        line = one_line_error(ppg("forget", "out/hello"), "forget")
        assert f"a pipeline is running here (pid {proc.pid})" in line
        assert "wait for the run to finish" in line
        # reading works beside the run, and shows it
        runs = ok("status", "--runs").splitlines()
        assert f"running (pid {proc.pid})" in runs[1]
    finally:
        Path("release").write_text("go")
        proc.wait(30)
    assert proc.returncode == 0
    assert "out/hello" in table_rows(ok("status"))  # nothing was forgotten
    assert ok("forget", "out/hello").startswith("forgot out/hello")  # the lock is free again


# --- no store -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["status", "--runs"], ["log", "out/a"],
                                     ["history", "out/a"], ["forget", "out/a"]])
def test_no_store_in_the_directory(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(ppg(*command), command[0])
    assert f"no status store {STORE} here" in line
    assert not os.path.exists(STORE) and not os.path.exists(STORE + ".lock")  # nothing created


def test_store_option_names_another_file(workdir):
    run_pipeline()
    os.rename(STORE, "elsewhere.db")
    assert "out/hello" in table_rows(ok("--store", "elsewhere.db", "status"))
    line = one_line_error(ppg("status"), "status")
    assert "no status store" in line
