"""Job ids holding control characters (an escape sequence that clears the screen, a newline
that would forge a row) never reach a terminal or a log raw: the run's console output and
summary, logs/, `ppg status`, `ppg history`, `ppg log`, `ppg why` and `ppg top` show them
escaped (`\\x1b[2J`, `\\n`). Real scripts, real store, a real running pipeline for ppg top."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
CLEAR = "out/clear\x1b[2J"
FORGED = "out/forged\nout/fake  done  1.00 s"
BAD = "out/bad\x1b[31m"
SLOW = "out/slow\x1b[2J\nfake row"

PIPELINE = textwrap.dedent(f"""
    import os, sys, time
    sys.path.insert(0, {ROOT!r})
    from pathlib import Path
    import pypipegraph as ppg

    def ok(of):
        Path(of).write_text("x")

    def bad(of):
        Path(of).write_text("partial")
        raise ValueError("failed for " + of)

    def slow(of):
        Path("started").write_text("")
        deadline = time.time() + 60
        while not os.path.exists("release") and time.time() < deadline:
            time.sleep(0.02)
        Path(of).write_text("x")

    ppg.new_pipegraph(dump_graph=False)
    ppg.FileGeneratingJob({CLEAR!r}, ok)
    ppg.FileGeneratingJob({FORGED!r}, ok)
    ppg.FileGeneratingJob({BAD!r}, bad)
    if os.environ.get("SLOW"):
        ppg.FileGeneratingJob({SLOW!r}, slow)
    ppg.run_pipegraph()
""")


def escaped(job_id: str) -> str:
    return job_id.replace("\x1b", "\\x1b").replace("\n", "\\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("out", "logs"):
        (tmp_path / name).mkdir()
    runtime = tempfile.mkdtemp(prefix="ppgrt")  # short: a socket's path has a length limit
    os.symlink(runtime, "runtime")
    os.mkdir(os.path.dirname(FORGED))  # "out/forged\nout": the forged id's directory
    Path("pipeline.py").write_text(PIPELINE)
    yield tmp_path
    shutil.rmtree(runtime, ignore_errors=True)


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPIPEGRAPH")}
    env.update(XDG_RUNTIME_DIR=os.path.realpath("runtime"), **extra)
    return env


def ppg(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True, text=True,
                          timeout=120, env=environment())
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def assert_safe(text: str, where: str) -> None:
    """No control character but newline and tab, and no line a job id forged."""
    assert not any(ch < " " and ch not in "\n\t" or "\x7f" <= ch <= "\x9f" for ch in text), (where, text)
    assert not any(line.startswith("out/fake") for line in text.splitlines()), (where, text)


def test_ids_with_control_characters_are_escaped_everywhere(project):
    run = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=120,
                         env=environment())
    assert run.returncode == 1  # BAD failed
    output = run.stdout + run.stderr
    assert_safe(output, "the run")
    assert f"FAILED {escaped(BAD)}: ValueError: failed for {escaped(BAD)}" in output
    assert f"1 job of bad ({escaped(BAD)})" in output
    for log in Path("logs").iterdir():
        text = log.read_text()
        assert_safe(text, log.name)
    assert escaped(BAD) in Path("logs/ppg_errors.txt").read_text()
    assert escaped(FORGED) in Path("logs/ppg_graph.txt").read_text()

    status = ppg("status", "--all")
    assert_safe(status, "ppg status")
    for job_id in (CLEAR, FORGED, BAD):
        assert any(line.startswith(escaped(job_id) + " ") for line in status.splitlines()), status
    for job_id in (CLEAR, FORGED, BAD):
        assert_safe(ppg("history", job_id), "ppg history")
        assert_safe(ppg("log", job_id), "ppg log")
    assert f"ValueError: failed for {escaped(BAD)}" in ppg("log", BAD)
    why = ppg("why", "--jobs")
    assert_safe(why, "ppg why")
    assert f"  {escaped(BAD)}: its last run failed" in why.splitlines()


def test_ppg_top_shows_such_ids_escaped(project):
    run = subprocess.Popen([sys.executable, "pipeline.py"], env=environment(SLOW="1"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while not os.path.exists("started"):
            assert run.poll() is None and time.time() < deadline
            time.sleep(0.02)
        top = ppg("top", "--once")
        while escaped(BAD) not in top:  # the failure may not be in yet
            assert time.time() < deadline
            top = ppg("top", "--once")
        assert_safe(top, "ppg top")
        rows = [line.split() for line in top.splitlines() if line[:2] == "1 "]
        assert rows and rows[0][1] == escaped(SLOW).split(" ")[0]
    finally:
        Path("release").write_text("")
        output = run.communicate(timeout=60)[0]
    assert_safe(output, "the run")
