"""The HTML run report: one self-contained file showing what a run did and why.

Invariant: the report is built from the store alone (read-only, no lock), so it can be
made for any kept run, beside a running pipeline, and never changes what runs. The
page needs no network: its script and style are inlined from `report_assets/`, its
data embedded as JSON. Job times are milliseconds from the run's start.

    >>> write_report(".pypipegraph_status_robust", "report.html")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from importlib import resources

from ..errors import StoreError
from ..paths import LOG_DIR
from ..plumbing.safe_files import write_file
from ..store.reader import JobRun, RunInfo, RunSetting, StoreReader
from ..store.run_graph import RunGraph
from .logs import logger

REPORT_ENV = "PYPIPEGRAPH_REPORT"
REPORT_NAME = "ppg_report.html"
OUTCOMES = ("done", "failed", "killed")
MAX_FAILURE_GROUPS = 200  # groups shown with a traceback and output; the rest are counted
RESOURCE_FIELDS = ("rss", "cpu")  # optional JobRun fields: peak RSS bytes, CPU seconds
TAIL_LINES = 30  # last lines of stderr shown per failure
MAX_TEXT = 20000  # characters kept of a traceback or output tail


def write_report(store: str, output: str, run_id: int | None = None) -> str:
    """Write the report of run `run_id` (default: the last) of `store` to `output`; returns
    `output`. StoreError when the store or the run is not there."""
    reader = StoreReader(store)
    try:
        data = gather(reader, run_id)
    finally:
        reader.close()
    data["run"]["store"] = os.path.abspath(store)
    html = render(data)
    write_file(output, html)
    return output


def report_wanted(on_run: bool | None, on_graph: bool | None) -> bool:
    """run(report=...) wins over new_pipegraph(report=...), which wins over $PYPIPEGRAPH_REPORT."""
    for flag in (on_run, on_graph):
        if flag is not None:
            return bool(flag)
    return os.environ.get(REPORT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def write_report_if_wanted(store: str, run_id: int | None, on_run: bool | None,
                           on_graph: bool | None) -> str | None:
    """After a run: write logs/ppg_report.html when asked; a failure to do so is logged only."""
    if run_id is None or not report_wanted(on_run, on_graph):
        return None
    output = os.path.join(LOG_DIR, REPORT_NAME)
    try:
        os.makedirs(LOG_DIR, exist_ok=True)
        return write_report(store, output, run_id)
    except Exception as exc:  # noqa: BLE001 - the report never changes the run's outcome
        logger.warning("could not write the run report %s: %s", output, exc)
        return None


# --- gathering ---------------------------------------------------------------------


def gather(reader: StoreReader, run_id: int | None = None) -> dict:
    """Everything the page shows, as JSON-ready data, for run `run_id` (default: the last)."""
    runs = reader.runs(limit=1_000_000)
    if not runs:
        raise StoreError(f"{reader.filename} has no recorded run yet: run the pipeline first")
    if run_id is None:
        run = runs[0]
    else:
        matching = [r for r in runs if r.run_id == run_id]
        if not matching:
            known = ", ".join(str(r.run_id) for r in runs[:10])
            raise StoreError(f"run {run_id} is not in {reader.filename} (recent runs: {known})")
        run = matching[0]
    return assemble(run, reader.job_runs(run_id=run.run_id), reader.run_setting(run.run_id),
                    reader.run_logs(run.run_id), reader.run_cwd(run.run_id))


def assemble(run: RunInfo, job_runs: list, setting: RunSetting, logs: dict,
             cwd: str | None = None) -> dict:
    """The page's data from what the store keeps of one run. `job_runs` are JobRun rows;
    rows that also carry `rss` (peak bytes) and `cpu` (seconds) add the memory plot and
    the per-rule peak memory."""
    rows = _last_row_per_job(job_runs)
    t0 = run.started
    end = run.finished or max((r.stopped or r.started for r in rows), default=t0)
    lanes, lane_of_row = _lanes(rows, setting.master_pid)
    graph = setting.graph
    rule_names: dict[str, int] = {}
    rule_of_job = {}
    if graph is not None:
        rules = graph.rules or graph.types
        rule_of_job = {job_id: rule_names.setdefault(rule, len(rule_names))
                       for job_id, rule in zip(graph.ids, rules, strict=True)}
    reasons: dict[str, int] = {}
    jobs: dict[str, list] = {"id": [], "start": [], "dur": [], "lane": [], "outcome": [],
                             "reason": [], "cores": [], "rule": []}
    for r, lane in zip(rows, lane_of_row, strict=True):
        stop = r.stopped if r.stopped is not None else r.started
        jobs["id"].append(r.job_id)
        start = _ms(r.started - t0)
        jobs["start"].append(start)
        jobs["dur"].append(_ms(stop - t0) - start)  # start + dur: the rounded stop, no overlaps
        jobs["lane"].append(lane)
        jobs["outcome"].append(OUTCOMES.index(r.outcome) if r.outcome in OUTCOMES else 1)
        jobs["reason"].append(reasons.setdefault(r.reason or "", len(reasons)))
        jobs["cores"].append(r.cores or 0)
        rule = rule_of_job.get(r.job_id)
        jobs["rule"].append(rule if rule is not None else rule_names.setdefault("(unknown)", len(rule_names)))
    for field in RESOURCE_FIELDS:  # per-job resource use, when the store has it
        values = [getattr(r, field, None) for r in rows]
        if any(v is not None for v in values):
            jobs[field] = values
    return {
        "run": {"id": run.run_id, "started": run.started, "finished": run.finished,
                "outcome": run.outcome or "interrupted", "jobs_run": run.jobs_run,
                "jobs_failed": run.jobs_failed, "cwd": cwd,
                "cores": setting.cores, "wall_ms": _ms(end - t0),
                "generated": time.time()},
        "lanes": lanes,
        "reasons": list(reasons),
        "rules": list(rule_names),
        "jobs": jobs,
        "critical": critical_path(rows, graph),
        "shares": time_shares(rows, t0, end, setting.cores),
        "graph": _graph_data(graph, rule_of_job),
        "blocked": blocked_jobs(rows, graph),
        "failures": failure_groups(rows, logs, jobs["rule"], list(rule_names)),
        "outcomes": list(OUTCOMES),
    }


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _last_row_per_job(rows: list[JobRun]) -> list[JobRun]:
    """A job that ran twice in a run (a temp file made again) is shown by its last run."""
    last = {r.job_id: r for r in rows}
    return sorted(last.values(), key=lambda r: (r.started, r.job_id))


def _lanes(rows: list[JobRun], master_pid: int | None) -> tuple[list[str], list[int]]:
    """Timeline lanes (names) and each row's lane: the master's own, then workers.

    A worker that runs several jobs at once (a Dask worker's threads) gets one lane per
    job slot; a worker forked after another ended takes over its lane, so lanes stay as
    few as the job slots alive at once.
    """
    slot_of: list[tuple] = []
    slot_ends: dict = {}  # pid -> end time of each of its slots
    for r in rows:  # rows come sorted by start
        stop = r.stopped if r.stopped is not None else r.started
        ends = slot_ends.setdefault(r.worker, [])
        slot = next((i for i, end in enumerate(ends) if end <= r.started), None)
        if slot is None:
            slot = len(ends)
            ends.append(stop)
        else:
            ends[slot] = stop
        slot_of.append((r.worker, slot))
    spans: dict = {}
    for r, key in zip(rows, slot_of, strict=True):
        stop = r.stopped if r.stopped is not None else r.started
        first, last = spans.get(key, (r.started, stop))
        spans[key] = (min(first, r.started), max(last, stop))
    names: list[str] = []
    lane_of: dict = {}
    if (master_pid, 0) in spans:
        names.append(f"master (pid {master_pid})")
        lane_of[(master_pid, 0)] = 0
    lane_end: list[float] = []
    lane_keys: list[list] = []
    for key, (first, last) in sorted(spans.items(), key=lambda item: item[1]):
        if key in lane_of:
            continue
        free = next((i for i, end in enumerate(lane_end) if end <= first), None)
        if free is None:
            lane_end.append(last)
            lane_keys.append([key])
        else:
            lane_end[free] = last
            lane_keys[free].append(key)
    threaded = {pid for pid, ends in slot_ends.items() if len(ends) > 1}
    for i, keys in enumerate(lane_keys):
        for key in keys:
            lane_of[key] = len(names)
        labels = [f"{pid}/{slot + 1}" if pid in threaded else str(pid) for pid, slot in keys]
        shown = ", ".join(labels[:3]) + (", ..." if len(labels) > 3 else "")
        names.append(f"worker {i + 1} (pid {shown})")
    return names, [lane_of[key] for key in slot_of]


def critical_path(rows: list[JobRun], graph: RunGraph | None) -> list[int]:
    """Row indices of the run's critical path, first job first.

    Starting from the job that finished last, each step goes to the upstream job (through
    jobs that did not run) that finished last: the chain of waits that set the wall time.
    Empty without a kept graph.
    """
    if graph is None or not rows:
        return []
    node_of = {job_id: i for i, job_id in enumerate(graph.ids)}
    ran = {node_of[r.job_id]: i for i, r in enumerate(rows) if r.job_id in node_of}
    stop = [r.stopped if r.stopped is not None else r.started for r in rows]
    ups: list[list[int]] = [[] for _ in graph.ids]
    downs: list[list[int]] = [[] for _ in graph.ids]
    for up, down in graph.edges:
        ups[down].append(up)
        downs[up].append(down)
    latest: list[int | None] = [None] * len(graph.ids)  # row of the last-finishing ran ancestor
    via: list[int | None] = [None] * len(graph.ids)  # the node itself if it ran, else `latest`
    for node in _topological(downs, ups):
        best = None
        for up in ups[node]:
            candidate = via[up]
            if candidate is not None and (best is None or stop[candidate] > stop[best]):
                best = candidate
        latest[node] = best
        via[node] = ran.get(node, best)
    last = max(range(len(rows)), key=lambda i: stop[i])
    if rows[last].job_id not in node_of:
        return [last]
    row_node = {row: node for node, row in ran.items()}
    path = [last]
    seen = {last}
    while True:
        before = latest[row_node[path[-1]]]
        if before is None or before in seen:
            break
        path.append(before)
        seen.add(before)
    return path[::-1]


def _topological(downs: list[list[int]], ups: list[list[int]]) -> list[int]:
    indegree = [len(u) for u in ups]
    queue = deque(i for i, d in enumerate(indegree) if not d)
    order = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for down in downs[node]:
            indegree[down] -= 1
            if not indegree[down]:
                queue.append(down)
    return order


def time_shares(rows: list[JobRun], t0: float, end: float, cores: int | None) -> dict:
    """How the wall time was spent: with at least one job running, or with the master
    alone (deciding, hashing, starting up); and how busy the cores were on average."""
    wall = max(end - t0, 1e-9)
    intervals = sorted((r.started, r.stopped if r.stopped is not None else r.started) for r in rows)
    busy = 0.0
    current_start = current_end = None
    for start, stop in intervals:
        if current_end is None or start > current_end:
            if current_end is not None:
                busy += current_end - current_start
            current_start, current_end = start, stop
        else:
            current_end = max(current_end, stop)
    if current_end is not None:
        busy += current_end - current_start
    core_seconds = sum(((r.stopped or r.started) - r.started) * max(r.cores or 0, 1) for r in rows)
    return {
        "wall_s": wall,
        "jobs_running_s": min(busy, wall),
        "master_alone_s": max(wall - busy, 0.0),
        "core_seconds": core_seconds,
        "utilisation": core_seconds / (cores * wall) if cores else None,
        "mean_parallel": core_seconds / wall,
    }


def _graph_data(graph: RunGraph | None, rule_of_job: dict[str, int]) -> dict | None:
    if graph is None:
        return None
    type_names: dict[str, int] = {}
    kinds = [type_names.setdefault(t, len(type_names)) for t in graph.types]
    flat = [i for edge in graph.edges for i in edge]
    return {"ids": graph.ids, "type_names": list(type_names), "types": kinds, "edges": flat,
            "rules": [rule_of_job[job_id] for job_id in graph.ids]}


def blocked_jobs(rows: list[JobRun], graph: RunGraph | None) -> list[int]:
    """Graph nodes downstream of a job that failed or was killed, which did not run."""
    if graph is None:
        return []
    node_of = {job_id: i for i, job_id in enumerate(graph.ids)}
    ran = {node_of[r.job_id] for r in rows if r.job_id in node_of}
    stack = [node_of[r.job_id] for r in rows if r.outcome != "done" and r.job_id in node_of]
    downs: list[list[int]] = [[] for _ in graph.ids]
    for up, down in graph.edges:
        downs[up].append(down)
    blocked: set[int] = set()
    while stack:
        for down in downs[stack.pop()]:
            if down not in ran and down not in blocked:
                blocked.add(down)
                stack.append(down)
    return sorted(blocked)


def failure_groups(rows: list[JobRun], logs: dict, rule_of_row: list[int],
                   rule_names: list[str]) -> list[dict]:
    """Failed and killed jobs grouped by rule and message (the traceback's last line, job
    ids and numbers ignored): the first job's traceback and output, the other rows counted."""
    groups: dict[tuple, dict] = {}
    for i, r in enumerate(rows):
        if r.outcome == "done":
            continue
        stdout, stderr, traceback = logs.get(r.job_id, (None, None, None))
        message = _message(traceback, stderr, r.outcome)
        key = (rule_of_row[i], r.outcome, re.sub(r"\d+", "#", message.replace(r.job_id, "{job}")))
        group = groups.get(key)
        if group is not None:
            group["rows"].append(i)
            continue
        groups[key] = {"rule": rule_names[rule_of_row[i]], "message": message, "rows": [i]}
        if len(groups) <= MAX_FAILURE_GROUPS:
            groups[key].update(traceback=_tail(traceback or "", 10_000), stderr=_tail(stderr or "", TAIL_LINES),
                               stdout=_tail(stdout or "", 10), log_kept=r.job_id in logs)
    return sorted(groups.values(), key=lambda g: -len(g["rows"]))


def _message(traceback: str | None, stderr: str | None, outcome: str) -> str:
    for text in (traceback, stderr):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return lines[-1][:300]
    return "killed" if outcome == "killed" else "failed (no traceback kept)"


def _tail(text: str, lines: int) -> str:
    kept = "\n".join(text.rstrip("\n").split("\n")[-lines:])
    return kept[-MAX_TEXT:]


# --- rendering ---------------------------------------------------------------------


def render(data: dict) -> str:
    """The self-contained page: template with style, script and data inlined."""
    assets = resources.files("pypipegraph.views") / "report_assets"
    template = (assets / "report.html").read_text(encoding="utf-8")
    style = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    title = f"pypipegraph run {data['run']['id']}"
    return (template.replace("{{title}}", title)
            .replace("/*{{style}}*/", style)
            .replace("/*{{script}}*/", script.replace("</script", "<\\/script"))
            .replace("{{data}}", payload))
