"""Per-job bookkeeping in the store: resource use (CPU, peak RSS), host, pid, cluster job id,
exit status and user-set states; the memory estimate; `ppg status` filters, `ppg history`,
`ppg log --run`, `ppg forget --state`.

Every pipeline runs in its own process with real workers and a real store, and the
commands run as a user runs them.
"""

from __future__ import annotations

import socket
import sqlite3
import textwrap
from pathlib import Path

import pytest
from test_cli_store import ROOT, STORE, counts, ok, one_line_error, ppg, run_pipeline, table_rows

import pypipegraph as ppg_api
from pypipegraph.resources import CoreBudget
from pypipegraph.store.reader import StoreReader
from pypipegraph.usage import MEMORY_NOTED, apply_memory_estimates

MiB = 1 << 20

PIPELINE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    def count(name):
        with open("counts/" + name, "a") as fh:
            fh.write("x")

    def big(of):
        count("big")
        block = bytearray(96 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        total = sum(range(2_000_000))  # some CPU time
        ppg.set_state("aligned")
        print("big: WARN memory high, round", os.environ.get("ROUND", "1"))
        print("big: all fine")
        Path(of).write_text(str(total))

    def small(of):
        count("small")
        Path(of).write_text("small")

    def broken(of):
        count("broken")
        raise ValueError("broken on purpose")

    rc = ppg.resource_coordinators.LocalSystem(2)
    if os.environ.get("MEMORY"):
        rc.memory_available = int(os.environ["MEMORY"])
    ppg.new_pipegraph(quiet=True, resource_coordinator=rc)
    b = ppg.FileGeneratingJob("out/big", big)
    b.depends_on_params(os.environ.get("ROUND", "1"))
    ppg.FileGeneratingJob("out/small", small)
    ppg.FileGeneratingJob("out/broken", broken)
    ppg.CommandJob("out/exit3", "exit 3", shell=True)
    ppg.CommandJob("out/child", "python3 -c 'b = bytearray(150 << 20); b[::4096] = b\\"x\\" * len(b[::4096])' "
                   "&& echo ok > out/child", shell=True)
    try:
        ppg.run()
    except ppg.RuntimeError:
        pass
    print("memory_needed of out/big:", b.memory_needed)
    """
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("out", "counts", "logs"):
        (tmp_path / name).mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    return tmp_path


def runs_of(job_id: str) -> list:
    reader = StoreReader(STORE)
    try:
        return reader.job_runs(job_id=job_id)
    finally:
        reader.close()


def run_with(monkeypatch, **variables) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, str(value))
    return run_pipeline().stdout


# --- resource use -------------------------------------------------------------------


def test_each_job_run_keeps_its_cpu_time_peak_rss_host_and_exit_status(workdir):
    run_pipeline()
    big, = runs_of("out/big")
    small, = runs_of("out/small")
    assert big.rss >= 96 * MiB  # the worker's peak while it held the block
    assert big.cpu > 0.01 and big.cpu <= big.runtime + 0.5
    assert small.rss < big.rss
    assert big.host == small.host == socket.gethostname()
    assert big.exit_status == 0 and big.cluster_job is None
    assert runs_of("out/broken")[0].exit_status == 1  # raised
    exit3, = runs_of("out/exit3")
    assert exit3.outcome == "failed" and exit3.exit_status == 3  # the command's exit code
    child, = runs_of("out/child")
    assert child.rss >= 150 * MiB  # the command's own process, not the worker's


def test_status_and_history_show_resource_use_and_where_a_job_ran(workdir):
    run_pipeline()
    out = ok("status")
    assert out.splitlines()[0].split() == ["job", "last", "runtime", "cpu", "peak", "rss", "host",
                                           "finished", "run", "state"]
    big = table_rows(out)["out/big"]
    assert big[0] == "done" and big[-1] == "aligned"
    peak = float(big[5])
    assert big[6] == "MiB" and peak >= 96
    assert big[7] == socket.gethostname()

    lines = ok("history", "out/big").splitlines()
    assert lines[0].split() == ["run", "started", "outcome", "runtime", "cpu", "peak", "rss", "cores",
                                "exit", "host:pid", "state", "why", "it", "ran"]
    cells = lines[1].split()
    assert cells[3] == "done" and cells[9] == "MiB" and cells[11] == "0"
    host, pid = cells[12].rsplit(":", 1)
    assert host == socket.gethostname() and int(pid) == runs_of("out/big")[0].worker
    assert cells[13] == "aligned"


def test_cluster_job_id_from_the_batch_system_environment(workdir, monkeypatch):
    run_with(monkeypatch, SLURM_JOB_ID="4242")
    assert {row.cluster_job for row in runs_of("out/small")} == {"4242"}
    lines = ok("history", "out/small").splitlines()
    assert "cluster job" in lines[0] and "4242" in lines[1].split()


# --- user-defined states and status filters ----------------------------------------------


def test_status_filters_on_user_state_host_and_glob(workdir):
    run_pipeline()
    assert set(table_rows(ok("status", "--state", "aligned"))) == {"out/big"}
    host = socket.gethostname()
    assert set(table_rows(ok("status", "--host", host[:2] + "*", "out/s*"))) == {"out/small"}
    nowhere = ok("status", "--host", "no-such-host*")
    assert nowhere.splitlines()[0].startswith("0 jobs shown (filtered)")
    both = table_rows(ok("status", "--state", "failed", "--state", "aligned"))
    assert set(both) == {"out/big", "out/broken", "out/exit3"}


def test_set_state_takes_one_short_line(workdir):
    Path("pipeline.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        import pypipegraph as ppg
        ppg.new_pipegraph(quiet=True)
        ppg.FileGeneratingJob("out/x", lambda of: ppg.set_state(""))
        try:
            ppg.run()
        except ppg.RuntimeError:
            print(ppg.util.global_pipegraph.jobs["out/x"].exception)
    """))
    out = run_pipeline().stdout
    assert "ppg.set_state() takes a non-empty str" in out


# --- memory estimates ---------------------------------------------------------------------


def test_the_memory_a_job_added_last_time_is_its_next_memory_needed(workdir, monkeypatch):
    first = run_pipeline().stdout
    assert "memory_needed of out/big: -1" in first  # nothing known yet
    added = dict(sqlite3.connect(STORE).execute("SELECT job_id, bytes FROM job_memory"))
    assert added["out/big"] >= 90 * MiB
    assert "out/small" not in added  # below usage.MEMORY_NOTED: no estimate kept
    second = run_with(monkeypatch, ROUND=2)
    assert f"memory_needed of out/big: {added['out/big']}" in second
    assert counts("big") == 2


def test_a_memory_estimate_is_capped_at_what_the_machine_has(workdir, monkeypatch):
    run_pipeline()
    # a machine with less memory than the job used last time: the job still runs
    out = run_with(monkeypatch, ROUND=2, MEMORY=64 * MiB)
    assert f"memory_needed of out/big: {64 * MiB}" in out
    assert counts("big") == 2 and runs_of("out/big")[-1].outcome == "done"


def test_a_memory_estimate_never_overrides_the_users_memory_needed():
    ppg_api.new_pipegraph(quiet=True)
    mine = ppg_api.FileGeneratingJob("mine", lambda of: None)
    mine.memory_needed = 10 * MiB
    guessed = ppg_api.FileGeneratingJob("guessed", lambda of: None)
    budget = CoreBudget(4, 1 << 30)
    given = apply_memory_estimates({"mine": mine, "guessed": guessed},
                                   {"mine": 500 * MiB, "guessed": 2 << 30}, budget)
    assert given == 1 and mine.memory_needed == 10 * MiB
    assert guessed.memory_needed == 1 << 30  # capped at the machine's memory
    assert budget.cores_for(guessed) == 4  # needs the whole machine, but fits
    assert MEMORY_NOTED <= 64 * MiB


# --- old stores ---------------------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL,
    finished REAL, outcome TEXT, jobs_run INTEGER, jobs_failed INTEGER, cwd TEXT);
CREATE TABLE job_runs (run_id INTEGER NOT NULL, job_id TEXT NOT NULL, started REAL,
    stopped REAL, outcome TEXT NOT NULL, reason TEXT, worker INTEGER, cores INTEGER);
CREATE TABLE job_logs (job_id TEXT PRIMARY KEY, run_id INTEGER, stdout TEXT,
    stderr TEXT, traceback TEXT);
INSERT INTO meta VALUES ('format_version', '1');
INSERT INTO runs VALUES (1, 1000.0, 1001.0, 'failed', 1, 1, '/old');
INSERT INTO job_runs VALUES (1, 'out/old', 1000.0, 1000.5, 'failed', 'never ran', 77, 1);
"""


def test_a_store_of_the_earlier_format_reads_and_then_gains_the_columns(workdir):
    conn = sqlite3.connect(STORE)
    conn.executescript(OLD_SCHEMA)
    conn.close()
    rows = table_rows(ok("status"))
    assert rows["out/old"][0] == "failed"  # read as it is: no cpu, rss or host
    old, = runs_of("out/old")
    assert old.cpu is None and old.rss is None and old.host is None
    run_pipeline()  # the writer adds the new columns
    conn = sqlite3.connect(STORE)
    assert conn.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone() == ("2",)
    assert conn.execute("SELECT rss FROM job_runs WHERE job_id = 'out/old'").fetchone() == (None,)
    assert runs_of("out/big")[0].rss >= 96 * MiB


# --- ppg log --run, ppg forget --state -------------------------------------------------------


def test_log_of_an_earlier_run_with_a_regex_filter(workdir, monkeypatch):
    for round_ in (1, 2, 3):
        run_with(monkeypatch, ROUND=round_)
    big_runs = [row.run_id for row in runs_of("out/big")]
    assert len(big_runs) == 3
    out = ok("log", "out/big", "--run", str(big_runs[0]))
    assert out.splitlines()[0].startswith(f"out/big: run {big_runs[0]}, ")
    assert "WARN memory high, round 1" in out and "round 3" not in out
    before_last = ok("log", "out/big", "--run", "-2", "--grep", "WARN")
    assert before_last.splitlines()[1:] == [f"--- stdout (run {big_runs[1]}) ---",
                                           "big: WARN memory high, round 2"]
    last = ok("log", "out/big", "--grep", "fine|round 3")
    assert "big: all fine" in last and "round 3" in last and "round 2" not in last
    line = one_line_error(ppg("log", "out/big", "--run", "-4"), "log")
    assert "has 3 run(s) in the kept history" in line
    line = one_line_error(ppg("log", "out/small", "--run", str(big_runs[1])), "log")
    assert f"out/small did not run in run {big_runs[1]}" in line
    line = one_line_error(ppg("log", "out/big", "--grep", "("), "log")
    assert "is not a regular expression" in line


def test_forget_by_state(workdir):
    run_pipeline()
    assert set(table_rows(ok("status", "--state", "failed"))) == {"out/broken", "out/exit3"}
    out = ok("forget", "--state", "failed")
    assert out.splitlines() == ["forgot out/broken", "forgot out/exit3",
                                "2 jobs forgotten; each runs on the next run"]
    assert ok("status", "--state", "failed").startswith("0 jobs shown (filtered)")
    assert "out/broken" not in table_rows(ok("status"))

    assert ok("forget", "--state", "aligned").splitlines()[0] == "forgot out/big"
    run_pipeline()
    assert counts("big") == 2 and counts("small") == 1  # only the forgotten job ran again
    line = one_line_error(ppg("forget", "--state", "qc-passed"), "forget")
    assert "no job's last run is in state qc-passed" in line


def test_a_new_store_has_every_job_run_column_in_order(workdir):
    from pypipegraph.store.format import JOB_RUN_FIELDS

    run_pipeline()
    columns = [row[1] for row in sqlite3.connect(STORE).execute("PRAGMA table_info(job_runs)")]
    assert tuple(columns) == JOB_RUN_FIELDS
