"""ppg status (without --runs or --rules): each job of the pipeline with its last outcome,
as a table, JSON or TSV; filtered by pattern, state, host and rule; sorted; the top N.

Invariant: read-only (StoreReader). The whole queue is listed: every job with a record or
a failed last run, and, from the graph of the last run the store kept, the jobs that
never ran (`pending`) or cannot run until a failed upstream job is fixed (`blocked`).
A failed or killed job shows the last line of its error.

    ppg status --state failed
    ppg status --rule align --sort runtime --top 10
    ppg status --json | jq '.[] | select(.last == "failed")'
"""

from __future__ import annotations

import fnmatch
import json

from ..store.reader import StoreReader
from . import CommandError
from .tables import date, duration, is_invariant, latest_graph, selected, size, table

FIELDS = ("job", "rule", "last", "runtime", "cpu", "rss", "host", "finished", "run", "state", "error")
SORTS = {"job": ("job", False), "runtime": ("runtime", True), "cpu": ("cpu", True), "rss": ("rss", True),
         "finished": ("finished", True), "rule": ("rule", False), "last": ("last", False)}


def add_arguments(parser) -> None:
    parser.add_argument("--rule", action="append", default=None, metavar="RULE",
                        help="only jobs of this rule (a glob; repeatable); rules come from the last "
                        "graph the store kept")
    parser.add_argument("--sort", choices=sorted(SORTS), default="job",
                        help="sort by this column (runtime, cpu, rss and finished: largest first)")
    parser.add_argument("--top", type=int, default=None, metavar="N", help="only the first N jobs (after --sort)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="a JSON list of objects (seconds, bytes and unix times as numbers)")
    output.add_argument("--tsv", action="store_true", help="tab-separated values with a header line")


def print_jobs(reader: StoreReader, args) -> None:
    jobs, hidden = collect(reader, args)
    key, largest_first = SORTS[args.sort]
    if key != "job":  # jobs without the value (never ran, an old store) last
        known = sorted((row for row in jobs if row[key] is not None), key=lambda row: row[key],
                       reverse=largest_first)
        jobs = known + [row for row in jobs if row[key] is None]
    if args.top is not None:
        if args.top < 0:
            raise CommandError("--top takes a number of jobs (0 or more)")
        jobs = jobs[:args.top]
    if args.json:
        print(json.dumps(jobs, indent=1))
        return
    if args.tsv:
        print("\t".join(FIELDS))
        for row in jobs:
            print("\t".join("" if row[f] is None else str(row[f]).replace("\t", " ") for f in FIELDS))
        return
    print_table(jobs, hidden, args)


def collect(reader: StoreReader, args) -> tuple[list[dict], int]:
    """(the jobs shown, as dicts of FIELDS, sorted by id; how many invariants were hidden)."""
    records = reader.records()
    unusable = reader.unusable_records()
    last = reader.last_runs()
    marked = reader.failures() if reader.has_table("failures") else None  # None: an old store
    run_id, graph = latest_graph(reader)
    rule_of, queue, invariants = _queue(graph, records, last, marked)
    ids = set(records) | set(queue) | set(unusable)
    ids.update(job_id for job_id, row in last.items()
               if row.outcome != "done" and (marked is None or job_id in marked))
    if args.rule:
        known = {rule for job_id, rule in rule_of.items() if job_id not in invariants}
        if not any(fnmatch.filter(known, pattern) for pattern in args.rule):
            raise CommandError(f"no rule {' or '.join(args.rule)} in the graph of run {run_id} "
                               f"(rules: {', '.join(sorted(known)[:20]) or 'none kept'})")
    messages = reader.failure_messages()
    jobs, hidden = [], 0
    for job_id in sorted(ids):
        record = records.get(job_id)
        if not args.all and is_invariant(job_id, record):
            hidden += 1
            continue
        if args.patterns and not any(fnmatch.fnmatchcase(job_id, p) for p in args.patterns):
            continue
        rule = rule_of.get(job_id)
        if args.rule and (rule is None or not any(fnmatch.fnmatchcase(rule, p) for p in args.rule)):
            continue
        row = last.get(job_id)
        state = queue.get(job_id) or (row.outcome if row is not None else "ok")
        if state in ("failed", "killed") and marked is not None and job_id not in marked:
            state = "ok"  # reset by `ppg forget --state failed` (and it has a record again)
        if job_id in unusable:
            state = "unreadable"  # its record cannot be used: it runs next time
        if not selected(row, state, args):
            continue
        if record is not None and record.finished:
            runtime, finished = record.runtime, record.finished
        elif row is not None:
            runtime, finished = row.runtime, row.stopped or row.started
        else:
            runtime, finished = None, None
        if record is not None and is_invariant(job_id, record):
            runtime = None  # checked, never run
        ran = row is not None
        jobs.append({"job": job_id, "rule": rule, "last": state, "runtime": runtime,
                     "cpu": row.cpu if ran else None, "rss": row.rss if ran else None,
                     "host": row.host if ran else None, "finished": finished or None,
                     "run": row.run_id if ran else None, "state": row.state if ran else None,
                     "error": messages.get(job_id) if state in ("failed", "killed") else None})
    return jobs, hidden


def _queue(graph, records: dict, last: dict, marked) -> tuple[dict, dict, set]:
    """({job id: rule} of the kept graph; {job id: "pending" or "blocked"} of its output jobs
    without a record: blocked when a job upstream failed and was not fixed since; its invariants)."""
    if graph is None:
        return {}, {}, set()
    rules = graph.rules or graph.types
    rule_of = dict(zip(graph.ids, rules, strict=True))
    failed = marked if marked is not None else {j for j, row in last.items() if row.outcome != "done"}
    downs: dict[int, list[int]] = {}
    for up, down in graph.edges:
        downs.setdefault(up, []).append(down)
    node_of = {job_id: i for i, job_id in enumerate(graph.ids)}
    blocked: set[int] = set()
    stack = [node_of[job_id] for job_id in failed if job_id in node_of]
    while stack:
        for down in downs.get(stack.pop(), ()):
            if down not in blocked:
                blocked.add(down)
                stack.append(down)
    queue, invariants = {}, set()
    for i, (job_id, kind) in enumerate(zip(graph.ids, graph.types, strict=True)):
        if kind.endswith("Invariant"):
            invariants.add(job_id)
        elif job_id not in records and job_id not in failed:
            queue[job_id] = "blocked" if i in blocked else "pending"
    return rule_of, queue, invariants


def print_table(jobs: list[dict], hidden: int, args) -> None:
    rows = [(row["job"], row["last"], duration(row["runtime"]), duration(row["cpu"]), size(row["rss"]),
             row["host"] or "", date(row["finished"]), "" if row["run"] is None else str(row["run"]),
             row["rule"] or "", row["state"] or "", row["error"] or "") for row in jobs]
    header = ("job", "last", "runtime", "cpu", "peak rss", "host", "finished", "run", "rule", "state", "error")
    # rule: with --rule or --sort rule; error: with --state failed or killed (JSON and TSV always
    # have both); state: when some job set one
    wanted = {8: bool(args.rule or args.sort == "rule"), 9: True,
              10: bool(args.state and {"failed", "killed"} & set(args.state))}
    keep = [i for i in range(len(header)) if i < 8 or (wanted[i] and any(row[i] for row in rows))]
    header = tuple(header[i] for i in keep)
    rows = [tuple(row[i] for i in keep) for row in rows]
    if rows:
        right = {header.index(name) for name in ("runtime", "cpu", "peak rss", "run")}
        print(table(header, rows, right=right))
    counts: dict[str, int] = {}
    for row in jobs:
        counts[row["last"]] = counts.get(row["last"], 0) + 1
    shown = len(jobs)
    summary = f"{shown} job{'s' if shown != 1 else ''}"
    if args.patterns or args.state or args.host or args.rule or args.top is not None:
        summary += " shown (filtered)"
    summary += f", {counts.get('failed', 0)} failed"
    for state in ("killed", "blocked", "pending"):
        if counts.get(state):
            summary += f", {counts[state]} {state}"
    if counts.get("unreadable"):
        summary += f", {counts['unreadable']} with an unreadable record (they run next time)"
    if hidden and not args.all:
        summary += f"; {hidden} invariant{'s' if hidden != 1 else ''} hidden (--all shows them)"
    print(summary)
