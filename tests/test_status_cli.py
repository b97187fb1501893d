"""`ppg status`, `ppg forget --rule` and the look-ups by job on a real store: the whole
queue (blocked and pending jobs too), rule filters, sorting, machine-readable output, the
error of a failed job, and look-ups that use the store's indexes, not a scan.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pypipegraph.store.reader import StoreReader

ROOT = str(Path(__file__).resolve().parent.parent)
STORE = ".pypipegraph_status_robust"

PIPELINE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    def trim(of):
        time.sleep(0.1 * int(of[5]))  # out/s3.trim sleeps longest, 0.1 s apart: an order that load does not swap
        Path(of).write_text("t")

    def align(of):
        if of == "out/s2.align":
            raise OSError("s2: the aligner exited with code 137")
        Path(of).write_text("a")

    def count(of):
        Path(of).write_text("c")

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), quiet=True)
    for s in range(4):
        t = ppg.FileGeneratingJob(f"out/s{{s}}.trim", trim)
        a = ppg.FileGeneratingJob(f"out/s{{s}}.align", align).depends_on(t)
        ppg.FileGeneratingJob(f"out/s{{s}}.count", count).depends_on(a)
    ppg.run()
    """
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    done = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ROOT}, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stdout + done.stderr  # s2.align fails
    return tmp_path


def ppg(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "pypipegraph", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def rows(output: str) -> dict[str, list[str]]:
    """{job id: its cells} of a `ppg status` table."""
    return {line.split()[0]: line.split() for line in output.splitlines()[1:-1]}


def test_status_lists_the_whole_queue_with_rules_and_the_error_of_a_failure(store):
    listed = rows(ppg("status", "--rule", "*").stdout)
    assert ppg("status", "--rule", "*").stdout.split()[:10] == ["job", "last", "runtime", "cpu", "peak", "rss",
                                                              "host", "finished", "run", "rule"]
    assert listed["out/s2.align"][1] == "failed" and "align" in listed["out/s2.align"]
    assert listed["out/s2.count"][1:] == ["blocked", "count"]  # never ran: its upstream failed
    assert listed["out/s0.count"][1] == "done" and listed["out/s0.count"][-1] == "count"
    assert ppg("status").stdout.splitlines()[-1] == (
        "12 jobs, 1 failed, 1 blocked; 12 invariants hidden (--all shows them)")
    failed = ppg("status", "--state", "failed").stdout
    assert "OSError: s2: the aligner exited with code 137" in failed.splitlines()[1]
    assert failed.splitlines()[0].split()[-1] == "error"
    ppg("forget", "out/s1.count")
    pending = rows(ppg("status", "--state", "pending", "--rule", "count").stdout)["out/s1.count"]
    assert pending[1] == "pending" and pending[-1] == "count"  # its last run is still shown


def test_rule_filter_sort_top_and_machine_readable_output(store):
    top = ppg("status", "--rule", "trim", "--sort", "runtime", "--top", "2").stdout.splitlines()
    assert [line.split()[0] for line in top[1:-1]] == ["out/s3.trim", "out/s2.trim"]
    assert top[-1].startswith("2 jobs shown (filtered), 0 failed")
    data = json.loads(ppg("status", "--rule", "al*", "--json").stdout)
    assert sorted(row["job"] for row in data) == [f"out/s{s}.align" for s in range(4)]
    failed = next(row for row in data if row["last"] == "failed")
    assert failed["error"] == "OSError: s2: the aligner exited with code 137"
    assert isinstance(failed["runtime"], float) and failed["rule"] == "align"
    tsv = ppg("status", "--tsv", "--state", "blocked").stdout.splitlines()
    assert tsv[0].split("\t")[:3] == ["job", "rule", "last"]
    assert tsv[1].split("\t")[:3] == ["out/s2.count", "count", "blocked"]
    wrong = ppg("status", "--rule", "nope", check=False)
    assert wrong.returncode == 1
    assert "no rule nope in the graph of run 1 (rules: align, count, trim)" in wrong.stderr


def test_forget_by_rule(store):
    listed = ppg("forget", "--dry-run", "--rule", "trim").stdout.splitlines()
    assert listed == [f"would forget out/s{s}.trim" for s in range(4)] + [
        "4 jobs would be forgotten; each would run on the next run"]
    assert ppg("forget", "--rule", "trim", "out/s1*").stdout.splitlines() == [
        "forgot out/s1.trim", "1 job forgotten; it runs on the next run"]
    assert rows(ppg("status", "--rule", "trim").stdout)["out/s1.trim"][1] == "pending"
    wrong = ppg("forget", "--rule", "sort", check=False)
    assert wrong.returncode == 1 and "no rule sort in the graph of run 1" in wrong.stderr


def test_look_ups_by_job_use_indexes(store):
    history = ppg("history", "out/s2.align").stdout
    assert "failed" in history.splitlines()[1]
    assert "OSError: s2" in ppg("log", "out/s2.align").stdout
    conn = sqlite3.connect(STORE)
    try:
        def plan(sql: str, params: tuple = ()) -> str:
            return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

        assert "USING" in plan("SELECT 1 FROM job_runs WHERE job_id = ? LIMIT 1", ("out/s2.align",))
        reader = StoreReader(STORE)
        try:
            last = plan("SELECT j.job_id FROM job_runs j" + reader._last_where())
            by_job = plan(reader._job_runs_sql() + " WHERE j.job_id = ? ORDER BY j.run_id", ("out/s2.align",))
            assert reader.knows("out/s2.align") and not reader.knows("out/nope")
        finally:
            reader.close()
        # each job's last row: found through job_last and the run-id index, never a scan of job_runs
        assert "SCAN j" not in last.split(" | ") and "SEARCH j USING INTEGER PRIMARY KEY (rowid=?)" in last, last
        assert "SCAN j" not in by_job.split(" | "), by_job
        assert conn.execute("SELECT count(*) FROM job_last").fetchone()[0] == 11  # every job that ran (s2.count never did)
    finally:
        conn.close()
