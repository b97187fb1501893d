"""What a user sees on an 80-column terminal and at the end of a run: the status line
keeps its ETA, a typed command runs at its Enter, and the summary says what was left
and where the report is. Pipelines run on a real pseudo-terminal (test_console.Terminal)
or as a plain subprocess; their jobs wait for release files the test writes.
"""

from __future__ import annotations

import fcntl
import re
import struct
import subprocess
import sys
import termios
import textwrap
from pathlib import Path

from test_console import ROOT, Terminal, child_env, wait_for_files

from pypipegraph.views.progress import status_text

PIPELINE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    WAITING = int(os.environ.get("WAITING", "4"))  # jobs of rule `work` that wait for release/all
    BROKEN = int(os.environ.get("BROKEN", "0"))  # jobs of rule `broken` that fail, each with a dependant
    ODD = int(os.environ.get("ODD", "0"))  # jobs of rule `odd` that fail (fewer, first)
    QUICK = int(os.environ.get("QUICK", "0"))  # jobs of rule `quick` that finish at once

    def work(of):
        Path("started/" + of.replace("/", "_")).write_text(str(os.getpid()))
        while not os.path.exists("release/all"):
            time.sleep(0.01)
        Path(of).write_text("done")

    def quick(of):
        Path(of).write_text("quick")

    def broken(of):
        raise ValueError("the aligner exited with code 137 on " + of)

    def odd(of):
        raise KeyError("no such sample")

    def count(of):
        Path(of).write_text("counted")

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), reuse_workers=True)
    for i in range(ODD):
        ppg.FileGeneratingJob(f"out/odd{{i}}", odd)
    for i in range(BROKEN):
        bad = ppg.FileGeneratingJob(f"out/broken{{i}}", broken)
        ppg.FileGeneratingJob(f"out/count{{i}}", count).depends_on(bad)
    quick_jobs = [ppg.FileGeneratingJob(f"out/quick{{i}}", quick) for i in range(QUICK)]
    for i in range(WAITING):  # after the first quick job, when there is one
        ppg.FileGeneratingJob(f"out/work{{i}}", work).depends_on(quick_jobs[:1])
    ppg.run()
    """
)


def start(tmp_path, monkeypatch, logs: bool = True, **env: str) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("out", "started", "release") + (("logs",) if logs else ()):
        (tmp_path / name).mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))


def columns(term: Terminal, width: int) -> None:
    fcntl.ioctl(term.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))


def status_lines(term: Terminal) -> list[str]:
    return [line for line in term.text.splitlines() if line.startswith("done ") or re.match(r"^\d+/\d+ ·", line)]


# --- the status line -------------------------------------------------------------------


def test_at_80_columns_the_status_line_keeps_its_eta_and_marks_a_first_guess_rough(tmp_path, monkeypatch):
    # 300 failures and 300 blocked jobs, 20 000 jobs still to run: the full line has 86 columns
    start(tmp_path, monkeypatch, BROKEN="300", QUICK="20", WAITING="20000")
    term = Terminal(BROKEN="300", QUICK="20", WAITING="20000")
    try:
        columns(term, 80)
        term.expect(r"blocked 300", timeout=60)  # every failure and blocked job is counted
        line = term.expect(r"^.*· ETA ~\d+:\d\d:\d\d$", timeout=60).group(0)
        assert len(line) <= 80 and "…" not in line
        assert re.match(r"^(done )?\d+/20620 · (running|run) 2 · (failed|fail) 300 · (blocked|blk) 300", line)
    finally:
        term.close()
    # the same counts, as wide as the terminal allows, and never without the ETA
    counts = {"done": 20, "total": 20620, "running": 2, "queued": 0, "failed": 300, "blocked": 300}
    wide = status_text(counts, 65, 10000, None, rough=True)
    assert wide == "done 20/20620 (0%) · running 2 · failed 300 · blocked 300 · 0:01:05 · ETA ~2:46:40"
    for width in (80, 70, 60):
        text = status_text(counts, 65, 10000, width, rough=True)
        assert text.endswith(" · ETA ~2:46:40") and len(text) <= width
    assert status_text(counts, 65, 10000, 30, rough=True).endswith(" · ETA ~2:46:40")  # shortest, still whole
    assert status_text(counts, 65, None, 40).startswith("20/20620")


# --- typed commands -----------------------------------------------------------------------


def test_a_typed_line_runs_at_its_enter_whatever_comes_in_the_same_read(tmp_path, monkeypatch):
    start(tmp_path, monkeypatch, WAITING="2")
    term = Terminal(WAITING="2")
    try:
        term.expect(r"Press Enter")
        wait_for_files("started/out_work0", "started/out_work1")
        term.send("\r")  # Enter: progress per rule, then the running jobs
        term.expect(r"^work  0/2 · 2 running\n#\s+job\s+rule")
        for _attempt in range(12):  # Enter, then a command and its Enter, in one write, while the line redraws
            term.send("\rkill 9\r")
            term.expect(r"^#\s+job\s+rule")
            term.expect(r"kill takes a number from the last list of running jobs \(1-2\)")
        term.send("\x1b[\r")  # an escape sequence cut short by Enter: the Enter still counts
        term.expect(r"^#\s+job\s+rule")
        term.send("\x1bkill 9\r")  # a lone Escape before a command does not eat its first letter
        term.expect(r"kill takes a number from the last list of running jobs \(1-2\)")
        term.send("kil\x1b[Dl 9\n")  # an arrow key inside the command is skipped
        term.expect(r"kill takes a number from the last list of running jobs \(1-2\)")
        assert "unknown command" not in term.text
        Path("release/all").write_text("")
        assert term.wait() == 0
    finally:
        term.close()


# --- the end of a run ---------------------------------------------------------------------


def test_a_stopped_run_counts_the_jobs_it_never_started(tmp_path, monkeypatch):
    start(tmp_path, monkeypatch, logs=False)
    term = Terminal(WAITING="6", ODD="1")
    try:
        wait_for_files("started/out_work0", "started/out_work1")
        term.send("stop\n")
        term.expect("stopping: no new jobs start")
        Path("release/all").write_text("")
        assert term.wait() == 1
    finally:
        term.close()
    text = term.text
    assert "The run was stopped from the console: running jobs finished, nothing new started." in text
    assert re.search(r"^pypipegraph: 2 job\(s\) ran, 1 failed, 4 not started; 7 jobs in the graph", text, re.M)
    assert "Logs: none kept" in text
    assert "logs/ppg_errors.txt (every" not in text and "see logs/ppg_errors.txt" not in text
    last = text.rstrip().splitlines()[-1]
    assert last == ("ppg.RunInterrupted: The run was stopped from the console after 2 job(s) ran; finished "
                    "jobs are recorded, the rest run next time. 1 job(s) failed or were killed: "
                    "`ppg status --state failed` lists them; see the summary above")


def test_the_summary_names_the_report_and_lists_the_largest_failure_group_first(tmp_path, monkeypatch):
    start(tmp_path, monkeypatch)
    Path("release/all").write_text("")
    done = subprocess.run([sys.executable, "pipeline.py"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60,
                          env=child_env(ODD="1", BROKEN="3", WAITING="1", PYPIPEGRAPH_REPORT="1"))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    groups = [line for line in lines if re.match(r"^  \d+ jobs? of ", line)]
    assert groups[0].startswith("  3 jobs of broken (") and groups[1].startswith("  1 job of odd (out/odd0)")
    assert "Report: logs/ppg_report.html (open it in a browser; `ppg report` writes it again)." in lines
    assert Path("logs/ppg_report.html").exists()
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("ppg.RuntimeError: 4 job(s) failed (3 more did not run because of them)")
    assert ".;" not in done.stderr
