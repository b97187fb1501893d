"""The HTML run report: made from real runs, opened in a real headless chromium.

The browser tests need Debian's /usr/bin/chromium (driven by Playwright); they are skipped
only when it is missing and $CI is unset. In CI, `.ci/run` installs it and they must run.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pypipegraph as ppg
from pypipegraph.store.reader import JobRun, RunInfo, RunSetting, StoreReader
from pypipegraph.store.run_graph import RunGraph
from pypipegraph.views.report import assemble, render

STORE = ".pypipegraph_status_robust"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BIG = 5000
SAMPLES = 120  # x (trim, align, count, qc) + merges: the issue's ~500-job pipeline
FAILING = [f"sample_{i:03d}" for i in range(0, SAMPLES, 20)]  # their aligner fails
HUGE = 50_000
CRIT_RGB = (0x4B, 0x2A, 0x86)  # the critical path's colour in report.js
LABEL_W = 170  # the lane labels' width in report.js


# --- pipelines --------------------------------------------------------------------------


def write(of, seconds: float = 0.0):
    time.sleep(seconds)
    Path(of).write_text(of)


def template_missing(of):
    print("reading the summary", file=sys.stderr)
    raise ValueError("the report template is missing")


def small_pipeline(**graph_args):
    """a -> b (slow) -> d (fails); a -> c (quick); e after b and c. Critical path: a, b, e."""
    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), quiet=True,
                      dump_graph=False, **graph_args)
    a = ppg.FileGeneratingJob("out/a", lambda of: write(of, 0.1))
    b = ppg.FileGeneratingJob("out/b", lambda of: write(of, 0.6)).depends_on(a)
    c = ppg.FileGeneratingJob("out/c", lambda of: write(of, 0.05)).depends_on(a)
    ppg.FileGeneratingJob("out/d", template_missing).depends_on(b)
    ppg.FileGeneratingJob("out/e", lambda of: write(of, 0.1)).depends_on(b, c)


def big_pipeline(n: int = BIG):
    """n quick jobs, each tenth one feeding ten others."""
    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), quiet=True,
                      dump_graph=False)
    jobs = []
    for i in range(n):
        job = ppg.FileGeneratingJob(f"out/sample_{i:05d}.txt", write)
        if i >= 10:
            job.depends_on(jobs[i // 10 - 1])
        jobs.append(job)


def trim(sample, of, pace=1.0):
    write(of, 0.01 * pace)


def align(sample, of, pace=1.0):
    time.sleep(random.Random(sample).uniform(0.02, 0.06) * pace)
    if sample in FAILING:
        print("aligner: reference index is truncated", file=sys.stderr)
        raise OSError(f"{sample}: the aligner exited with code 137")
    Path(of).write_text(sample)


def count(sample, of, pace=1.0):
    write(of, 0.005 * pace)


def qc(sample, of, pace=1.0):
    if sample == "sample_033":
        raise ValueError("too few reads to judge")
    write(of, 0.005 * pace)


def merge(of, pace=1.0):
    write(of, 0.05 * pace)


def samples_pipeline(pace: float = 1.0, cores: int = 2):
    """Per sample trim, align, count and qc; counts merged in batches of 10, then into one
    table; a qc report; a summary. Six aligners and one qc fail."""
    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(cores), quiet=True,
                      dump_graph=False)
    index = ppg.FileGeneratingJob("out/genome.idx", functools.partial(merge, pace=6 * pace))
    index.rule = "index"
    batches, checks = [], []
    for b in range(SAMPLES // 10):
        counted = []
        for sample in (f"sample_{i:03d}" for i in range(b * 10, b * 10 + 10)):
            part = functools.partial
            trimmed = ppg.FileGeneratingJob(f"out/{sample}.trimmed.fq", part(trim, sample, pace=pace))
            bam = ppg.FileGeneratingJob(f"out/{sample}.bam", part(align, sample, pace=pace)).depends_on(trimmed, index)
            counted.append(ppg.FileGeneratingJob(f"out/{sample}.counts", part(count, sample, pace=pace)).depends_on(bam))
            checks.append(ppg.FileGeneratingJob(f"out/{sample}.qc", part(qc, sample, pace=pace)).depends_on(trimmed))
        batches.append(ppg.FileGeneratingJob(f"out/batch_{b:02d}.tsv", functools.partial(merge, pace=pace)).depends_on(counted))
    table = ppg.FileGeneratingJob("out/counts_table.tsv", functools.partial(merge, pace=2 * pace)).depends_on(batches)
    report = ppg.FileGeneratingJob("out/qc_report.html", functools.partial(merge, pace=pace)).depends_on(checks)
    summary = ppg.FileGeneratingJob("out/summary.html", functools.partial(merge, pace=pace)).depends_on(table, report)
    for job, rule in ((table, "count_table"), (report, "qc_report"), (summary, "summary")):
        job.rule = rule


def run_failing():
    with pytest.raises(ppg.RuntimeError):
        ppg.run()


def embedded_data(html_file) -> dict:
    text = Path(html_file).read_text()
    found = re.search(r'<script type="application/json" id="ppg-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    """A real run with a failing job, its report written by run(report=True)."""
    directory = tmp_path_factory.mktemp("small")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        mp.delenv("PYPIPEGRAPH_REPORT", raising=False)
        os.mkdir("out")
        small_pipeline()
        with pytest.raises(ppg.RuntimeError):
            ppg.run(report=True)
        ppg.util.global_pipegraph = None
    return directory / "logs" / "ppg_report.html"


@pytest.fixture(scope="module")
def big_report(tmp_path_factory):
    """A real 5 000-job run, its report written by `ppg report`."""
    directory = tmp_path_factory.mktemp("big")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        os.mkdir("out")
        big_pipeline()
        ppg.run()
        ppg.util.global_pipegraph = None
    ppg_command(["report", "-o", "report.html"], directory)
    return directory / "report.html"


@pytest.fixture(scope="module")
def samples_report(tmp_path_factory):
    """A real run of the ~500-job sample pipeline, its report written by run(report=True)."""
    directory = tmp_path_factory.mktemp("samples")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        os.mkdir("out")
        samples_pipeline()
        with pytest.raises(ppg.RuntimeError):
            ppg.run(report=True)
        ppg.util.global_pipegraph = None
    return directory / "logs" / "ppg_report.html"


def ppg_command(args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


# --- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should have installed chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); the report is not opened")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A report opened in a page, with what the page logged and requested."""

    def __init__(self, browser, html_file):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = Path(html_file).resolve().as_uri()
        started = time.monotonic()
        self.page.goto(self.url)
        self.page.wait_for_function("window.ppgReport !== undefined", timeout=30000)
        self.load_seconds = time.monotonic() - started

    def rows(self) -> list[str]:
        return self.page.locator("#jobs tbody td.id").all_inner_texts()

    def filter(self, text: str) -> None:
        self.page.fill("#filter", text)
        self.page.wait_for_timeout(400)  # the filter is debounced


@pytest.fixture
def small_page(browser, small_report):
    opened = Opened(browser, small_report)
    yield opened
    opened.page.close()


@pytest.fixture(scope="module")
def big_page(browser, big_report):
    opened = Opened(browser, big_report)
    yield opened
    opened.page.close()


# --- the small run ----------------------------------------------------------------------


def test_report_true_writes_logs_report_also_when_jobs_failed(small_report):
    assert small_report.exists()
    data = embedded_data(small_report)
    assert data["run"]["outcome"] == "failed"
    assert sorted(data["jobs"]["id"]) == ["out/a", "out/b", "out/c", "out/d", "out/e"]


def test_page_loads_without_errors_or_network(small_page):
    assert small_page.errors == []
    assert small_page.requests == [small_page.url]  # the file itself, nothing else


def test_one_bar_per_job_that_ran(small_page, small_report):
    store = small_report.parent.parent / STORE
    reader = StoreReader(str(store))
    try:
        ran = {row.job_id for row in reader.job_runs(run_id=reader.runs()[0].run_id)}
    finally:
        reader.close()
    assert len(ran) == 5
    assert small_page.page.get_attribute("#timeline", "data-bars") == "5"
    assert small_page.page.evaluate("window.ppgReport.bars") == 5


def test_hovering_a_bar_shows_the_job_and_why_it_ran(small_page):
    page = small_page.page
    where = page.evaluate("window.ppgReport.barCenter('out/b')")
    box = page.locator("#timeline").bounding_box()
    page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
    tooltip = page.locator("#tooltip")
    assert tooltip.is_visible()
    text = tooltip.inner_text()
    assert "out/b" in text and "done" in text and "never ran" in text


def test_clicking_a_bar_selects_the_job_in_the_table_and_the_graph(small_page):
    page = small_page.page
    where = page.evaluate("window.ppgReport.barCenter('out/c')")
    box = page.locator("#timeline").bounding_box()
    page.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    assert page.locator("#jobs tr.selected td.id").all_inner_texts() == ["out/c"]
    assert page.input_value("#graph-job") == "out/c"
    around = page.locator("#graph svg g.node text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert sorted(around) == ["out/a", "out/c", "out/e"]  # out/c with its neighbours, depth 2


def test_critical_path_is_the_chain_that_set_the_wall_time(small_page):
    assert small_page.page.evaluate("window.ppgReport.critical") == ["out/a", "out/b", "out/e"]
    summary = small_page.page.inner_text("#critical-summary")
    assert "3 job(s)" in summary and "out/e" in summary
    shares = small_page.page.inner_text("#shares")
    assert "at least one job ran" in shares and "of 2" in shares


def test_failed_job_shows_traceback_and_stderr(small_page):
    failure = small_page.page.locator(".failure", has_text="out/d")
    assert "ValueError: the report template is missing" in failure.locator(".traceback").inner_text()
    assert "reading the summary" in failure.locator(".stderr").inner_text()


def test_text_filter_narrows_the_table(small_page):
    assert len(small_page.rows()) == 5
    small_page.filter("out/b")
    assert small_page.rows() == ["out/b"]
    small_page.filter("failed")
    assert small_page.rows() == ["out/d"]
    small_page.filter("no such job")
    assert small_page.rows() == []
    assert small_page.page.inner_text("#job-count").startswith("0 of 5")


def test_sort_by_runtime(small_page):
    page = small_page.page
    page.click("#sort-runtime")
    runtimes = [int(ms) for ms in page.locator("#jobs tbody td[data-ms]").evaluate_all(
        "cells => cells.map(c => c.dataset.ms)")]
    assert runtimes == sorted(runtimes, reverse=True)
    assert small_page.rows()[0] == "out/b"  # the slowest job first
    page.click("#sort-runtime")
    assert small_page.rows()[-1] == "out/b"


def test_graph_shows_every_job_with_those_that_ran_highlighted(small_page):
    page = small_page.page
    assert page.inner_text("#graph-title") == "Job graph" and page.locator("#graph-all").is_visible()
    assert page.locator("#graph svg g.node").count() == 5  # invariants hidden
    assert page.locator("#graph svg g.node.ran").count() == 5
    page.check("#show-invariants")
    assert page.locator("#graph svg g.node").count() == 10  # one FunctionInvariant per job
    assert page.locator("#graph svg g.node.ran").count() == 5


def test_screenshot_of_the_small_report(small_page, small_report):
    shot = small_report.parent / "report.png"
    small_page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


def test_a_run_where_nothing_ran_shows_an_empty_timeline(new_pipegraph, browser):
    for _ in range(2):
        new_pipegraph.new_pipegraph(report=True)
        ppg.FileGeneratingJob("out/x", write)
        ppg.run()
    opened = Opened(browser, "logs/ppg_report.html")
    assert opened.errors == []
    assert opened.page.evaluate("window.ppgReport.bars") == 0
    assert opened.page.inner_text("#critical-summary") == "Critical path: no job ran"
    assert opened.page.locator("#graph svg g.node.ran").count() == 0
    assert opened.page.locator("#graph svg g.node").count() == 1
    opened.page.close()


# --- 5 000 jobs ----------------------------------------------------------------------------


def test_big_report_is_small_and_loads_quickly(big_page, big_report):
    print(f"5 000-job report: {big_report.stat().st_size / 1e6:.1f} MB, loaded in {big_page.load_seconds:.2f} s")
    assert big_report.stat().st_size < 4_000_000
    assert big_page.errors == []
    assert big_page.requests == [big_page.url]
    assert big_page.load_seconds < 2
    assert big_page.page.evaluate("window.ppgReport.bars") == BIG
    assert big_page.page.get_attribute("#timeline", "data-bars") == str(BIG)


def test_big_report_filters_and_shows_a_neighbourhood_of_the_graph(big_page):
    page = big_page.page
    assert page.evaluate("window.ppgReport.matching()") == BIG
    assert len(big_page.rows()) == 300  # a page of rows, more on demand
    big_page.filter("sample_0012")
    assert page.evaluate("window.ppgReport.matching()") == 10
    assert all("sample_0012" in row for row in big_page.rows())
    assert "too many to draw one by one" in page.inner_text("#graph-note")
    assert page.locator("#graph-all").is_hidden()  # not offered: it could not be drawn
    rule = page.locator("#graph svg g.rule title").all_text_contents()  # one rule, feeding itself
    assert rule == [f"write: {BIG} job(s) · ran {BIG}; {BIG - 10} edge(s) between its own jobs"]
    page.fill("#graph-job", "out/sample_00012.txt")
    page.press("#graph-job", "Enter")
    nodes = page.locator("#graph svg g.node").evaluate_all("gs => gs.map(g => g.querySelector('text').textContent)")
    assert {"out/sample_00012.txt", "out/sample_00000.txt", "out/sample_00130.txt"} <= set(nodes)
    assert len(nodes) <= 250
    page.screenshot(path=str(Path(big_page.url[len("file://"):]).with_suffix(".png")))


# --- the ~500-job pipeline -------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples_page(browser, samples_report):
    opened = Opened(browser, samples_report)
    print(f"500-job report: loaded in {opened.load_seconds:.2f} s")
    yield opened
    opened.page.close()


def canvas_pixels(page, selector: str, x0: int, x1: int) -> list[tuple[int, int, int]]:
    """The distinct colours in columns x0..x1 (CSS pixels) of a canvas."""
    return [tuple(c) for c in page.evaluate("""([sel, x0, x1]) => {
        const c = document.querySelector(sel), d = window.devicePixelRatio || 1;
        const img = c.getContext("2d").getImageData(x0 * d, 0, (x1 - x0) * d, c.height).data;
        const seen = new Set();
        for (let k = 0; k < img.length; k += 4) seen.add(img[k] + "," + img[k + 1] + "," + img[k + 2]);
        return Array.from(seen).map((s) => s.split(",").map(Number));
    }""", [selector, x0, x1])]


def test_header_counts_done_failed_blocked_and_killed(samples_page):
    page = samples_page.page
    assert samples_page.errors == []
    counts = {name: page.inner_text(f"#count-{name}") for name in ("done", "failed", "blocked", "killed")}
    # 7 failed (6 aligners, 1 qc); blocked downstream: 6 counts, their 6 batches, the table,
    # the qc report and the summary
    assert counts == {"done": f"{1 + 4 * SAMPLES + 12 - 7 - 12} done", "failed": "7 failed",
                      "blocked": "15 blocked", "killed": "0 killed"}


def test_rule_table_has_a_row_per_rule_and_lists_its_jobs(samples_page):
    page = samples_page.page
    rows = {r[0]: r[1:] for r in page.locator("#rules tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.cells).map(td => td.textContent))")}
    assert set(rows) == {"index", "trim", "align", "count", "qc", "merge", "count_table", "qc_report", "summary"}
    ran, failed, blocked, in_graph = rows["align"][:4]
    assert (ran, failed, blocked, in_graph) == (str(SAMPLES), "6", "0", str(SAMPLES))
    assert rows["count"][:4] == [str(SAMPLES - 6), "0", "6", str(SAMPLES)]
    assert rows["summary"][:4] == ["0", "0", "1", "1"]
    head = [cell.strip() for cell in page.inner_text("#rules thead").split("\t")]
    assert "peak RSS" in head and "CPU / wall" in head  # each job's resource use, from the store
    assert rows["align"][head.index("peak RSS") - 1].endswith("MB")
    page.locator("#rules tbody tr", has_text="align").first.click()
    page.wait_for_timeout(100)
    assert page.evaluate("window.ppgReport.matching()") == SAMPLES
    assert all(row.endswith(".bam") for row in samples_page.rows())
    page.select_option("#rule-filter", "-1")
    page.wait_for_timeout(100)


def test_failures_are_grouped_by_rule_and_message(samples_page):
    groups = samples_page.page.locator(".failure")
    assert groups.count() == 2
    first = groups.nth(0)
    assert first.get_attribute("data-count") == "6"
    assert "align" in first.locator("summary").inner_text()
    assert re.search(r"OSError: sample_\d+: the aligner exited with code 137", first.locator(".traceback").inner_text())
    text = first.inner_text()
    assert "and 5 more like it: out/sample_" in text
    assert all(f"out/{sample}.bam" in text for sample in FAILING)
    assert groups.nth(1).get_attribute("data-count") == "1"
    assert "ValueError: too few reads to judge" in groups.nth(1).inner_text()


def test_above_250_jobs_the_rule_graph_is_drawn_and_whole_graph_not_offered(samples_page):
    page = samples_page.page
    assert page.inner_text("#graph-title") == "Rule graph"
    assert page.locator("#graph-all").is_hidden()
    nodes = page.locator("#graph svg g.rule").evaluate_all("gs => gs.map(g => g.querySelector('text').textContent)")
    assert sorted(nodes) == ["align", "count", "count_table", "index", "merge", "qc", "qc_report", "summary", "trim"]
    align_node = page.locator("#graph svg g.rule", has_text="align").first.text_content()
    assert f"{SAMPLES} job(s) · ran {SAMPLES} · failed 6" in align_node
    edges = page.locator("#graph svg path title").all_text_contents()
    assert f"{SAMPLES} edge(s) from trim to align" in edges
    page.fill("#graph-job", "out/sample_007.bam")  # a job's neighbourhood, then back
    page.press("#graph-job", "Enter")
    assert page.inner_text("#graph-title") == "Job graph"
    assert page.locator("#graph svg g.node").count() > 3
    page.click("#graph-rules")
    assert page.inner_text("#graph-title") == "Rule graph"


def test_timeline_is_coloured_by_rule_and_names_bars_that_hold_them(samples_page):
    page = samples_page.page
    page.locator("#timeline").scroll_into_view_if_needed()
    box = page.locator("#timeline").bounding_box()
    colours = set(canvas_pixels(page, "#timeline", LABEL_W, int(box["width"])))
    rule_colours = {(0x4E, 0x79, 0xA7), (0x59, 0xA1, 0x4F), (0x9C, 0x75, 0x5F), (0x76, 0xB7, 0xB2)}
    assert len(rule_colours & colours) >= 3
    where = page.evaluate("window.ppgReport.barCenter('out/sample_050.bam')")
    for _ in range(30):  # zoom in around an aligner: more bars grow wide enough for their names
        page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(30)
        if page.evaluate("window.ppgReport.names()") >= 3:
            break
    assert page.evaluate("window.ppgReport.names()") >= 3
    page.dblclick("#timeline")


def near(colours, rgb, tolerance: int = 40) -> bool:
    """Whether any of `colours` is within `tolerance` of `rgb` (anti-aliased lines blend)."""
    return any(sum(abs(a - b) for a, b in zip(c, rgb, strict=True)) <= tolerance for c in colours)


def test_critical_path_stays_off_the_lane_labels(browser, samples_report):
    opened = Opened(browser, samples_report)  # a page of its own: no zoom or selection left over
    page = opened.page
    page.locator("#timeline").scroll_into_view_if_needed()
    box = page.locator("#timeline").bounding_box()
    critical = page.evaluate("window.ppgReport.critical")
    assert len(critical) >= 3
    where = page.evaluate(f"window.ppgReport.barCenter({critical[-1]!r})")
    for _ in range(5):  # zoomed in on the path's last job: the segments before it come from the left
        page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(30)
    assert not near(canvas_pixels(page, "#timeline", 0, LABEL_W), CRIT_RGB)
    assert near(canvas_pixels(page, "#timeline", LABEL_W, int(box["width"])), CRIT_RGB)
    opened.page.close()


def test_cores_and_memory_in_use_are_plotted_from_the_store(samples_page):
    """A real run's store keeps each job's peak RSS: the report plots memory beside cores."""
    page = samples_page.page
    assert page.get_attribute("#usage", "data-panels") == "cores,memory"
    assert page.get_attribute("#usage", "data-peak-cores") in ("1", "2")
    # at most 2 worker processes at once, each at least a few MiB
    assert 4 << 20 < int(page.get_attribute("#usage", "data-peak-memory")) < 2 << 30
    assert "of memory (the sum of the running jobs' peak RSS" in page.inner_text("#usage-note")


def test_cores_in_use_are_plotted_without_memory_when_rss_is_unknown(browser, tmp_path):
    """Runs of stores written before resource use was kept: cores only."""
    rows = [JobRun(1, f"out/{i}", 100.0 + i, 101.0 + i, "done", "never ran", 7, 1) for i in range(3)]
    data = assemble(RunInfo(1, 100.0, 104.0, "ok", 3, 0), rows, RunSetting(None, 1, 1), {})
    path = tmp_path / "old.html"
    path.write_text(render(data))
    page = browser.new_page()
    try:
        page.goto(path.as_uri())
        assert page.get_attribute("#usage", "data-panels") == "cores"
        assert "Memory is shown when the store has each job's peak RSS" in page.inner_text("#usage-note")
    finally:
        page.close()


def test_screenshot_of_the_samples_report(samples_page, samples_report):
    shot = samples_report.parent / "report.png"
    samples_page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000


# --- 50 000 jobs, built as the store would hand them over (a real run would take minutes) -----


HUGE_RULES = ("trim", "align", "count", "qc")
HUGE_WORKERS = 16


def huge_run() -> tuple[RunInfo, list[JobRun], RunSetting, dict]:
    """50 000 jobs of 4 rules on 16 workers, 300 aligners failing alike, 2 otherwise, with
    each job's resource use (peak RSS, CPU seconds) as the store records it."""
    rnd = random.Random(16)
    t0 = 1_700_000_000.0
    free = [t0] * HUGE_WORKERS
    rows, ids, types, rules, edges, logs = [], [], [], [], [], {}
    for s in range(HUGE // 4):
        ready, align_failed = t0, False
        for r, rule in enumerate(HUGE_RULES):
            job_id = f"out/s{s:05d}.{rule}"
            lane = min(range(HUGE_WORKERS), key=free.__getitem__)
            start = max(free[lane], ready if rule != "qc" else t0)
            stop = start + rnd.uniform(0.5, 2.0) * (3 if rule == "align" else 1)
            free[lane] = stop
            if rule in ("trim", "align"):
                ready = stop
            outcome = "done"
            if rule == "align" and s % 40 == 7 and len(logs) < 300:
                outcome = "failed"
                logs[job_id] = ("", "aligner: out of memory\n",
                                f"Traceback (most recent call last):\n  ...\nMemoryError: s{s:05d} needs 9 GB\n")
            elif rule == "count" and s in (3, 4):
                outcome = "killed"
            node = len(ids)
            ids.append(job_id)
            types.append("FileGeneratingJob")
            rules.append(rule)
            if r:
                edges.append((node - 1 if rule != "qc" else node - 3, node))
            if rule == "count" and align_failed:
                continue  # blocked: its aligner failed
            align_failed = outcome == "failed"
            rows.append(JobRun(1, job_id, start, stop, outcome, "output missing", 1000 + lane, 1,
                               rss=rnd.randint(50, 400) * 2**20 * (8 if rule == "align" else 1),
                               cpu=(stop - start) * 0.9))
    for node in range(len(ids)):  # an invariant per job, as real graphs have
        ids.append("FI" + ids[node])
        types.append("FunctionInvariant")
        rules.append("FunctionInvariant")
        edges.append((len(ids) - 1, node))
    finished = max(r.stopped for r in rows) + 1
    run = RunInfo(1, t0 - 2, finished, "failed", len(rows), 304)
    return run, rows, RunSetting(RunGraph(ids, types, edges, rules), HUGE_WORKERS, 999), logs


@pytest.fixture(scope="module")
def huge_report(tmp_path_factory):
    run, rows, setting, logs = huge_run()
    started = time.monotonic()
    data = assemble(run, rows, setting, logs, "/data/project")
    html = render(data)
    print(f"50 000 jobs: data gathered and page rendered in {time.monotonic() - started:.2f} s, "
          f"{len(html) / 1e6:.1f} MB")
    target = tmp_path_factory.mktemp("huge") / "report.html"
    target.write_text(html)
    return target, rows


@pytest.fixture(scope="module")
def huge_page(browser, huge_report):
    opened = Opened(browser, huge_report[0])
    print(f"50 000-job report: loaded in {opened.load_seconds:.2f} s")
    yield opened
    opened.page.close()


def test_50000_jobs_load_in_under_two_seconds(huge_page, huge_report):
    assert huge_page.errors == []
    assert huge_page.load_seconds < 2.0
    assert huge_report[0].stat().st_size < 15_000_000
    page = huge_page.page
    assert page.evaluate("window.ppgReport.bars") == HUGE - 300
    assert page.inner_text("#count-failed") == "300 failed"
    assert page.inner_text("#count-killed") == "2 killed"
    assert page.inner_text("#count-blocked") == "300 blocked"  # the count job after each failed aligner
    assert len(huge_page.rows()) == 300


def test_50000_jobs_rule_table_shows_peak_memory(huge_page, huge_report):
    page = huge_page.page
    assert "peak RSS" in page.inner_text("#rules thead")
    rows = {r[0]: r for r in page.locator("#rules tbody tr").evaluate_all(
        "trs => trs.map(tr => Array.from(tr.cells).map(td => td.textContent))")}
    assert list(rows)[0] == "align" and set(rows) == set(HUGE_RULES)  # most runtime first
    peak = max(r.rss for r in huge_report[1] if r.job_id.endswith(".align"))
    header = page.locator("#rules thead th").all_inner_texts()
    assert rows["align"][header.index("peak RSS")] == f"{peak / 2**30:.1f} GB"


def peak_in_use(rows, weight) -> int:
    """The most of `weight` held by jobs running at once (a stop before a start at one time)."""
    events = sorted([(r.started, weight(r)) for r in rows] + [(r.stopped, -weight(r)) for r in rows])
    level = peak = 0
    for _, change in events:
        level += change
        peak = max(peak, level)
    return peak


def test_50000_jobs_memory_in_use_is_plotted(huge_page, huge_report):
    page = huge_page.page
    assert page.get_attribute("#usage", "data-panels") == "cores,memory"
    assert int(page.get_attribute("#usage", "data-peak-memory")) == peak_in_use(huge_report[1], lambda r: r.rss)
    assert page.get_attribute("#usage", "data-peak-cores") == str(peak_in_use(huge_report[1], lambda r: r.cores))
    assert "of memory (the sum of the running jobs' peak RSS" in page.inner_text("#usage-note")


def test_50000_jobs_failures_are_two_groups(huge_page):
    page = huge_page.page
    assert page.locator(".failure").evaluate_all("ds => ds.map(d => d.dataset.count)") == ["300", "2"]
    assert "and 299 more like it" in page.locator(".failure").nth(0).inner_text()


def test_50000_jobs_rule_graph_and_a_rule_filter(huge_page):
    page = huge_page.page
    assert page.inner_text("#graph-title") == "Rule graph"
    assert page.locator("#graph svg g.rule").count() == 4
    started = time.monotonic()
    page.locator("#graph svg g.rule", has_text="qc").first.click()
    page.wait_for_function("window.ppgReport.matching() === 12500")
    assert time.monotonic() - started < 2
    page.check("#show-invariants")
    assert page.locator("#graph svg g.rule").count() == 5


# --- the command, the flag and the store ----------------------------------------------------


def test_ppg_report_picks_the_run(new_pipegraph, ppg_dir):
    small_pipeline()
    run_failing()
    small_pipeline()  # second run: only the failed job runs (and fails) again
    run_failing()
    result = ppg_command(["report", "--run", "1", "-o", "first.html"], ppg_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote first.html"
    assert len(embedded_data("first.html")["jobs"]["id"]) == 5
    assert ppg_command(["report", "-o", "last.html"], ppg_dir).returncode == 0
    last = embedded_data("last.html")
    assert last["run"]["id"] == 2 and last["jobs"]["id"] == ["out/d"]
    assert "ValueError: the report template is missing" in last["failures"][0]["traceback"]
    unwritable = ppg_command(["report", "-o", "no/such/dir/x.html"], ppg_dir)
    assert unwritable.returncode == 1
    assert unwritable.stderr.strip() == "ppg report: cannot write no/such/dir/x.html: No such file or directory"
    missing = ppg_command(["report", "--run", "7", "-o", "x.html"], ppg_dir)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"ppg report: run 7 is not in {STORE} (recent runs: 2, 1)")


def test_ppg_report_without_a_store(ppg_dir):
    result = ppg_command(["report"], ppg_dir)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"ppg report: no status store {STORE} here: run the pipeline first (or pass --store)")


def test_environment_variable_asks_for_the_report_and_the_flag_overrides_it(new_pipegraph, monkeypatch):
    monkeypatch.setenv("PYPIPEGRAPH_REPORT", "1")
    ppg.FileGeneratingJob("out/x", write)
    ppg.run()
    assert Path("logs/ppg_report.html").exists()
    os.unlink("logs/ppg_report.html")
    new_pipegraph.new_pipegraph(report=False)
    ppg.FileGeneratingJob("out/x", write)
    ppg.run()
    assert not Path("logs/ppg_report.html").exists()


def test_jobs_run_in_the_master_get_their_own_lane(new_pipegraph, ppg_dir):
    new_pipegraph.new_pipegraph(report=True)
    data = {}
    loader = ppg.DataLoadingJob("load", lambda: data.update(words=3))
    ppg.FileGeneratingJob("out/x", lambda of: write(of)).depends_on(loader)
    ppg.run()
    report = embedded_data("logs/ppg_report.html")
    lanes = {job: report["lanes"][lane] for job, lane in zip(report["jobs"]["id"], report["jobs"]["lane"], strict=True)}
    assert lanes["load"] == f"master (pid {os.getpid()})"
    assert lanes["out/x"].startswith("worker 1 (pid ")


def test_a_rerun_of_the_same_graph_stores_it_once(new_pipegraph):
    for round_no in range(3):
        new_pipegraph.new_pipegraph()
        ppg.FileGeneratingJob("out/x", write)
        if round_no == 2:
            os.unlink("out/x")  # the third run reruns the job; the second ran nothing
        ppg.run()
    conn = sqlite3.connect(STORE)
    assert conn.execute("SELECT count(*) FROM graphs").fetchone()[0] == 1
    # a run where nothing ran keeps no graph (the no-op rerun stays cheap)
    assert [r[0] for r in conn.execute("SELECT run_id FROM run_graphs ORDER BY run_id")] == [1, 3]
    conn.close()
    new_pipegraph.new_pipegraph()
    ppg.FileGeneratingJob("out/x", write)
    ppg.FileGeneratingJob("out/y", write)
    ppg.run()
    conn = sqlite3.connect(STORE)
    assert conn.execute("SELECT count(*) FROM graphs").fetchone()[0] == 2
    conn.close()


def test_a_store_of_the_previous_version_opens_and_reports_without_a_graph(new_pipegraph, ppg_dir):
    ppg.FileGeneratingJob("out/x", write)
    ppg.run()
    conn = sqlite3.connect(STORE)  # as the previous version left it: no graph tables
    conn.execute("DROP TABLE graphs")
    conn.execute("DROP TABLE run_graphs")
    conn.commit()
    conn.close()
    assert ppg_command(["report", "-o", "old.html"], ppg_dir).returncode == 0
    old = embedded_data("old.html")
    assert old["graph"] is None and old["critical"] == [] and old["jobs"]["id"] == ["out/x"]
    new_pipegraph.new_pipegraph(report=True)
    ppg.FileGeneratingJob("out/x", write)
    ppg.FileGeneratingJob("out/y", write)
    ppg.run()
    new = embedded_data("logs/ppg_report.html")
    assert new["run"]["id"] == 2 and "out/y" in new["graph"]["ids"]


def test_a_graph_kept_by_the_previous_version_still_reads(new_pipegraph):
    """Graphs were zlib-compressed before they were xz-compressed; both read back."""
    import lzma
    import zlib

    a = ppg.FileGeneratingJob("out/a", write)
    ppg.FileGeneratingJob("out/b", write).depends_on(a)
    ppg.run()
    conn = sqlite3.connect(STORE)
    blob = conn.execute("SELECT data FROM graphs").fetchone()[0]
    conn.execute("UPDATE graphs SET data = ?", (zlib.compress(lzma.decompress(blob)),))
    conn.commit()
    conn.close()
    reader = StoreReader(STORE)
    graph = reader.run_setting(reader.runs()[0].run_id).graph
    reader.close()
    assert ("out/a", "out/b") in {(graph.ids[up], graph.ids[down]) for up, down in graph.edges}
