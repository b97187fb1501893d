"""The store fails mid-run (a full disk, simulated with RLIMIT_FSIZE): the run stops
cleanly, finished work stays recorded, no output is deleted or rewritten."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import os, resource, signal, sys
from pathlib import Path
import pypipegraph as ppg

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
Path("out").mkdir(exist_ok=True)
def work(of):
    with open("runs.log", "a") as fh:
        fh.write(of + "\\n")
    import time
    time.sleep(0.005)
    Path(of).write_text(("x" * 50) + of)
for i in range(400):
    ppg.FileGeneratingJob("out/%03d" % i, work)
try:
    ppg.run()
except ppg.PyPipeGraphError as exc:
    print("STOPPED:", type(exc).__name__, exc)
    sys.exit(3)
'''


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_full_disk_mid_run_stops_cleanly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pipeline.py").write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "pipeline.py", "250000"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "STOPPED: StoreError cannot write the status store" in proc.stdout
    assert "free disk space" in proc.stdout
    conn = sqlite3.connect(".pypipegraph_status_robust")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    recorded = {row[0] for row in conn.execute("SELECT job_id FROM jobs WHERE job_id LIKE 'out/%'")
                if not row[0].endswith("_func")}  # the jobs' function invariants are out/<n>_func
    conn.close()
    assert recorded, "some jobs finished and were recorded before the disk filled up"
    outputs_before = {p.name: p.read_text() for p in Path("out").iterdir()}
    for name in recorded:
        assert Path(name).exists()  # nothing recorded was deleted
    ran_before = Path("runs.log").read_text().split()
    rerun = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ran_again = Path("runs.log").read_text().split()[len(ran_before):]
    assert not set(ran_again) & recorded  # recorded work is not redone
    assert len(list(Path("out").iterdir())) == 400
    for name, text in outputs_before.items():
        if "out/" + name in recorded:
            assert Path("out", name).read_text() == text


def _chattr(flag: str, path: str) -> bool:
    try:
        return subprocess.run(["chattr", flag, path], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def test_read_only_directory_is_refused_before_any_job_runs(tmp_path, monkeypatch):
    """The store's directory cannot be written (chattr +i stops even root)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    Path("pipeline.py").write_text(SCRIPT)
    assert subprocess.run([sys.executable, "pipeline.py"], capture_output=True, timeout=120).returncode == 0
    Path("out/000").unlink()  # so that a run would have something to do
    if not _chattr("+i", str(project)):
        pytest.skip("chattr +i is not available here")
    try:
        proc = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=120)
    finally:
        _chattr("-i", str(project))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot write the status store .pypipegraph_status_robust" in proc.stdout
    assert "Nothing was run" in proc.stdout
    assert not Path("out/000").exists()
    assert len(Path("runs.log").read_text().split()) == 400  # no job ran a second time
