"""A loader feeding a loader feeding a file job (tests/compat_lib/heatmap.py); passes on
0.197 and on ours (tests/test_compat_library.py runs it under the reference too)."""

from pathlib import Path

import pytest
from heatmap import Heatmap

import pypipegraph as ppg


def write_coverage(text="r1 1 4 2\nr2 0 0 5\n"):
    Path("coverage.txt").write_text(text)
    return "coverage.txt"


def test_loader_chain_feeds_the_plot(new_pipegraph):
    heatmap = Heatmap("h3k4", write_coverage())
    job = heatmap.plot()
    ppg.run_pipegraph()
    assert job.was_run
    assert heatmap.output.read_text() == "r1\t7\t0.25 1.00 0.50\nr2\t5\t0.00 0.00 1.00\n"
    assert not hasattr(heatmap, "norm_data_")  # cleaned up once the plot job ran
    assert heatmap.raw_data_["r2"] == [0, 0, 5]  # its only dependant is a loader: kept for the run


def test_loader_chain_reruns_when_the_coverage_changes(new_pipegraph):
    Heatmap("h3k4", write_coverage()).plot()
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = Heatmap("h3k4", "coverage.txt").plot()
    ppg.run_pipegraph()
    assert not job.was_run  # nothing changed: the loaders do not even load
    new_pipegraph.new_pipegraph()
    write_coverage("r1 2 2\n")
    heatmap = Heatmap("h3k4", "coverage.txt")
    job = heatmap.plot()
    ppg.run_pipegraph()
    assert job.was_run and heatmap.output.read_text() == "r1\t4\t1.00 1.00\n"


def test_heatmap_with_and_without_a_pipegraph(both_ppg_and_no_ppg):
    heatmap = Heatmap("h3k27", write_coverage("r1 3 1\n"))
    heatmap.plot()
    if ppg.inside_ppg():
        ppg.run_pipegraph()
    assert heatmap.output.read_text() == "r1\t4\t1.00 0.33\n"


def test_two_heatmaps_of_one_name_are_refused(new_pipegraph):
    Heatmap("h3k4", write_coverage())
    with pytest.raises(ValueError):
        Heatmap("h3k4", "coverage.txt")
