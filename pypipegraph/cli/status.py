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

Jobs are listed by status_jobs.py, rules by status_rules.py, with the helpers of tables.py.
"""

from __future__ import annotations

from ..store.reader import StoreReader
from . import status_jobs
from .status_rules import print_rules
from .tables import date, duration, lock_holder, open_reader, table

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
    status_jobs.add_arguments(parser)
    return parser


def run(args) -> int:
    reader = open_reader(args)
    try:
        if args.runs:
            print_runs(reader, args.limit)
        elif args.rules:
            print_rules(reader, args)
        else:
            status_jobs.print_jobs(reader, args)
    finally:
        reader.close()
    return 0


# --- jobs ----------------------------------------------------------------------


# --- rules ---------------------------------------------------------------------


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


# --- shared helpers --------------------------------------------------------------
