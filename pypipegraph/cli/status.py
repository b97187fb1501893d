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
import time

from ..plumbing.safe_files import shown
from ..store.format import record_is_invariant
from ..store.lock import holder
from ..store.reader import StoreReader
from . import CommandError

STATES = ("done", "failed", "killed", "ok", "blocked", "pending", "unreadable")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "status", help="each job's last outcome, runtime and finish time",
        description="Each job of the store with its last outcome (done, failed, killed; ok = up "
        "to date, no run in the kept history; unreadable = its record cannot be used, it runs next "
        "time), last runtime and when it last finished.")
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help="glob patterns on job ids (fnmatch, e.g. 'out/*.txt')")
    parser.add_argument("--state", action="append", default=None,
                        help="only jobs whose last outcome (done, failed, killed, ok, blocked, pending) or whose "
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
    from . import status_jobs  # lazy: status_jobs imports this module's helpers

    status_jobs.add_arguments(parser)
    return parser


def run(args) -> int:
    from . import status_jobs  # lazy: status_jobs imports this module's helpers

    reader = open_reader(args)
    try:
        if args.runs:
            print_runs(reader, args.limit)
        elif args.rules:
            from .status_rules import print_rules  # lazy: status_rules imports this module's helpers

            print_rules(reader, args)
        else:
            status_jobs.print_jobs(reader, args)
    finally:
        reader.close()
    return 0


# --- jobs ----------------------------------------------------------------------


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
    return holder(store)


# --- shared helpers --------------------------------------------------------------


def open_reader(args) -> StoreReader:
    """The store of `--store`, read-only; StoreError (one line) when there is none."""
    return StoreReader(args.store)


def require_known(reader: StoreReader, job_id: str) -> str:
    """`job_id`, or CommandError when the store knows no such job (index look-ups only)."""
    if not reader.knows(job_id):
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
    rows = [tuple(shown(str(cell)) for cell in row) for row in rows]  # a job id cannot forge a row
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row) -> str:
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])
