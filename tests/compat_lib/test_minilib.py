"""A library's test suite against pypipegraph.testing.fixtures; passes on 0.197 and on ours
(tests/test_compat_library.py runs it under the reference too)."""

import os
from pathlib import Path

import pytest
from minilib import Annotator, Genome, ToolVersion

import pypipegraph as ppg
from pypipegraph.testing import RaisesDirectOrInsidePipegraph, force_load, run_pipegraph


def write_fasta(name="g.fa", text=">a\nACGT\n>b\nAC\n"):
    Path(name).write_text(text)
    return name


def test_fixture_directory(new_pipegraph):
    here = Path(os.getcwd())
    assert here.name == ".test_fixture_directory" and here.parent.name == "run"
    assert all(Path(d).is_dir() for d in ("logs", "cache", "results", "out"))
    assert ppg.util.global_pipegraph is new_pipegraph


def test_uniqueness(new_pipegraph):
    Genome("hg", write_fasta())
    with pytest.raises(ValueError):
        Genome("hg", "g.fa")
    with pytest.raises(ValueError):
        Genome("a/b", "g.fa")
    with pytest.raises(ValueError):
        Annotator("hg")  # also_check=[Genome]
    assert Annotator("other").unique_id == 0
    assert Genome("mm", "g.fa").unique_id == 1
    new_pipegraph.new_pipegraph()
    Genome("hg", "g.fa")  # a new graph forgets the names


def test_custom_invariant_nothing_changed(new_pipegraph):
    fasta = write_fasta()
    Genome("hg", fasta, "1.0.0").count_contigs()
    ppg.run_pipegraph()
    assert Path("results/hg/contigs.txt").read_text() == "2"
    Path("results/hg/contigs.txt").write_text("2")  # same content; note the mtime
    stamp = os.stat("results/hg/contigs.txt").st_mtime_ns

    new_pipegraph.new_pipegraph()
    job = Genome("hg", fasta, "1.0.7").count_contigs()  # patch level: NothingChanged
    ppg.run_pipegraph()
    assert not job.was_run
    assert os.stat("results/hg/contigs.txt").st_mtime_ns == stamp

    new_pipegraph.new_pipegraph()
    job = Genome("hg", fasta, "1.1.0").count_contigs()  # minor version: reruns
    ppg.run_pipegraph()
    assert job.was_run

    new_pipegraph.new_pipegraph()
    job = Genome("hg", fasta, "1.1.0").count_contigs()
    ppg.run_pipegraph()
    assert not job.was_run


def test_job_new_returns_existing(new_pipegraph):
    a = ToolVersion("x", "1.0")
    b = ToolVersion("x", "1.0")
    assert a is b
    assert isinstance(a, ppg.Job) and a.job_id == "TV_x"


def test_cached_attribute_and_force_load(both_ppg_and_no_ppg):
    genome = Genome("hg", write_fasta())
    job = genome.load_lengths()
    assert (force_load(job) is None) == (not ppg.inside_ppg())
    if ppg.inside_ppg():  # the attribute exists while dependants run
        ppg.FileGeneratingJob("out/lengths", lambda of: open(of, "w").write(repr(genome.lengths))
                              ).depends_on(job)
    else:
        Path("out").mkdir(exist_ok=True)
        Path("out/lengths").write_text(repr(genome.lengths))
    run_pipegraph()
    assert Path("out/lengths").read_text() == "[4, 2]"


def test_raises_direct_or_inside(both_ppg_and_no_ppg):
    def fail():
        raise KeyError("no such chromosome")

    with RaisesDirectOrInsidePipegraph(KeyError, "no such chromosome"):
        if ppg.inside_ppg():
            ppg.FileGeneratingJob("out/x", lambda of: fail())
        else:
            fail()


def test_no_pipegraph(no_pipegraph):
    assert not ppg.inside_ppg()
    genome = Genome.__new__(Genome)
    genome.name, genome.fasta = "hg", write_fasta()
    genome.result_dir = Path("results/hg")
    genome.result_dir.mkdir(parents=True)
    assert genome.count_contigs().read_text() == "2"


def test_function_invariant_helpers():
    def f(x):
        return x + 1

    source, funchash, closure = ppg.FunctionInvariant._hash_function(f)
    assert "return x + 1" in source
    value = ppg.FunctionInvariant._compare_new_and_old(source, funchash, closure, False)
    with pytest.raises(ppg.NothingChanged) as info:
        ppg.FunctionInvariant._compare_new_and_old(source, funchash, closure, value)
    assert info.value.new_value["source"] == source
