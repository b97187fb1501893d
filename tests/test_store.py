"""The status store: crash safety, locking, refusing unreadable stores."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import runs

STORE = ".pypipegraph_status_robust"


def simple_job():
    return ppg.FileGeneratingJob("out/a", lambda of: Path(of).write_text("a") and None)


def test_store_is_sqlite_in_wal_mode(new_pipegraph):
    simple_job()
    ppg.run()
    conn = sqlite3.connect(STORE)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ids = {row[0] for row in conn.execute("SELECT job_id FROM jobs")}
    assert {"out/a", "out/a_func"} <= ids


def test_custom_store_filename(ppg_dir):
    ppg.new_pipegraph(quiet=True, invariant_status_filename="my_status.db")
    simple_job()
    ppg.run()
    assert os.path.exists("my_status.db") and not os.path.exists(STORE)


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"\x00\xff" * 3000, b"SQLite format 3\x00" + b"\x01" * 200],
)
def test_unreadable_store_is_refused_before_any_job_runs(new_pipegraph, content):
    Path(STORE).write_bytes(content)
    job = simple_job()
    with pytest.raises(ppg.PyPipeGraphError) as info:
        ppg.run()
    assert STORE in str(info.value)
    assert not os.path.exists("out/a") and not job.was_run
    assert Path(STORE).read_bytes() == content  # never replaced


def test_foreign_sqlite_file_is_refused(new_pipegraph):
    conn = sqlite3.connect(STORE)
    conn.execute("CREATE TABLE important (x)")
    conn.commit()
    conn.close()
    simple_job()
    with pytest.raises(ppg.PyPipeGraphError, match="not a pypipegraph status store"):
        ppg.run()
    assert not os.path.exists("out/a")


def test_store_from_a_newer_version_is_refused(new_pipegraph):
    simple_job()
    ppg.run()
    conn = sqlite3.connect(STORE)
    conn.execute("UPDATE meta SET value='999' WHERE key='format_version'")
    conn.commit()
    conn.close()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    simple_job()
    with pytest.raises(ppg.PyPipeGraphError, match="newer pypipegraph"):
        ppg.run()
    assert not os.path.exists("out/a")


SLOW_PIPELINE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg
    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
    def make(i):
        def work(of):
            with open("out/count" + str(i), "a") as fh:
                fh.write("x")
            time.sleep({sleep})
            Path(of).write_text(str(time.time()))
        return work
    for i in range({n}):
        ppg.FileGeneratingJob("out/" + str(i), make(i))
    ppg.run()
    """
)


def start_pipeline(n, sleep):
    script = SLOW_PIPELINE.format(root=str(Path(__file__).parent.parent), n=n, sleep=sleep)
    Path("pipeline.py").write_text(script)
    return subprocess.Popen([sys.executable, "pipeline.py"])


def wait_for(path, timeout=20.0):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_second_run_in_same_directory_is_refused(new_pipegraph):
    proc = start_pipeline(3, 1.0)
    try:
        wait_for("out/count0")
        new_pipegraph.new_pipegraph()
        simple_job()
        with pytest.raises(ppg.PyPipeGraphError, match="Another pypipegraph run"):
            ppg.run()
        assert not os.path.exists("out/a")
    finally:
        proc.wait(30)
    assert proc.returncode == 0
    new_pipegraph.new_pipegraph()
    simple_job()
    ppg.run()  # the lock was released
    assert os.path.exists("out/a")


def test_kill_minus_nine_keeps_finished_work(new_pipegraph):
    n = 20
    proc = start_pipeline(n, 0.1)
    wait_for("out/count12")
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    killed_at = time.time()
    finished_before = [
        i for i in range(n)
        if os.path.exists(f"out/{i}") and float(Path(f"out/{i}").read_text() or 0) < killed_at - 0.4
    ]
    assert len(finished_before) >= 5
    rerun = subprocess.run([sys.executable, "pipeline.py"], timeout=60)
    assert rerun.returncode == 0
    for i in range(n):
        assert os.path.exists(f"out/{i}")
    for i in finished_before:
        assert runs(f"out/count{i}") == 1, f"job {i} finished long before the kill but ran again"


def test_reasons_are_kept_once_and_read_back(new_pipegraph):
    """A full run of many jobs stores each distinct reason text once; readers see the text."""
    for i in range(50):
        ppg.FileGeneratingJob(f"out/{i}", lambda of: Path(of).write_text("x") and None)
    ppg.run()
    conn = sqlite3.connect(STORE)
    assert conn.execute("SELECT count(*) FROM job_runs").fetchone()[0] == 50
    assert conn.execute("SELECT text FROM reasons").fetchall() == [("never ran (no record in the store)",)]
    conn.close()
    from pypipegraph.store.reader import StoreReader

    reader = StoreReader(STORE)
    assert {run.reason for run in reader.job_runs(run_id=1)} == {"never ran (no record in the store)"}
    assert reader.last_runs()["out/7"].reason == "never ran (no record in the store)"
    reader.close()
    done = subprocess.run([sys.executable, "-m", "pypipegraph", "history", "out/7"], capture_output=True,
                          text=True, timeout=60)
    assert "never ran (no record in the store)" in done.stdout, done.stdout + done.stderr


def test_job_runs_of_the_previous_layout_still_read(new_pipegraph):
    """Rows written before reasons were shared keep their text in the row itself."""
    simple_job()
    ppg.run()
    conn = sqlite3.connect(STORE)
    conn.execute("INSERT INTO job_runs (run_id, job_id, started, stopped, outcome, reason, worker, cores) "
                 "VALUES (1, 'out/old', 1.0, 2.0, 'done', 'an old reason', 1, 1)")
    conn.execute("DROP TABLE reasons")  # as a store of the previous version has it
    conn.commit()
    conn.close()
    from pypipegraph.store.reader import StoreReader

    reader = StoreReader(STORE)
    assert reader.last_runs()["out/old"].reason == "an old reason"
    reader.close()
    new_pipegraph.new_pipegraph()
    simple_job()
    Path("out/a").unlink()
    ppg.run()  # the new version adds the table and goes on
    reader = StoreReader(STORE)
    reasons = {run.job_id: run.reason for run in reader.job_runs()}
    assert reasons["out/old"] == "an old reason" and reasons["out/a"] == "output out/a missing"
    reader.close()


def test_a_job_that_failed_last_time_says_so(new_pipegraph):
    """A failure drops the record; the next run says why the job runs: it failed, not 'never ran'."""
    def flaky(of):
        if not os.path.exists("fixed"):
            raise ValueError("not yet")
        Path(of).write_text("ok")

    ppg.FileGeneratingJob("out/a", flaky)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    script = Path("pipeline.py")
    script.write_text(textwrap.dedent("""
        import os
        from pathlib import Path
        import pypipegraph as ppg
        ppg.new_pipegraph(quiet=True)
        def flaky(of):
            if not os.path.exists("fixed"):
                raise ValueError("not yet")
            Path(of).write_text("ok")
        ppg.FileGeneratingJob("out/a", flaky)
        ppg.run()
    """))
    done = subprocess.run([sys.executable, "-m", "pypipegraph", "why", "pipeline.py"], capture_output=True,
                          text=True, timeout=60)
    assert "out/a (flaky): its last run failed" in done.stdout, done.stdout + done.stderr
    Path("fixed").write_text("")
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", flaky)
    ppg.run()
    assert job.run_reasons == ("its last run failed",)
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", flaky)
    ppg.run()
    assert job.run_reasons == ("output out/a missing",)  # the failure is forgotten once it ran
    conn = sqlite3.connect(STORE)
    assert conn.execute("SELECT count(*) FROM failures").fetchone()[0] == 0
    conn.close()
