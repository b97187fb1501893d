"""`ppg why` groups jobs by what changed, so its answer does not grow with the number of
jobs; and it names what changed among what a callback reads (a helper, a constant).

Real pipelines run in subprocesses against a real store; `ppg why` runs as the user
runs it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli_store import ROOT, env

PIPELINE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    N = int(os.environ["N"])
    MIN_Q = int(os.environ.get("MIN_Q", "20"))
    PACE = int(os.environ.get("PACE", "1"))
    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(2))

    def count(text):
        return len(text) * PACE

    def qc(of):
        Path(of).write_text("qc")

    for i in range(N):
        job = ppg.FileGeneratingJob(f"out/s{{i:05d}}.qc", qc)
        job.depends_on_params({{"min_q": MIN_Q, "sample": f"s{{i}}"}})
        if i % 10 == 0:
            ppg.FileGeneratingJob(f"out/s{{i:05d}}.n", lambda of: Path(of).write_text(str(count("abc"))))
    ppg.run()
    """
)


def make(directory: Path, jobs: int) -> dict:
    """A pipeline of `jobs` qc jobs (and a tenth as many counting jobs) that ran once."""
    directory.mkdir()
    (directory / "out").mkdir()
    (directory / "pipeline.py").write_text(PIPELINE.format(root=ROOT))
    environment = {**env(), "N": str(jobs)}
    done = subprocess.run([sys.executable, "pipeline.py"], cwd=directory, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return environment


def why(directory: Path, environment: dict, *args: str, **changes: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pypipegraph", "why", *args], cwd=directory,
                          env={**environment, **changes}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.splitlines()


@pytest.fixture
def small_and_large(tmp_path):
    return {size: (tmp_path / f"n{size}", make(tmp_path / f"n{size}", size)) for size in (40, 1200)}


def test_one_changed_parameter_is_one_line_whatever_the_number_of_jobs(small_and_large):
    answers = {size: why(directory, environment, MIN_Q="30")
               for size, (directory, environment) in small_and_large.items()}
    small, large = answers[40], answers[1200]
    assert len(large) == len(small) < 40
    assert "  1200 jobs of qc: parameters changed: 'min_q': 20 -> 30" in large
    assert "will run: 1200" in large
    # the old and new parameters of a few jobs are shown, then counted
    assert any(line.strip().startswith("... and 1197 more different changes") for line in large)


def test_jobs_lists_every_job(small_and_large):
    directory, environment = small_and_large[40]
    lines = why(directory, environment, "pipeline.py", "out/*.qc", "--jobs", MIN_Q="30")
    listed = [line for line in lines if line.startswith("  out/")]
    assert len(listed) == 40
    assert listed[0] == "  out/s00000.qc: parameters PIout/s00000.qc changed"
    assert "      PIout/s00000.qc: {'min_q': 20, 'sample': 's0'}  ->  {'min_q': 30, 'sample': 's0'}" in lines


def test_two_reasons_read_alike_and_in_one_order(tmp_path):
    """A changed parameter and a changed function: one group, the reasons in one order
    however the jobs' inputs are ordered in memory (two processes, two hash seeds)."""
    directory, environment = tmp_path / "p", make(tmp_path / "p", 60)
    script = directory / "pipeline.py"
    script.write_text(script.read_text().replace('write_text("qc")', 'write_text("qc!")'))
    answers = [why(directory, {**environment, "PYTHONHASHSEED": seed}, MIN_Q="21") for seed in ("1", "2")]
    assert answers[0][:2] == answers[1][:2]
    assert answers[0][1] == ("  60 jobs of qc: function __main__.qc changed; "
                             "parameters changed: 'min_q': 20 -> 21")


def test_a_changed_constant_is_named_with_old_and_new_value(tmp_path):
    directory, environment = tmp_path / "p", make(tmp_path / "p", 30)
    lines = why(directory, environment, PACE="2")
    assert "  3 jobs of <lambda>: function __main__.<lambda> changed (constant PACE: 1 -> 2)" in lines
    at = lines.index("      out/s00000.n_func (and 2 more alike): its source is unchanged; what it reads changed:")
    assert lines[at + 1] == "          constant PACE: 1 -> 2"
    # the qc jobs do not read PACE: up to date
    assert "up to date: 30" in lines


def test_an_edited_helper_is_named_with_its_diff(tmp_path):
    directory, environment = tmp_path / "p", make(tmp_path / "p", 30)
    script = directory / "pipeline.py"
    script.write_text(script.read_text().replace("return len(text) * PACE", "return (len(text) + 1) * PACE"))
    lines = why(directory, environment)
    assert "  3 jobs of <lambda>: function __main__.<lambda> changed (helper count changed)" in lines
    text = "\n".join(lines)
    assert "helper count changed\n" in text
    assert "-    return len(text) * PACE" in text
    assert "+    return (len(text) + 1) * PACE" in text
    assert text.count("--- before") == 1


def test_a_constant_changed_after_a_run_reruns_and_is_named_in_history(tmp_path):
    """The run and `ppg why` agree: the jobs that read the constant run, the rest do not."""
    directory, environment = tmp_path / "p", make(tmp_path / "p", 20)
    assert why(directory, environment, PACE="3")[0] == "will run: 2"
    done = subprocess.run([sys.executable, "pipeline.py"], cwd=directory, env={**environment, "PACE": "3"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (directory / "out" / "s00010.n").read_text() == "9"
    assert why(directory, environment, PACE="3")[0] == "will run: 0"
