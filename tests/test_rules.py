"""Rules: the kind of a job (its callback's name, its class, or what the user set), recorded
with the run's graph and summed up by `ppg status --rules`."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pypipegraph as ppg


def trim(of):
    time.sleep(0.05)
    Path(of).write_text("trimmed")


def align_with(sample):
    def run(of):
        if sample == "s3":
            raise ValueError("index truncated")
        Path(of).write_text(sample)
    return run


def scaled(factor, of):
    Path(of).write_text(str(factor))


def ppg_status(*args) -> str:
    result = subprocess.run([sys.executable, "-m", "pypipegraph", "status", *args], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_jobs_rule_is_its_callback_its_class_or_what_was_set(new_pipegraph):
    assert ppg.FileGeneratingJob("out/t", trim).rule == "trim"
    assert ppg.FileGeneratingJob("out/a", align_with("s1")).rule == "align_with.run"  # closures: no <locals>
    assert ppg.FileGeneratingJob("out/p", functools.partial(scaled, 2)).rule == "scaled"
    assert ppg.FileGeneratingJob("out/l", lambda of: None).rule == (
        "test_a_jobs_rule_is_its_callback_its_class_or_what_was_set.<lambda>")
    assert ppg.ParameterInvariant("p", (1,)).rule == "ParameterInvariant"  # no callback: the class
    named = ppg.FileGeneratingJob("out/n", lambda of: None)
    named.rule = "normalise"
    assert named.rule == "normalise"
    with pytest.raises(ValueError, match="out/n: rule must be a non-empty string; got ''"):
        named.rule = ""


def test_status_rules_sums_up_the_last_graph_by_rule(new_pipegraph):
    for sample in ("s1", "s2", "s3"):
        trimmed = ppg.FileGeneratingJob(f"out/{sample}.trim", trim)
        ppg.FileGeneratingJob(f"out/{sample}.bam", align_with(sample)).depends_on(trimmed)
    merged = ppg.FileGeneratingJob("out/merged", lambda of: Path(of).write_text("m"))
    merged.rule = "merge"
    merged.depends_on([ppg.FileGeneratingJob(f"out/s{i}.bam", align_with(f"s{i}")) for i in (1, 2, 3)])
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    lines = ppg_status("--rules").splitlines()
    assert lines[0].split() == ["rule", "jobs", "up", "to", "date", "ran", "in", "run", "1", "failed",
                                "total", "runtime", "mean", "max", "peak", "rss"]
    cells = {line.split()[0]: line.split()[1:5] for line in lines[1:-1]}
    assert cells == {"trim": ["3", "3", "3", "0"], "align_with.run": ["3", "2", "3", "1"],
                     "merge": ["1", "0", "0", "0"]}
    assert lines[1].startswith("trim ")  # most runtime first: 3 x 0.05 s
    assert lines[-1] == "3 rules, 7 jobs in the graph of run 1; runtimes as last recorded"


def test_status_rules_without_a_kept_graph(ppg_dir):
    import sqlite3

    ppg.new_pipegraph(quiet=True)
    ppg.FileGeneratingJob("out/x", trim)
    ppg.run()
    conn = sqlite3.connect(".pypipegraph_status_robust")
    conn.execute("DELETE FROM run_graphs")
    conn.commit()
    conn.close()
    assert ppg_status("--rules").strip() == (
        "no job graph kept in the store yet: run the pipeline (with this version) first")


def test_a_graph_kept_before_rules_groups_by_class(new_pipegraph):
    import json
    import lzma
    import sqlite3

    a = ppg.FileGeneratingJob("out/a", trim)
    ppg.FileGeneratingJob("out/b", trim).depends_on(a)
    ppg.run()
    conn = sqlite3.connect(".pypipegraph_status_robust")
    data = json.loads(lzma.decompress(conn.execute("SELECT data FROM graphs").fetchone()[0]))
    assert sorted(data["rule_names"]) == ["FunctionInvariant", "trim"]
    del data["rule_names"], data["rules"]  # as the previous version kept it
    conn.execute("UPDATE graphs SET data = ?", (lzma.compress(json.dumps(data).encode()),))
    conn.commit()
    conn.close()
    lines = ppg_status("--rules").splitlines()
    assert lines[1].split()[:2] == ["FileGeneratingJob", "2"]
    assert lines[-1].endswith("(a graph kept before rules were recorded: grouped by class); runtimes as last recorded")
