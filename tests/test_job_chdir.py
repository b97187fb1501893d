"""A job that changes its working directory: its outputs are still the project's files,
checked, recorded and cleaned up there, and the next job in the same worker starts in
the project directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, runs


def write_then_leave(of):
    Path(of).write_text("x")
    os.makedirs("elsewhere", exist_ok=True)
    os.chdir("elsewhere")


def leave_then_write(of):
    os.makedirs("elsewhere", exist_ok=True)
    os.chdir("elsewhere")
    Path("../" + of).write_text("y")


def write_where_i_am(of):
    append("out/count", "x")
    Path(of).write_text(os.getcwd())


@pytest.mark.parametrize("reuse", [False, True])
def test_a_job_that_changes_directory_counts_its_outputs_in_the_project(new_pipegraph, reuse):
    ppg.new_pipegraph(quiet=True, dump_graph=False, reuse_workers=reuse,
                      resource_coordinator=ppg.LocalSystem(1, interactive=False))
    first = ppg.FileGeneratingJob("out/a.txt", write_then_leave)
    second = ppg.FileGeneratingJob("out/b.txt", leave_then_write)
    third = ppg.FileGeneratingJob("out/c.txt", write_where_i_am)
    second.depends_on(first)
    third.depends_on(second)
    ppg.run_pipegraph()
    assert Path("out/a.txt").read_text() == "x" and Path("out/b.txt").read_text() == "y"
    assert Path("out/c.txt").read_text() == os.getcwd()  # the next job started in the project
    assert not Path("elsewhere/out").exists()
    new_pipegraph.new_pipegraph()  # recorded as done: an unchanged rerun runs nothing
    first = ppg.FileGeneratingJob("out/a.txt", write_then_leave)
    second = ppg.FileGeneratingJob("out/b.txt", leave_then_write).depends_on(first)
    ppg.FileGeneratingJob("out/c.txt", write_where_i_am).depends_on(second)
    ppg.run_pipegraph()
    assert runs("out/count") == 1


def write_leave_and_fail(of):
    Path(of).write_text("partial")
    os.makedirs("elsewhere/out", exist_ok=True)
    Path("elsewhere", of).write_text("a file of the user's")
    os.chdir("elsewhere")
    raise ValueError("failed after chdir")


def test_a_failing_job_that_changed_directory_has_its_partial_output_removed_in_the_project(new_pipegraph):
    job = ppg.FileGeneratingJob("out/a.txt", write_leave_and_fail)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "failed after chdir" in str(job.exception)
    assert not Path("out/a.txt").exists()
    assert Path("elsewhere/out/a.txt").read_text() == "a file of the user's"  # not the job's output
