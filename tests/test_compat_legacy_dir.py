"""A project directory built by pypipegraph 0.197 is taken over: nothing is recomputed that
0.197 would not recompute, its status file is left unchanged, one line says what was adopted;
after an edit exactly what 0.197 would rerun reruns. The status file is read without running
code from it.
"""

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from compat_harness import reference_python

import pypipegraph as ppg
from pypipegraph.legacy.store import read_status_file

SCRIPT = '''
import os, sys
import pypipegraph as ppg
ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(2, interactive=False), quiet=True, dump_graph=False)

def copy_upper(source):
    def write(of):
        open(of, "w").write(open(source).read().upper())
    return write

def count_lines(of):
    open(of, "w").write(str(len(open("out/a").read().splitlines())))

a = ppg.FileGeneratingJob("out/a", copy_upper("input.txt"))
a.depends_on(ppg.FileInvariant("input.txt"))
b = ppg.FileGeneratingJob("out/b", copy_upper("other.txt")).depends_on_params({"k": 3})
c = ppg.FileGeneratingJob("out/c", count_lines).depends_on(a)
d = ppg.MultiFileGeneratingJob(["out/d1", "out/d2"], lambda: [open(f, "w").write(f) for f in ("out/d1", "out/d2")])
d.depends_on(ppg.MultiFileInvariant(["input.txt", "other.txt"]))
ppg.run_pipegraph()
g = ppg.util.global_pipegraph
print("RAN", sorted(j.job_id for j in g.jobs.values() if j.was_run and isinstance(j, ppg.FileGeneratingJob)))
'''


@pytest.fixture
def built_by_0197(tmp_path):
    reference = reference_python()
    if reference is None:
        pytest.skip("pypipegraph 0.197 not installed")
    project = tmp_path / "project"
    project.mkdir()
    (project / "script.py").write_text(SCRIPT)
    (project / "input.txt").write_text("line one\nline two\n")
    (project / "other.txt").write_text("other\n")
    (project / "out").mkdir()
    ran = run(reference, project)
    assert ran == ["out/a", "out/b", "out/c", "out/d1:out/d2"]
    return project


def run(python, project: Path, script: str = "script.py") -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "PYPIPEGRAPH_"))}
    done = subprocess.run([python, script], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    run.stdout = done.stdout
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RAN ")]
    return eval(line[4:])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamps(project: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (project / "out").iterdir()}


def test_adopted_without_recomputing(built_by_0197):
    project = built_by_0197
    status = project / ".ppg_status_script.py"
    before, old_status = stamps(project), digest(status)
    assert run(sys.executable, project) == []
    assert stamps(project) == before  # no output touched
    assert digest(status) == old_status  # the old file is left as it was
    adopted = [line for line in run.stdout.splitlines() if "adopted" in line]
    assert len(adopted) == 1 and "4 up-to-date job(s)" in adopted[0], run.stdout
    assert run(sys.executable, project) == []  # and our own store holds from now on
    assert "adopted" not in run.stdout


@pytest.mark.parametrize("edit", ["input", "params", "other_file", "missing_output", "function"])
def test_after_an_edit_exactly_what_0197_reruns(built_by_0197, tmp_path, edit):
    project = built_by_0197
    twin = tmp_path / "twin"
    shutil.copytree(project, twin, symlinks=True)
    assert run(sys.executable, project) == []  # adopted first
    for directory in (project, twin):
        if edit == "input":
            (directory / "input.txt").write_text("line one\nline two\nline three\n")
        elif edit == "params":
            text = (directory / "script.py").read_text().replace('{"k": 3}', '{"k": 4}')
            (directory / "script.py").write_text(text)
        elif edit == "other_file":
            (directory / "other.txt").write_text("changed\n")
        elif edit == "missing_output":
            (directory / "out" / "b").unlink()
        else:
            text = (directory / "script.py").read_text().replace("str(len(", "'n=' + str(len(")
            (directory / "script.py").write_text(text)
    theirs = run(reference_python(), twin)
    ours = run(sys.executable, project)
    assert ours == theirs
    assert ours  # each edit reruns something


def test_status_file_at_our_store_path_is_moved_aside(built_by_0197):
    project = built_by_0197
    # 0.197 started by a path (`python ./script.py`) writes .pypipegraph_status_robust
    (project / ".ppg_status_script.py").rename(project / ".pypipegraph_status_robust")
    old = digest(project / ".pypipegraph_status_robust")
    assert run(sys.executable, project, "./script.py") == []
    aside = project / ".pypipegraph_status_robust.ppg197"
    assert digest(aside) == old
    assert (project / ".pypipegraph_status_robust").read_bytes().startswith(b"SQLite format 3")
    assert "moved it to" in run.stdout


def test_reading_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    status = tmp_path / ".ppg_status_x"
    with open(status, "wb") as fh:
        for key, value in [("out/a", False), ("PIx", Evil()), ("FIf", {"source": "s"})]:
            pickle.dump(key, fh)
            pickle.dump(value, fh)
    values = read_status_file(str(status))
    assert not marker.exists()
    assert values["out/a"] is False and values["FIf"] == {"source": "s"}
    assert values["PIx"] != values["PIx"]  # unreadable: never equal, so its job reruns


def test_no_status_file_nothing_adopted(new_pipegraph):
    ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
    ppg.run_pipegraph()
    assert ppg.util.global_pipegraph.jobs["out/a"].was_run


PLOT_SCRIPT = '''
import pypipegraph as ppg
ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(2, interactive=False), quiet=True, dump_graph=False)

def calc():
    import pandas as pd
    return pd.DataFrame({"x": [1, 2, 3], "y": [2, 4, 6]})

def plot(df):
    import plotnine as p9
    return p9.ggplot(df) + p9.aes("x", "y") + p9.geom_point()

job = ppg.PlotJob("out/plot.png", calc, plot, render_args={"width": 3, "height": 2, "dpi": 50})
job.add_fiddle(lambda p: p)
ppg.run_pipegraph()
g = ppg.util.global_pipegraph
print("RAN", sorted(j.job_id for j in g.jobs.values() if j.was_run and isinstance(j, ppg.FileGeneratingJob)))
'''


def test_plots_computed_by_0197_are_adopted(tmp_path):
    reference = reference_python()
    if reference is None:
        pytest.skip("pypipegraph 0.197 not installed")
    for python in (reference, sys.executable):
        if subprocess.run([python, "-c", "import pandas, plotnine"], capture_output=True).returncode:
            pytest.skip("pandas/plotnine missing")
    project = tmp_path / "project"
    (project / "out").mkdir(parents=True)
    (project / "script.py").write_text(PLOT_SCRIPT)
    assert "out/plot.png" in run(reference, project)
    before = stamps(project)
    assert run(sys.executable, project) == []
    assert stamps(project) == before
