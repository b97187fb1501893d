"""ppg log JOB: the stdout, stderr and traceback of the job's last run.

Invariant: read-only (StoreReader, plain file reads). The store keeps the output of
each job's last run only, and only when it printed something or failed; an id the store
does not know at all is an error, a known job that printed nothing says so. A command
job's streamed log files (logs/jobs/<job>/, next to the store) are shown instead of the
store's stdout/stderr when they are at least as new as its last run, so `ppg log` works
while the job runs (even its first run).

    ppg log out/b.txt
"""

from __future__ import annotations

import os

from ..child_process import read_tail
from ..logs import LOG_DIR, job_log_dir
from .status import date, open_reader, require_known

SHOWN_BYTES = 64 << 10  # of each streamed file


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "log", help="the last stdout, stderr and traceback of a job",
        description="Show what a job printed (stdout, stderr) and its traceback, from its last run.")
    parser.add_argument("job", metavar="JOB", help="the job id (for output jobs: the output file)")
    return parser


def run(args) -> int:
    reader = open_reader(args)
    streamed = streamed_logs(args.job, os.path.dirname(args.store))
    try:
        job_id = args.job if streamed else require_known(reader, args.job)
        runs = reader.job_runs(job_id=job_id)
        logged = reader.job_log(job_id)
    finally:
        reader.close()
    last = runs[-1] if runs else None
    if last is None:
        print(f"{job_id}: no run of it is in the kept history")
    else:
        print(f"{job_id}: last ran in run {last.run_id}, {date(last.started)}, {last.outcome}")
    if streamed and (last is None or max(os.path.getmtime(p) for p in streamed.values()) >= last.started):
        for title, path in streamed.items():
            print(f"--- {title} ({path}, written {date(os.path.getmtime(path))}) ---")
            print(read_tail(path, SHOWN_BYTES).rstrip("\n") or "(empty)")
        if logged is not None and logged[3] and last is not None and logged[0] == last.run_id:
            print(f"--- traceback (run {logged[0]}) ---")
            print(logged[3].rstrip("\n"))
        return 0
    if logged is None:
        print("no output recorded")
        return 0
    run_id, stdout, stderr, traceback = logged
    printed = False
    for title, text in (("stdout", stdout), ("stderr", stderr), ("traceback", traceback)):
        if text:
            print(f"--- {title} (run {run_id}) ---")
            print(text.rstrip("\n"))
            printed = True
    if not printed:
        print("no output recorded")
    return 0


def streamed_logs(job_id: str, base: str) -> dict[str, str]:
    """{"stdout": path, "stderr": path} of a command job's streamed files that exist."""
    directory = job_log_dir(job_id, os.path.join(base, LOG_DIR))
    paths = {name: os.path.join(directory, name) for name in ("stdout", "stderr")}
    return {name: path for name, path in paths.items() if os.path.exists(path)}
