"""Outputs that something else took over: a directory in place of an output file, or in
place of the `<file>.broken` a failed job's partial output is renamed to. The job fails
naming the path, nothing the engine did not write is moved or deleted, the rest runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pypipegraph as ppg


def counting(name: str):
    def work(of):
        with open(f"counts.{name}", "a") as fh:
            fh.write("x")
        Path(of).write_text(name)
    return work


def runs(name: str) -> int:
    path = Path(f"counts.{name}")
    return len(path.read_text()) if path.exists() else 0


def users_directory(path: str) -> None:
    """A directory of someone's, with a file in it, at `path`."""
    os.mkdir(path)
    Path(path, "keep.txt").write_text("mine")


def untouched(path: str) -> bool:
    return Path(path).is_dir() and Path(path, "keep.txt").read_text() == "mine"


def graph(rename_broken: bool = False) -> dict:
    jobs = {name: ppg.FileGeneratingJob(f"out/{name}", counting(name), rename_broken=rename_broken)
            for name in ("a", "b")}
    jobs["c"] = ppg.FileGeneratingJob("out/c", counting("c")).depends_on(jobs["a"])
    return jobs


@pytest.mark.parametrize("rename_broken", [False, True])
def test_an_output_replaced_by_a_directory_fails_its_job_only(new_pipegraph, rename_broken):
    graph(rename_broken)
    ppg.run_pipegraph()
    os.unlink("out/a")
    users_directory("out/a")
    os.unlink("out/b")  # b has to run again, for a reason of its own

    new_pipegraph.new_pipegraph()
    jobs = graph(rename_broken)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert jobs["a"].failed and not jobs["b"].failed
    assert isinstance(jobs["a"].exception, ppg.JobContractError)
    assert "the output out/a is a directory" in str(jobs["a"].exception)
    assert any(reason.startswith("output out/a cannot be read (Is a directory)") for reason in jobs["a"].run_reasons)
    assert jobs["c"].error_reason == "Indirect"
    assert (runs("a"), runs("b"), runs("c")) == (1, 2, 1)  # b ran again; a's callback never ran
    assert untouched("out/a") and not os.path.exists("out/a.broken")


def test_a_directory_where_a_new_job_writes_fails_that_job_only(new_pipegraph):
    users_directory("out/a")
    jobs = graph()
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "the output out/a is a directory" in str(jobs["a"].exception)
    assert not jobs["b"].failed and Path("out/b").read_text() == "b"
    assert untouched("out/a")


def test_a_file_invariant_replaced_by_a_directory_names_the_path(new_pipegraph):
    Path("input.txt").write_text("1")
    job = ppg.FileGeneratingJob("out/a", counting("a")).depends_on(ppg.FileInvariant("input.txt"))
    ppg.run_pipegraph()
    os.unlink("input.txt")
    users_directory("input.txt")
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", counting("a")).depends_on(ppg.FileInvariant("input.txt"))
    with pytest.raises(IsADirectoryError) as info:
        ppg.run_pipegraph()
    assert info.value.filename == "input.txt"
    assert not job.was_run and untouched("input.txt")


def fails_after_writing(how: str):
    def work(of):
        Path(of).write_text("partial")
        if how == "raises":
            raise ValueError("bad input")
        os._exit(3)  # the worker dies: the master removes the partial output
    return work


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_rename_broken_onto_a_directory_removes_the_partial_output_and_says_why(new_pipegraph, how):
    users_directory("out/a.broken")
    job = ppg.FileGeneratingJob("out/a", fails_after_writing(how), rename_broken=True)
    other = ppg.FileGeneratingJob("out/b", counting("b"))
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed and not other.failed
    assert not os.path.lexists("out/a")  # the partial output never stays under the real name
    assert untouched("out/a.broken")
    why = "the partial output out/a could not be renamed to out/a.broken (it is a directory), so it was removed"
    assert job.exception.__notes__ == [why]
    assert isinstance(job.exception, ValueError if how == "raises" else ppg.JobDiedException)


def test_rename_broken_onto_a_directory_is_said_in_the_summary(new_pipegraph, capsys):
    new_pipegraph.new_pipegraph(quiet=False)
    users_directory("out/a.broken")
    ppg.FileGeneratingJob("out/a", fails_after_writing("raises"), rename_broken=True)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    err = capsys.readouterr()
    text = err.out + err.err
    assert ("1 job of fails_after_writing.work (out/a): ValueError: bad input (the partial output out/a could not "
            "be renamed to out/a.broken (it is a directory), so it was removed)") in text


def test_rename_broken_still_renames_when_it_can(new_pipegraph):
    Path("out/a.broken").write_text("an older broken output")
    job = ppg.FileGeneratingJob("out/a", fails_after_writing("raises"), rename_broken=True)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert Path("out/a.broken").read_text() == "partial" and not os.path.exists("out/a")
    assert not getattr(job.exception, "__notes__", None)
