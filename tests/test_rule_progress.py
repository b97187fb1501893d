"""Progress per rule while a run goes on, its first run included: `ppg top`, `ppg status
--rules` and a report taken during the run (opened in headless Chromium); and reports of
earlier runs keep each failure's message.

The pipeline runs without a terminal (as under nohup); its `align` jobs wait for a
release file the test writes, so what runs when is decided by the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_report import Opened, browser  # noqa: F401 - browser: a fixture

ROOT = str(Path(__file__).resolve().parent.parent)

PIPELINE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    BROKEN = os.environ.get("BROKEN", "")  # these samples' aligner fails

    def trim(of):
        Path(of).write_text("t")

    def align(of):
        Path("started/" + of[4:]).write_text(str(os.getpid()))
        while not os.path.exists("release"):
            time.sleep(0.01)
        if of[4:6] in BROKEN.split(","):
            raise OSError(of[4:6] + ": the aligner exited with code 137")
        Path(of).write_text("a")

    def count(of):
        Path(of).write_text("c")

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
    for s in ("s0", "s1", "s2", "s3"):
        t = ppg.FileGeneratingJob(f"out/{{s}}.trim", trim)
        a = ppg.FileGeneratingJob(f"out/{{s}}.align", align).depends_on(t)
        ppg.FileGeneratingJob(f"out/{{s}}.count", count).depends_on(a)
    ppg.run()
    """
)


@pytest.fixture
def pipeline(tmp_path, tmp_path_factory, monkeypatch, background):
    runtime = tmp_path_factory.mktemp("runtime")
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(tmp_path)
    for name in ("out", "started"):
        Path(name).mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))

    def start(**env: str) -> subprocess.Popen:
        return background.start({**os.environ, "PYTHONPATH": ROOT, **env})

    return start


def ppg(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pypipegraph", *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"{what} did not happen"
        time.sleep(0.05)


def two_aligners_running(proc) -> None:
    wait_until(lambda: len(os.listdir("started")) == 2 or proc.poll() is not None, "two aligners starting")
    assert proc.poll() is None, Path("run.out").read_text()
    wait_until(lambda: subprocess.run([sys.executable, "-m", "pypipegraph", "top", "--once"], capture_output=True,
                                      env={**os.environ, "PYTHONPATH": ROOT}).returncode == 0, "ppg top answering")


def test_a_first_run_shows_progress_per_rule_in_top_status_and_report(pipeline, browser):  # noqa: F811
    proc = pipeline()
    two_aligners_running(proc)
    top = ppg("top", "--once").splitlines()
    progress = top[3:6]
    assert progress == ["align  0/4 · 2 running", "count  0/4", "trim   4/4"]

    rules = ppg("status", "--rules").splitlines()
    assert rules[0].split()[:9] == ["rule", "jobs", "up", "to", "date", "ran", "in", "run", "1"]
    assert "(running)" in rules[0] and "running" in rules[0].split()
    by_rule = {line.split()[0]: line.split() for line in rules[1:-1]}
    assert by_rule["trim"][1:4] == ["4", "4", "4"]  # jobs, up to date, ran in this run
    assert by_rule["align"][1:6] == ["4", "0", "0", "2", "0"]  # ... and 2 running now, none failed
    assert by_rule["count"][1:3] == ["4", "0"]
    assert rules[-1] == "3 rules, 12 jobs in the graph of run 1 (running now); runtimes as last recorded"

    ppg("report", "-o", "during.html")
    data = json.loads(re.search(r'id="ppg-data">(.*?)</script>',
                                Path("during.html").read_text(), re.S).group(1))
    assert data["run"]["outcome"] == "running"
    assert "(unknown)" not in data["rules"]
    page = Opened(browser, "during.html")
    try:
        summary = page.page.inner_text("#summary")
        assert summary.startswith("running") and "2 running now" in summary
        header = page.page.inner_text("#rules thead")
        assert "running now" in header
        align_row = page.page.inner_text("#rules tbody tr:has-text('align')").split("\t")
        assert align_row[0].strip() == "align" and "2" in [cell.strip() for cell in align_row]
        page.filter("running")
        running = page.rows()
        assert sorted(running) == sorted(f"out/{name}" for name in os.listdir("started"))
        assert not page.errors, page.errors
    finally:
        page.page.close()
    Path("release").write_text("")
    assert proc.wait(timeout=60) == 0
    after = ppg("status", "--rules").splitlines()
    assert "(running)" not in after[0] and "running" not in after[0].split()


def test_a_report_of_an_earlier_run_keeps_each_failure_message(pipeline, browser):  # noqa: F811
    Path("release").write_text("")
    assert pipeline(BROKEN="s1,s2").wait(timeout=60) == 1  # run 1: two aligners fail alike
    assert pipeline().wait(timeout=60) == 0  # run 2: they are fixed (their logs are replaced)
    ppg("report", "--run", "1", "-o", "run1.html")
    page = Opened(browser, "run1.html")
    try:
        failures = page.page.inner_text("#failures")
        assert re.search(r"^2× align: OSError: s[12]: the aligner exited with code 137$", failures, re.M), failures
        assert "no traceback kept" not in failures
        assert not page.errors, page.errors
    finally:
        page.page.close()
