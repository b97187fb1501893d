"""The report's timeline axis and bar names when zoomed in, and the words of its critical
path line; real runs, their reports opened in headless Chromium (test_report's fixtures).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from test_report import Opened, browser, samples_report  # noqa: F401 - fixtures

import pypipegraph as ppg

NAME = re.compile(r"^(out/|…/?)?(sample_\d{3}\.(bam|counts|qc|trimmed\.fq)|batch_\d\d\.tsv|genome\.idx|"
                  r"counts_table\.tsv|qc_report\.html|summary\.html)$")


def test_zoomed_in_the_axis_labels_differ_and_names_keep_their_last_part(browser, samples_report):  # noqa: F811
    opened = Opened(browser, samples_report)
    try:
        page = opened.page
        page.locator("#timeline").scroll_into_view_if_needed()
        box = page.locator("#timeline").bounding_box()
        where = page.evaluate("window.ppgReport.barCenter('out/sample_050.bam')")
        first_names = None
        for _ in range(60):  # zoom in step by step, down to a few milliseconds across
            page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(20)
            labels = page.evaluate("window.ppgReport.axisLabels()")
            assert len(set(labels)) == len(labels), labels  # no two ticks read alike
            names = page.evaluate("window.ppgReport.drawnNames()")
            if names and first_names is None:
                first_names = names  # the zoom where names first appear
        assert first_names, "no bar ever got its name"
        for name in first_names:
            assert NAME.match(name), (name, first_names)  # `…bam` never: the last path part whole
        assert re.match(r"^\d+\.\d{3} s$", labels[0]), labels  # deep zoom: milliseconds on the axis
        assert not opened.errors, opened.errors
    finally:
        opened.page.close()


def sleeper(seconds):
    def work(of):
        time.sleep(seconds)
        Path(of).write_text("x")
    return work


@pytest.mark.parametrize("shape", ["wide", "chain"])
def test_the_critical_path_line_says_what_limited_the_run(browser, tmp_path, monkeypatch, shape):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    os.mkdir("out")
    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), quiet=True)
    previous = None
    for i in range(10 if shape == "wide" else 4):
        job = ppg.FileGeneratingJob(f"out/{i}", sleeper(0.4))
        if shape == "chain" and previous is not None:
            job.depends_on(previous)
        previous = job
    ppg.run(report=True)
    opened = Opened(browser, "logs/ppg_report.html")
    try:
        summary = opened.page.inner_text("#critical-summary")
    finally:
        opened.page.close()
    if shape == "wide":  # ten independent jobs on two cores
        assert summary.endswith("The run was limited by cores, not by dependencies: more cores would shorten it.")
    else:  # each job waits for the one before
        assert summary.endswith("The run was limited by dependencies: more cores would not shorten it much.")
