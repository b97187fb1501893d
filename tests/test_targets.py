"""Running part of a pipeline: `run_pipegraph(targets=[...])`, $PYPIPEGRAPH_TARGETS and
`ppg run SCRIPT TARGET ...` run the named jobs and what they need; the rest is left as
it is (not run, not checked, its record kept). Real runs with real workers and store.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli_store import ROOT, env

import pypipegraph as ppg


def count(name: str) -> None:
    with open(f"out/{name}.count", "a") as fh:
        fh.write("x")


def runs(name: str) -> int:
    path = Path(f"out/{name}.count")
    return len(path.read_text()) if path.exists() else 0


class Watched(ppg.FileGeneratingJob):
    """A library's job class that acts when invalidated (0.197's hook): here it counts."""

    def invalidated(self, reason: str = "") -> None:
        count("other.invalidated")
        super().invalidated(reason)


def define(factor: int = 1) -> None:
    """raw -> scaled -> report; other (parameters: factor); two samples with two outputs each."""
    def make(of, text="x"):
        count(Path(of).name)
        Path(of).write_text(text)

    raw = ppg.FileGeneratingJob("out/raw", make)
    scaled = ppg.FileGeneratingJob("out/scaled", make).depends_on(raw)
    ppg.FileGeneratingJob("out/report", make).depends_on(scaled)
    Watched("out/other", make).depends_on_params(factor)
    for sample in ("s1", "s2"):
        ppg.MultiFileGeneratingJob([f"out/{sample}.bam", f"out/{sample}.bai"],
                                   lambda ofs: [make(of) for of in ofs])


def test_a_target_runs_with_what_it_needs_and_nothing_else(new_pipegraph):
    define()
    ppg.run_pipegraph(targets=["out/scaled"])
    assert (runs("raw"), runs("scaled"), runs("report"), runs("other")) == (1, 1, 0, 0)
    assert not Path("out/s1.bam").exists()
    new_pipegraph.new_pipegraph()
    define()
    ppg.run_pipegraph()  # the rest runs now; what ran is up to date
    assert (runs("raw"), runs("scaled"), runs("report"), runs("other"), runs("s1.bam")) == (1, 1, 1, 1, 1)


def test_glob_patterns_and_output_names(new_pipegraph):
    define()
    ppg.run_pipegraph(targets=["out/s2.bai", "out/rep*"])  # an output of a two-file job; a glob
    assert (runs("s2.bam"), runs("s1.bam"), runs("report"), runs("raw"), runs("other")) == (1, 0, 1, 1, 0)
    assert Path("out/s2.bam").exists() and Path("out/s2.bai").exists()


def test_jobs_not_needed_are_not_checked_and_keep_their_reason_to_run(new_pipegraph):
    define(factor=1)
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    define(factor=2)  # out/other is out of date now
    invalidated = runs("other.invalidated")  # its first run: never ran, not done
    ppg.run_pipegraph(targets="out/report")
    assert runs("other") == 1  # not needed: not run
    assert runs("other.invalidated") == invalidated  # nor checked, nor invalidated
    run_log = Path("logs/ppg_run.txt").read_text()
    assert "targets out/report: 3 of 6 jobs needed; the other 3 not needed in this run" in run_log
    new_pipegraph.new_pipegraph()
    define(factor=2)
    ppg.run_pipegraph()  # its parameters were not checked in between: it still runs
    assert runs("other") == 2 and runs("report") == 1
    assert runs("other.invalidated") > invalidated  # checked now


def test_an_unknown_target_is_an_error_before_any_job_runs(new_pipegraph):
    define()
    with pytest.raises(ppg.PyPipeGraphError) as caught:
        ppg.run_pipegraph(targets=["out/scaled", "out/sacled", "out/none*"])
    message = str(caught.value)
    assert "no job or output file matches 'out/sacled', 'out/none*'" in message
    assert "did you mean out/scaled" in message and "Nothing ran." in message
    assert not list(Path("out").glob("*.count"))
    assert not Path(".pypipegraph_status_robust").exists()


def test_targets_from_the_environment(new_pipegraph, monkeypatch):
    monkeypatch.setenv("PYPIPEGRAPH_TARGETS", "'out/s1.*' out/other")
    define()
    ppg.run_pipegraph()
    assert (runs("s1.bam"), runs("other"), runs("s2.bam"), runs("raw")) == (1, 1, 0, 0)


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
    Path("out").mkdir(exist_ok=True)
    for i in range(30):
        up = ppg.FileGeneratingJob(f"out/s{{i:03d}}.trim", lambda of: Path(of).write_text("t"))
        ppg.FileGeneratingJob(f"out/s{{i:03d}}.bam", lambda of: Path(of).write_text("b")).depends_on(up)
    ppg.run_pipegraph()
    """
)


def ppg_cli(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], cwd=directory, env=env(),
                          capture_output=True, text=True, timeout=120)


def test_ppg_run_runs_part_of_a_script_without_editing_it(tmp_path):
    (tmp_path / "pipeline.py").write_text(SCRIPT.format(root=ROOT))
    done = ppg_cli(tmp_path, "run", "out/s01*.bam")  # pipeline.py is the default script
    assert done.returncode == 0, done.stderr
    made = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert made == [f"s{i:03d}.{kind}" for i in range(10, 20) for kind in ("bam", "trim")]
    assert "targets 'out/s01*.bam': 20 of 60 jobs needed; the other 40 not needed" in done.stdout
    plan = ppg_cli(tmp_path, "why")  # the rest was left as it was: never ran
    assert plan.stdout.splitlines()[0] == "will run: 40"


def test_ppg_why_plans_only_the_targets_from_the_environment(tmp_path):
    (tmp_path / "pipeline.py").write_text(SCRIPT.format(root=ROOT))
    done = subprocess.run([sys.executable, "-m", "pypipegraph", "why"], cwd=tmp_path,
                          env={**env(), "PYPIPEGRAPH_TARGETS": "out/s007.bam"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1:3] == ["will run: 2", "  2 jobs of <lambda>: never ran (no record in the store)"]
    assert "up to date: 0" in lines  # the other 58 are not part of this plan


def test_ppg_run_with_an_unknown_target_fails_before_any_job_runs(tmp_path):
    (tmp_path / "pipeline.py").write_text(SCRIPT.format(root=ROOT))
    done = ppg_cli(tmp_path, "run", "pipeline.py", "out/x*")
    assert done.returncode == 1
    assert "PyPipeGraphError: targets: no job or output file matches 'out/x*'" in done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
