"""`ppg why`, `ppg graph`, `ppg accept`: planning a script's next run without running it."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import os
from pathlib import Path
import pypipegraph as ppg

ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)
FACTOR = int(os.environ.get("FACTOR", "2"))

def count(of):
    with open("out/count.log", "a") as fh:
        fh.write(of + "\\n")

def read_input(of):
    count(of)
    Path(of).write_text(Path("input.txt").read_text().strip())

def scale(of):
    count(of)
    Path(of).write_text(str(int(Path("out/raw").read_text()) * FACTOR))

def report(of):
    count(of)
    Path(of).write_text("result: " + Path("out/scaled").read_text())

raw = ppg.FileGeneratingJob("out/raw", read_input).depends_on(ppg.FileInvariant("input.txt"))
scaled = ppg.FileGeneratingJob("out/scaled", scale).depends_on(raw)
scaled.depends_on_params(FACTOR)
ppg.FileGeneratingJob("out/report", report).depends_on(scaled)
ppg.FileGeneratingJob("out/other", lambda of: count(of) or Path(of).write_text("x") and None)
ppg.run_pipegraph()
'''


def ppg_cli(*args, env=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def run_script(env=None):
    proc = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr


def snapshot():
    """Contents and mtimes of every file here (store included)."""
    state = {}
    for path in Path(".").rglob("*"):
        if path.is_file():
            state[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return state


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pipeline.py").write_text(SCRIPT)
    Path("input.txt").write_text("21\n")
    run_script()
    return tmp_path


def section(output: str, title: str) -> list[str]:
    """Job ids listed under a `will run` / `may run` heading."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    jobs = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        if not line.startswith("      "):
            jobs.append(line.strip().split(":")[0])
    return jobs


def test_why_after_no_change_lists_nothing(pipeline):
    out = ppg_cli("why", "pipeline.py", "--jobs").stdout
    assert "will run: 0" in out and "may run" in out
    assert section(out, "will run") == [] and section(out, "may run") == []
    assert "up to date: 4" in out


def test_why_after_input_edit_splits_will_and_may(pipeline):
    Path("input.txt").write_text("22\n")
    before = snapshot()
    out = ppg_cli("why", "pipeline.py", "--jobs").stdout
    assert section(out, "will run") == ["out/raw"]
    assert sorted(section(out, "may run")) == ["out/report", "out/scaled"]
    assert "input file input.txt changed" in out
    assert "content changed" in out
    assert snapshot() == before  # nothing ran, nothing was written, not even the store


def test_why_after_parameter_change_shows_old_and_new(pipeline):
    out = ppg_cli("why", "pipeline.py", "--jobs", env={"FACTOR": "3"}).stdout
    assert section(out, "will run") == ["out/scaled"]
    assert section(out, "may run") == ["out/report"]
    assert "PIout/scaled: 2  ->  3" in out


def test_why_after_function_change_shows_a_source_diff(pipeline):
    Path("pipeline.py").write_text(SCRIPT.replace('"result: "', '"total: "'))
    out = ppg_cli("why", "pipeline.py", "--jobs").stdout
    assert section(out, "will run") == ["out/report"]
    assert '-    Path(of).write_text("result: "' in out
    assert '+    Path(of).write_text("total: "' in out


def test_why_names_missing_outputs_and_filters_by_glob(pipeline):
    os.unlink("out/other")
    out = ppg_cli("why", "pipeline.py", "out/o*", "--jobs").stdout
    assert section(out, "will run") == ["out/other"]
    assert "output out/other missing" in out


def test_why_may_run_is_really_decided_by_early_cutoff(pipeline):
    """An input edit that does not change raw's output: raw will run, scaled only may, and
    the real run shows early cutoff deciding it."""
    Path("input.txt").write_text("21\n\n")  # raw's output stays "21"
    out = ppg_cli("why", "pipeline.py", "--jobs").stdout
    assert section(out, "will run") == ["out/raw"]
    assert "out/scaled" in section(out, "may run")
    run_script()
    counts = Path("out/count.log").read_text().split()
    assert counts.count("out/raw") == 2 and counts.count("out/scaled") == 1  # cut off


def test_graph_formats(pipeline):
    dot = ppg_cli("graph", "pipeline.py").stdout
    assert dot.startswith("digraph") and '"out/raw" -> "out/scaled";' in dot
    mermaid = ppg_cli("graph", "pipeline.py", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR") and '["out/report"]' in mermaid
    ppg_cli("graph", "pipeline.py", "--format", "gml", "-o", "g.gml")
    assert 'label "out/scaled"' in Path("g.gml").read_text()
    with_invariants = ppg_cli("graph", "pipeline.py", "--invariants").stdout
    assert '"PIout/scaled" -> "out/scaled";' in with_invariants
    assert "PIout" not in dot


def test_accept_records_a_harmless_change(pipeline):
    Path("pipeline.py").write_text(SCRIPT.replace("def report(of):\n", "def report(of):\n    unused = 1\n"))
    out = ppg_cli("why", "pipeline.py", "--jobs").stdout
    assert section(out, "will run") == ["out/report"]
    accepted = ppg_cli("accept", "pipeline.py", "out/report").stdout
    assert "out/report: accepted" in accepted
    assert section(ppg_cli("why", "pipeline.py", "--jobs").stdout, "will run") == []
    run_script()
    assert Path("out/count.log").read_text().split().count("out/report") == 1


def test_accept_refuses_jobs_whose_upstream_must_run(pipeline):
    Path("input.txt").write_text("5\n")
    proc = ppg_cli("accept", "pipeline.py", "out/scaled", "out/raw", check=False)
    assert "out/raw: accepted" in proc.stdout  # its own input changed: acceptable
    assert "out/scaled: not accepted: upstream out/raw must run first" in proc.stdout
    proc = ppg_cli("accept", "pipeline.py", "out/report", check=False)
    assert proc.returncode == 1
    proc = ppg_cli("accept", "pipeline.py", "out/nothing*", check=False)
    assert proc.returncode == 1 and "no job matches" in proc.stderr


def test_script_errors_are_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("broken.py").write_text("import pypipegraph as ppg\nppg.new_pipegraph()\nraise ValueError('oops')\n")
    proc = ppg_cli("why", "broken.py", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "ppg why: broken.py raised ValueError: oops"
    Path("norun.py").write_text("import pypipegraph as ppg\nppg.new_pipegraph()\n")
    proc = ppg_cli("graph", "norun.py", check=False)
    assert proc.returncode == 1 and "without calling run_pipegraph()" in proc.stderr
    proc = ppg_cli("why", "missing.py", check=False)
    assert proc.returncode == 1 and "no script missing.py" in proc.stderr
