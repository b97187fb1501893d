"""DryPipe's dynamic fan-in: a FileSetJob `produced_by` a JobGeneratingJob waits for the
jobs that generator makes, so its dependant gets the whole set on the first run as on
every later one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, runs


def write_chunk(of):
    append("out/chunk_runs", "x")
    Path(of).write_text(Path(of).stem)


def build(chunks: int = 3, nested: bool = False):
    def make_chunks():
        for i in range(chunks):
            ppg.FileGeneratingJob(f"out/chunks/{i}.txt", write_chunk)

    def generate():
        os.makedirs("out/chunks", exist_ok=True)
        if nested:  # a generator that makes the generator of the chunks
            ppg.JobGeneratingJob("make_chunks", make_chunks)
        else:
            make_chunks()

    generator = ppg.JobGeneratingJob("split", generate)
    parts = ppg.FileSetJob("out/chunks/*.txt", produced_by=generator)

    def merge(of):
        append("out/merge_runs", "x")
        Path(of).write_text(" ".join(Path(name).read_text() for name in parts.files()))

    return ppg.FileGeneratingJob("out/all.txt", merge).depends_on(parts)


@pytest.mark.parametrize("nested", [False, True])
def test_the_dependant_of_a_generated_set_gets_every_member_on_the_first_run(new_pipegraph, nested):
    build(nested=nested)
    ppg.run_pipegraph()
    assert Path("out/all.txt").read_text() == "0 1 2"
    assert runs("out/chunk_runs") == 3
    new_pipegraph.new_pipegraph()  # unchanged: the same set, nothing reruns
    build(nested=nested)
    ppg.run_pipegraph()
    assert Path("out/all.txt").read_text() == "0 1 2"
    assert runs("out/chunk_runs") == 3 and runs("out/merge_runs") == 1
    new_pipegraph.new_pipegraph()  # a fourth chunk: the set changed, the merge reruns
    build(4, nested=nested)
    ppg.run_pipegraph()
    assert Path("out/all.txt").read_text() == "0 1 2 3"
    assert runs("out/chunk_runs") == 4 and runs("out/merge_runs") == 2


def test_a_generated_job_that_writes_a_member_and_reads_the_set_is_a_cycle(new_pipegraph):
    def generate():
        os.makedirs("out/chunks", exist_ok=True)
        ppg.FileGeneratingJob("out/chunks/0.txt", write_chunk).depends_on(parts)

    generator = ppg.JobGeneratingJob("split", generate)
    parts = ppg.FileSetJob("out/chunks/*.txt", produced_by=generator)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "depends on that set: a cycle" in str(generator.exception)
    assert runs("out/chunk_runs") == 0
