"""mbf-style job classes (prebuild.py) under pypipegraph.testing.fixtures; pass on 0.197 and
on ours (tests/test_compat_library.py runs this directory under the reference too)."""

from pathlib import Path

import pytest
from prebuild import PrebuildJob, PrebuildParameters, QCCollector

import pypipegraph as ppg


def build_v1(path):
    (path / "tool.txt").write_text("v1")
    with open("builds.log", "a") as log:
        log.write("b")


def build_v2(path):
    (path / "tool.txt").write_text("v2")
    with open("builds.log", "a") as log:
        log.write("b")


def test_prebuild_chooses_its_own_invariant(new_pipegraph):
    job = PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool")
    ppg.run_pipegraph()
    assert Path("prebuilt/tool/tool.txt").read_text() == "v1"
    assert Path("prebuilt/tool/build_func.source").exists()  # its own invariant, not <id>_func
    assert "prebuilt/tool/tool.txt_func" not in ppg.util.global_pipegraph.jobs
    assert job.was_run

    new_pipegraph.new_pipegraph()
    job = PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool")
    ppg.run_pipegraph()
    assert not job.was_run

    new_pipegraph.new_pipegraph()
    job = PrebuildJob(["tool.txt"], build_v2, "prebuilt/tool")  # another function: rebuilt
    ppg.run_pipegraph()
    assert job.was_run and Path("prebuilt/tool/tool.txt").read_text() == "v2"
    assert Path("builds.log").read_text() == "bb"


def test_prebuild_parameters(new_pipegraph):
    PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool").depends_on_params({"version": 1})
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool")
    job.depends_on_params({"version": 2})
    ppg.run_pipegraph()
    assert job.was_run and Path("builds.log").read_text() == "bb"


def test_prebuild_refuses_other_dependencies(new_pipegraph):
    job = PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool")
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("x"))
    with pytest.raises(ppg.JobContractError):
        job.depends_on(other)
    with pytest.raises(ppg.JobContractError):
        job.depends_on(ppg.ParameterInvariant("plain", 1))
    job.depends_on(PrebuildParameters("tool", 1))
    ppg.run_pipegraph()
    assert job.was_run


def test_prebuild_ignoring_code_changes(new_pipegraph):
    job = PrebuildJob(["tool.txt"], build_v1, "prebuilt/tool")
    job.ignore_code_changes()
    assert job.do_ignore_code_changes
    ppg.run_pipegraph()
    assert job.was_run
    assert not Path("prebuilt/tool/build_func.source").exists()

    new_pipegraph.new_pipegraph()
    job = PrebuildJob(["tool.txt"], build_v2, "prebuilt/tool")
    job.ignore_code_changes()
    ppg.run_pipegraph()
    assert not job.was_run and Path("prebuilt/tool/tool.txt").read_text() == "v1"


def render(names):
    return "\n".join(names)


def test_collector_constructed_by_every_caller(new_pipegraph):
    first = QCCollector("out/qc.txt", render).add("sample_a")
    second = QCCollector("out/qc.txt", render).add("sample_b")
    assert first is second
    ppg.run_pipegraph()
    assert Path("out/qc.txt").read_text() == "sample_a\nsample_b"

    new_pipegraph.new_pipegraph()
    job = QCCollector("out/qc.txt", render).add("sample_a")
    QCCollector("out/qc.txt", render).add("sample_b")
    ppg.run_pipegraph()
    assert not job.was_run
