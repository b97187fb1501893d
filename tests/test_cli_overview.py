"""`ppg why` grouped by rule and reason, `ppg graph` coloured by outcome and as a rule graph,
and two mistakes a user hits: an output directory that does not exist, and
`job.depends_on(some_function)`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_cli_store import ROOT, ok, one_line_error, ppg, run_pipeline

import pypipegraph as ppg_api

PIPELINE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(2))

    def trim(of):
        time.sleep(0.05)
        Path(of).write_text("trimmed " + of)

    def align(of):
        Path(of).write_text("aligned")

    def merge(of):
        if os.environ.get("BREAK"):
            raise ValueError("merge broke")
        Path(of).write_text("merged")

    def report(of):
        Path(of).write_text("report")

    aligned = []
    for i in range(12):
        t = ppg.FileGeneratingJob(f"out/trim{{i}}", trim)
        aligned.append(ppg.FileGeneratingJob(f"out/align{{i}}", align).depends_on(t))
    m = ppg.FileGeneratingJob("out/merged", merge).depends_on(aligned)
    ppg.FileGeneratingJob("out/report", report).depends_on(m)
    try:
        ppg.run()
    except ppg.RuntimeError:
        pass
    """
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    run_pipeline()
    return tmp_path


def edit_trim():
    text = Path("pipeline.py").read_text()
    Path("pipeline.py").write_text(text.replace('"trimmed "', '"trimmed: "'))


# --- ppg why --------------------------------------------------------------------------------


def test_why_groups_jobs_by_rule_and_reason_and_shows_the_diff_once(workdir):
    edit_trim()
    out = ok("why")  # pipeline.py is the default script
    lines = out.splitlines()
    assert lines[0] == "will run: 12"
    assert lines[1] == "  12 jobs of trim: function __main__.trim changed"
    assert lines[2] == "      out/trim0_func (and 11 more alike):"
    assert out.count("--- before") == 1
    assert '-    Path(of).write_text("trimmed " + of)' in out
    assert '+    Path(of).write_text("trimmed: " + of)' in out
    may = lines.index("may run (only if an upstream output turns out different): 14")
    assert lines[may + 1] == "  12 jobs of align: an upstream job of trim will run; reruns if its output changes"
    total = next(line for line in lines if line.startswith("total: "))
    # 12 jobs of at least 0.05 s each ran last time: their recorded runtimes add up
    assert total.startswith("total: 12 jobs will run, ") and "by their last runtimes" in total
    seconds = float(total.split(", ")[1].split(" s")[0])
    assert 0.6 <= seconds < 30
    assert "(about " in total and total.endswith("on 2 cores)")


def test_why_jobs_lists_them_one_by_one(workdir):
    edit_trim()
    out = ok("why", "out/trim1*", "--jobs")  # a first argument that is no file is a pattern
    lines = out.splitlines()
    assert lines[0] == "will run: 3"
    listed = [line for line in lines if line.startswith("  out/")]
    assert [line.split(":")[0].strip() for line in listed] == ["out/trim1", "out/trim10", "out/trim11"]
    assert out.count("--- before") == 3  # each job's diff


def test_why_without_a_script_and_without_pipeline_py(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(ppg("why"), "why")
    assert line == "ppg why: no script given and no pipeline.py here: name the pipeline script"


def test_why_total_counts_jobs_without_a_recorded_runtime(workdir):
    Path(".pypipegraph_status_robust").unlink()
    out = ok("why")
    assert "no store" in out.splitlines()[0]
    assert "total: 26 jobs will run; 26 without a recorded runtime" in out
    assert "  12 jobs of trim: never ran (no record in the store)" in out


# --- ppg graph --------------------------------------------------------------------------------


def test_graph_colours_jobs_by_outcome(workdir, monkeypatch):
    monkeypatch.setenv("BREAK", "1")
    Path("pipeline.py").write_text(Path("pipeline.py").read_text().replace('"merged"', '"merged!"'))
    run_pipeline()
    dot = ok("graph")
    assert dot.startswith("digraph")
    assert '"out/merged" [tooltip="FileGeneratingJob, failed", fillcolor="#f4a6a6"];' in dot
    assert '"out/report" [tooltip="FileGeneratingJob, blocked", fillcolor="#d9d9d9"];' in dot
    assert '"out/trim0" [tooltip="FileGeneratingJob, up to date", fillcolor="#e3f4e3"];' in dot
    mermaid = ok("graph", "--format", "mermaid")
    assert '["out/merged"]:::failed' in mermaid and "classDef failed fill:#f4a6a6" in mermaid


def test_graph_of_rules_with_counts(workdir):
    dot = ok("graph", "--rules")
    assert '"trim" [label="trim (12 jobs)", tooltip="12 done", fillcolor="#a8dca8"];' in dot
    assert '"merge" [label="merge (1 job)"' in dot
    edges = sorted(line.strip() for line in dot.splitlines() if "->" in line)
    assert edges == ['"align" -> "merge";', '"merge" -> "report";', '"trim" -> "align";']


def test_graph_output_says_what_it_wrote(workdir):
    assert ok("graph", "-o", "jobs.dot") == "wrote jobs.dot: dot graph of 26 jobs, 25 edges\n"
    assert Path("jobs.dot").read_text().startswith("digraph")
    out = ok("graph", "--rules", "--format", "mermaid", "-o", "rules.mmd")
    assert out == "wrote rules.mmd: mermaid graph of 4 rules, 3 edges\n"
    assert Path("rules.mmd").read_text().startswith("flowchart LR")
    line = one_line_error(ppg("graph", "--rules", "--format", "gml", "-o", "x.gml"), "graph")
    assert "--rules draws dot or mermaid" in line


# --- an output directory that does not exist -----------------------------------------------------


def test_missing_output_directory_fails_with_a_hint(tmp_path, monkeypatch):
    """As in 0.197 the directory is not created: the job fails (FileNotFoundError, as
    0.197 raises), and the message says which directory to create."""
    monkeypatch.chdir(tmp_path)
    ppg_api.new_pipegraph(quiet=True)

    def write(of):
        Path(of).write_text("x")

    job = ppg_api.FileGeneratingJob("nodir/sub/out.txt", write)
    with pytest.raises(ppg_api.RuntimeError):
        ppg_api.run_pipegraph()
    assert isinstance(job.exception, FileNotFoundError)
    text = str(job.exception)
    assert "the output directory nodir/sub does not exist" in text
    assert "os.makedirs('nodir/sub', exist_ok=True)" in text
    assert not Path("nodir").exists()


# --- depends_on(a function) --------------------------------------------------------------------------


def test_depends_on_a_function_that_needs_arguments_is_refused_at_the_call():
    ppg_api.new_pipegraph(quiet=True)

    def trim(of):
        Path(of).write_text("x")

    job = ppg_api.FileGeneratingJob("out/trimmed", trim)
    with pytest.raises(ValueError) as caught:
        job.depends_on(trim)
    message = str(caught.value)
    assert message.startswith("out/trimmed: depends_on(")
    assert "needs 1 argument(s)" in message and "depends_on_func(name, function)" in message
    assert not job.prerequisites


def test_depends_on_a_function_returning_jobs_keeps_its_0197_meaning(tmp_path, monkeypatch):
    """0.197 calls a function given to depends_on just before the run and depends on the
    jobs it returns."""
    monkeypatch.chdir(tmp_path)
    ppg_api.new_pipegraph(quiet=True)
    order = []

    def first(of):
        Path(of).write_text("1")

    def second(of):
        Path(of).write_text(Path("a.txt").read_text() + "2")

    later = ppg_api.FileGeneratingJob("b.txt", second)
    later.depends_on(lambda: ppg_api.util.global_pipegraph.jobs["a.txt"])
    ppg_api.FileGeneratingJob("a.txt", first)
    order.append(len(later.prerequisites))
    ppg_api.run_pipegraph()
    assert Path("b.txt").read_text() == "12"
    assert order == [0]  # resolved at the run, not at the call
