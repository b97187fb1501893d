"""ppg log JOB: the stdout, stderr and traceback of the job's last run.

Invariant: read-only (StoreReader). The store keeps the output of each job's last run
only, and only when it printed something or failed; an id the store does not know at
all is an error, a known job that printed nothing says so.

    ppg log out/b.txt
"""

from __future__ import annotations

from .status import date, open_reader, require_known


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "log", help="the last stdout, stderr and traceback of a job",
        description="Show what a job printed (stdout, stderr) and its traceback, from its last run.")
    parser.add_argument("job", metavar="JOB", help="the job id (for output jobs: the output file)")
    return parser


def run(args) -> int:
    reader = open_reader(args)
    try:
        job_id = require_known(reader, args.job)
        runs = reader.job_runs(job_id=job_id)
        logged = reader.job_log(job_id)
    finally:
        reader.close()
    last = runs[-1] if runs else None
    if last is None:
        print(f"{job_id}: no run of it is in the kept history")
    else:
        print(f"{job_id}: last ran in run {last.run_id}, {date(last.started)}, {last.outcome}")
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
