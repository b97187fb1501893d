"""The Arvados SDK drafts' examples (seeds 000 and 001), run as written apart from the import.

The drafts' classes are copied from the seeds; only what belongs to Arvados itself
(collections in Keep, the `tileruler` and `normal_or_tumor` programs) is stood in for
here: a collection is a local directory, the programs are small scripts on PATH.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from subprocess import check_call

import pytest

import pypipegraph as ppg
from pypipegraph.futures.crunch import AutoDispatcher, CrunchModule, WorkMethod

from conftest import append, runs

# --- stand-ins for Arvados: collections are directories under keep/ -----------------


class CollectionReader:
    def __init__(self, locator):
        self.locator = locator

    def mount_path(self, *parts):
        return os.path.abspath(os.path.join("keep", self.locator, *parts))

    def all_files(self):
        return [Path(self.mount_path(name)) for name in sorted(os.listdir(self.mount_path()))]


class CollectionWriter:
    """Keeps the files of a directory tree (the draft's task output)."""

    def __init__(self):
        self.files = {}

    def write_directory_tree(self, path):
        for name in sorted(os.listdir(path)):
            self.files[name] = Path(path, name).read_text()


def program_runs(name):
    path = Path("out", name)
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def programs(ppg_dir, monkeypatch):
    """`tileruler` writes its -human argument into ./out_<human>; `normal_or_tumor`
    prints 'tumor' when its stdin holds the motif. Both count their runs."""
    bin_dir = ppg_dir / "bin"
    bin_dir.mkdir()
    (bin_dir / "tileruler").write_text(
        "#!/bin/sh\necho x >> \"$COUNTS/tileruler\"\nwhile [ $# -gt 0 ]; do\n"
        "  case $1 in -human) human=$2;; -fastj-path) fastj=$2;; esac; shift\ndone\n"
        "mkdir -p ruler_out && cat \"$fastj\"/* > ruler_out/\"$human\".tiles\n")
    (bin_dir / "normal_or_tumor").write_text(
        "#!/bin/sh\necho x >> \"$COUNTS/normal_or_tumor\"\n"
        "if grep -q GATTACA; then echo tumor; else echo normal; fi\n")
    for program in bin_dir.iterdir():
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("COUNTS", str(ppg_dir / "out"))
    for locator, text in (("fj1", "ACGT\n"), ("fj2", "TTGA\n")):
        Path("keep", locator).mkdir(parents=True)
        Path("keep", locator, "tiles.fastj").write_text(text)
    return ppg_dir


# --- seed 001: "Example from #3603" -------------------------------------------------


class Example3603(CrunchModule):
    def run(self, human_collection_list, refpath):
        return [self.run_ruler(refpath, line) for line in human_collection_list]

    @WorkMethod()
    def run_ruler(self, refpath, input_line):
        fastj_id, human_id = input_line.strip().split(',')
        check_call(["tileruler", "--crunch", "--noterm", "abv",
                    "-human", human_id,
                    "-fastj-path", CollectionReader(fastj_id).mount_path(),
                    "-lib-path", refpath])
        out_coll = CollectionWriter()
        # The argument is the path where tileruler writes output.
        out_coll.write_directory_tree('ruler_out')
        return out_coll


def test_example_3603_runs_a_work_method_per_line_and_combines_the_outputs(programs):
    ppg.new_pipegraph(quiet=True)
    outputs = AutoDispatcher().run_work(Example3603, human_collection_list=["fj1,hu1\n", "fj2,hu2\n"],
                                        refpath="/ref")
    assert outputs[0].files["hu1.tiles"] == "ACGT\n" and outputs[1].files["hu2.tiles"] == "TTGA\n"
    assert program_runs("tileruler") == 2
    ppg.new_pipegraph(quiet=True)  # the same script again: both calls are up to date
    again = AutoDispatcher().run_work(Example3603, human_collection_list=["fj1,hu1\n", "fj2,hu2\n"],
                                      refpath="/ref")
    assert [out.files for out in again] == [out.files for out in outputs]
    assert program_runs("tileruler") == 2


class Ruler(Example3603):
    def __init__(self, refpath="/ref"):
        self.refpath = refpath


def test_a_work_method_counts_the_instances_plain_values(programs):
    ppg.new_pipegraph(quiet=True)
    one, same, other = Ruler("/ref").run_ruler("/r", "fj1,hu1"), Ruler("/ref").run_ruler("/r", "fj1,hu1"), \
        Ruler("/ref2").run_ruler("/r", "fj1,hu1")
    assert one.job is same.job and one.job is not other.job
    assert one.job_id.startswith("Example3603.run_ruler#")
    ppg.run_pipegraph()
    assert program_runs("tileruler") == 2


# --- seed 001: the tumor analysis, work method results into a work method -------------


class TumorAnalysis(CrunchModule):
    def run(self, input):
        return self.analyze_tumors(self.classify(in_file)
                                   for in_file in input.all_files())

    @WorkMethod()
    def classify(self, in_file):
        result = os.popen(f"normal_or_tumor < {in_file}").read().strip()
        if 'tumor' in result:
            return {in_file.name: result}
        return None

    @WorkMethod()
    def analyze_tumors(self, results):
        compiled = {}
        for result in results:
            if result is None:
                continue
            compiled.update(result)
        return compiled


def test_tumor_analysis_classifies_then_analyzes(programs):
    Path("keep/reads").mkdir()
    for name, text in (("a.fastj", "GATTACA\n"), ("b.fastj", "CCCC\n"), ("c.fastj", "xGATTACAx\n")):
        Path("keep/reads", name).write_text(text)
    ppg.new_pipegraph(quiet=True)
    compiled = AutoDispatcher().run_work(TumorAnalysis, input=CollectionReader("reads"))
    assert compiled == {"a.fastj": "tumor", "c.fastj": "tumor"}
    assert program_runs("normal_or_tumor") == 3


# --- seed 000: a work method that calls work methods -------------------------------


class Example3603Nested(CrunchModule):
    def run(self, refpath, lines):
        return self.parse_human_map(refpath, lines)

    @WorkMethod()
    def parse_human_map(self, refpath, lines):
        return [self.run_ruler(refpath, *line.strip().split(',')) for line in lines]

    @WorkMethod()
    def run_ruler(self, refpath, fastj_id, human_id):
        check_call(["tileruler", "--crunch", "--noterm", "abv",
                    "-human", human_id,
                    "-fastj-path", CollectionReader(fastj_id).mount_path(),
                    "-lib-path", refpath])
        return Path("ruler_out", human_id + ".tiles").read_text()


def test_a_work_method_calling_work_methods_grows_the_graph_while_it_runs(programs):
    ppg.new_pipegraph(quiet=True)
    tiles = AutoDispatcher().run_work(Example3603Nested, refpath="/ref", lines=["fj1,hu1", "fj2,hu2"])
    assert tiles == ["ACGT\n", "TTGA\n"]
    graph = ppg.util.global_pipegraph
    assert sum(job_id.startswith("Example3603Nested.run_ruler#") and not job.is_invariant
               for job_id, job in graph.jobs.items()) == 2
    assert program_runs("tileruler") == 2
    ppg.new_pipegraph(quiet=True)  # rerun: the inner calls are made again, and are up to date
    assert AutoDispatcher().run_work(Example3603Nested, refpath="/ref", lines=["fj1,hu1", "fj2,hu2"]) == tiles
    assert program_runs("tileruler") == 2
    ppg.new_pipegraph(quiet=True)  # one more line: only its inner call runs
    tiles = AutoDispatcher().run_work(Example3603Nested, refpath="/ref",
                                      lines=["fj1,hu1", "fj2,hu2", "fj1,hu3"])
    assert tiles == ["ACGT\n", "TTGA\n", "ACGT\n"]
    assert program_runs("tileruler") == 3


@ppg.work
def leaf(x):
    append("out/leaf", "x")
    return x * 10


@ppg.work
def branch(xs):
    return {"sum_of": [leaf(x) for x in xs], "n": len(xs)}


@ppg.work
def total(tree):
    return sum(tree["sum_of"]) + tree["n"]


def test_a_downstream_call_waits_for_the_inner_calls_and_gets_their_values(new_pipegraph):
    result = total(branch([1, 2, 3]))
    ppg.run_pipegraph()
    assert result.value() == 63
    assert runs("out/leaf") == 3
    new_pipegraph.new_pipegraph()
    result = total(branch([1, 2, 3]))
    ppg.run_pipegraph()
    assert result.value() == 63 and runs("out/leaf") == 3


def test_a_call_that_nests_without_being_found_or_declared_fails_clearly(new_pipegraph):
    def sneaky(x):
        found = globals()["leaf"]  # not a name the code looks up: not found
        return found(x)

    sneaky.__module__ = __name__
    future = ppg.work(nests=False)(sneaky)(1)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "@ppg.work(nests=True)" in str(future.job.exception)


@ppg.work
def forest(groups):
    return [branch(group) for group in groups]


@ppg.work
def broken_leaf(x):
    raise ValueError(f"no leaf for {x}")


@ppg.work
def broken_branch(xs):
    return [broken_leaf(x) for x in xs]


def test_calls_nest_two_levels_deep(new_pipegraph):
    trees = forest([[1], [2, 3]])
    ppg.run_pipegraph()
    assert trees.value() == [{"sum_of": [10], "n": 1}, {"sum_of": [20, 30], "n": 2}]
    assert runs("out/leaf") == 3


def test_a_failing_inner_call_fails_what_waits_for_it(new_pipegraph):
    outer = broken_branch([1])
    result = total(outer)
    with pytest.raises(ppg.RuntimeError, match="no leaf for 1"):
        ppg.run_pipegraph()
    assert result.job.error_reason == "Indirect"
    with pytest.raises(ValueError, match="has no value"):
        outer.value()


@ppg.work
def pipeline_inside(xs):
    return total(branch(xs))  # a chain of calls made inside a call; branch nests too


def test_a_chain_of_nesting_calls_inside_a_call(new_pipegraph):
    result = pipeline_inside([1, 2])
    ppg.run_pipegraph()
    assert result.value() == 32
    assert runs("out/leaf") == 2
