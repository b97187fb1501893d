"""ppg status: each job's last outcome, runtime, resource use, host and finish time;
`--runs` lists recent runs.

Invariant: reads the store through StoreReader only (no lock, works beside a running
pipeline). A job is listed when it has a record in the store, or when its last run
failed or was killed (a failure deletes the job's record, so that it runs again).
`--state` matches a job's last outcome or the state its last run set (ppg.set_state).
Invariants (records of kind "invariant"; for records of stores written before kinds
were kept, ids starting with "FI"/"PI" or records with neither inputs nor outputs) are
hidden unless `--all`.

    ppg status --state failed 'out/*'
    ppg status --state aligned --host 'node*'
    ppg status --runs
    ppg status --rules

The small helpers here (dates, durations, tables, opening the reader) are shared by
the other store commands (log, history, forget).
"""

from __future__ import annotations

import fnmatch
import os
import time

from ..store.format import record_is_invariant
from ..store.reader import StoreReader
from . import CommandError

STATES = ("done", "failed", "killed", "ok")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "status", help="each job's last outcome, runtime and finish time",
        description="Each job of the store with its last outcome (done, failed, killed; ok = up "
        "to date, no run in the kept history), last runtime and when it last finished.")
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help="glob patterns on job ids (fnmatch, e.g. 'out/*.txt')")
    parser.add_argument("--state", action="append", default=None,
                        help="only jobs whose last outcome (done, failed, killed, ok) or whose "
                        "user-set state (ppg.set_state) is STATE (repeatable)")
    parser.add_argument("--host", action="append", default=None, metavar="GLOB",
                        help="only jobs whose last run ran on a host matching GLOB (repeatable)")
    parser.add_argument("--all", action="store_true",
                        help="include invariants (function, parameter and file invariants)")
    parser.add_argument("--runs", action="store_true", help="list the recent runs instead")
    parser.add_argument("--rules", action="store_true",
                        help="one line per rule (a job's callback or class): jobs, up to date, ran, "
                        "failed, total and mean runtime")
    parser.add_argument("--limit", type=int, default=20, help="how many runs --runs lists (default 20)")
    return parser


def run(args) -> int:
    reader = open_reader(args)
    try:
        if args.runs:
            print_runs(reader, args.limit)
        elif args.rules:
            print_rules(reader, args)
        else:
            print_jobs(reader, args)
    finally:
        reader.close()
    return 0


# --- jobs ----------------------------------------------------------------------


def print_jobs(reader: StoreReader, args) -> None:
    records = reader.records()
    last = reader.last_runs()
    ids = set(records)
    marked = reader.failures() if reader.has_table("failures") else None  # None: an old store
    ids.update(job_id for job_id, row in last.items()
               if row.outcome != "done" and (marked is None or job_id in marked))
    rows = []
    counts = dict.fromkeys(STATES, 0)
    hidden = 0
    for job_id in sorted(ids):
        record = records.get(job_id)
        if not args.all and is_invariant(job_id, record):
            hidden += 1
            continue
        if args.patterns and not any(fnmatch.fnmatchcase(job_id, p) for p in args.patterns):
            continue
        row = last.get(job_id)
        state = row.outcome if row is not None else "ok"
        if state != "done" and marked is not None and job_id not in marked:
            state = "ok"  # reset by `ppg forget --state failed` (and it has a record again)
        if not selected(row, state, args):
            continue
        counts[state] = counts.get(state, 0) + 1
        if record is not None and record.finished:
            runtime, finished = record.runtime, record.finished
        elif row is not None:
            runtime, finished = row.runtime, row.stopped or row.started
        else:
            runtime, finished = None, None
        if record is not None and is_invariant(job_id, record):
            runtime = None  # checked, never run
        ran = row is not None
        rows.append((job_id, state, duration(runtime), duration(row.cpu) if ran else "",
                     size(row.rss) if ran else "", (row.host or "") if ran else "", date(finished),
                     str(row.run_id) if ran else "", (row.state or "") if ran else ""))
    header = ("job", "last", "runtime", "cpu", "peak rss", "host", "finished", "run", "state")
    if not any(row[-1] for row in rows):
        header, rows = header[:-1], [row[:-1] for row in rows]
    if rows:
        print(table(header, rows, right={2, 3, 4, 7}))
    shown = len(rows)
    summary = f"{shown} job{'s' if shown != 1 else ''}"
    if args.patterns or args.state or args.host:
        summary += " shown (filtered)"
    summary += f", {counts['failed']} failed"
    if counts["killed"]:
        summary += f", {counts['killed']} killed"
    if hidden and not args.all:
        summary += f"; {hidden} invariant{'s' if hidden != 1 else ''} hidden (--all shows them)"
    print(summary)


def selected(row, state: str, args) -> bool:
    """Whether a job passes --state (its outcome or its user-set state) and --host."""
    if args.state and state not in args.state and (row is None or row.state not in args.state):
        return False
    if args.host and (row is None or not row.host
                      or not any(fnmatch.fnmatchcase(row.host, p) for p in args.host)):
        return False
    return True


def is_invariant(job_id: str, record) -> bool:
    """Whether to hide the job without --all: its record's kind says so."""
    return record_is_invariant(job_id, record)


# --- rules ---------------------------------------------------------------------


def latest_graph(reader: StoreReader):
    """(run id, RunGraph) of the last run whose job graph the store kept, or (None, None)."""
    for info in reader.runs(limit=1_000_000):
        graph = reader.run_setting(info.run_id).graph
        if graph is not None:
            return info.run_id, graph
    return None, None


def print_rules(reader: StoreReader, args) -> None:
    """Jobs of the last kept graph grouped by rule, most recorded runtime first."""
    run_id, graph = latest_graph(reader)
    if graph is None:
        print("no job graph kept in the store yet: run the pipeline (with this version) first")
        return
    records = reader.records()
    last = reader.last_runs()
    stats: dict[str, list] = {}  # rule -> [jobs, up to date, ran, failed, runtime, timed, peak rss]
    for job_id, kind, rule in zip(graph.ids, graph.types, graph.rules or graph.types, strict=True):
        record = records.get(job_id)
        if not args.all and (kind.endswith("Invariant") or is_invariant(job_id, record)):
            continue
        if args.patterns and not any(fnmatch.fnmatchcase(job_id, p) for p in args.patterns):
            continue
        row = last.get(job_id)
        failed = row is not None and row.outcome != "done"
        entry = stats.setdefault(rule, [0, 0, 0, 0, 0.0, 0, None])
        entry[0] += 1
        entry[1] += record is not None and not failed
        entry[2] += row is not None and row.run_id == run_id
        entry[3] += failed
        if record is not None and record.finished:
            entry[4] += record.runtime
            entry[5] += 1
        elif row is not None:
            entry[4] += (row.stopped or row.started) - row.started
            entry[5] += 1
        if row is not None and row.rss is not None:
            entry[6] = max(entry[6] or 0, row.rss)
    ordered = sorted(stats.items(), key=lambda item: (-item[1][4], item[0]))
    rows = [(rule, str(n), str(ok), str(ran), str(failed), duration(total) if timed else "",
             duration(total / timed) if timed else "", size(peak))
            for rule, (n, ok, ran, failed, total, timed, peak) in ordered]
    if rows:
        print(table(("rule", "jobs", "up to date", f"ran in run {run_id}", "failed", "total runtime", "mean",
                     "max peak rss"), rows, right={1, 2, 3, 4, 5, 6, 7}))
    jobs = sum(entry[0] for entry in stats.values())
    note = "" if graph.rules is not None else " (a graph kept before rules were recorded: grouped by class)"
    print(f"{len(rows)} rule{'s' if len(rows) != 1 else ''}, {jobs} job{'s' if jobs != 1 else ''} "
          f"in the graph of run {run_id}{note}; runtimes as last recorded")


# --- runs ----------------------------------------------------------------------


def print_runs(reader: StoreReader, limit: int) -> None:
    runs = reader.runs(limit)
    if not runs:
        print("no runs recorded")
        return
    holder = lock_holder(reader.filename)
    rows = []
    for info in runs:
        outcome = info.outcome
        if outcome is None:
            running = info.run_id == runs[0].run_id and holder is not None
            outcome = f"running (pid {holder})" if running else "did not finish"
        took = duration(info.finished - info.started) if info.finished else ""
        rows.append((str(info.run_id), date(info.started), took, outcome,
                     "" if info.jobs_run is None else str(info.jobs_run),
                     "" if info.jobs_failed is None else str(info.jobs_failed)))
    print(table(("run", "started", "took", "outcome", "ran", "failed"), rows, right={0, 2, 4, 5}))


def lock_holder(store: str) -> int | None:
    """The pid in the store's lock file if that process is alive (no lock is taken)."""
    try:
        with open(store + ".lock") as fh:
            pid = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


# --- shared helpers --------------------------------------------------------------


def open_reader(args) -> StoreReader:
    """The store of `--store`, read-only; StoreError (one line) when there is none."""
    return StoreReader(args.store)


def known_ids(reader: StoreReader) -> set[str]:
    """Job ids with a record or a kept run."""
    return set(reader.records()) | set(reader.last_runs())


def require_known(reader: StoreReader, job_id: str) -> str:
    """`job_id`, or CommandError when the store knows no such job."""
    if job_id not in known_ids(reader):
        raise CommandError(f"unknown job {job_id} (not in the store)")
    return job_id


def date(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size(nbytes: int | None) -> str:
    """Bytes in KiB/MiB/GiB ('' when unknown)."""
    if nbytes is None:
        return ""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def table(header: tuple, rows: list, right: set = frozenset()) -> str:
    """Aligned columns; the column indices in `right` are right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row) -> str:
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])
