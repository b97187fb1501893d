"""ppg history JOB: the job's runs over the kept past runs (oldest first).

Invariant: read-only (StoreReader). Only runs the job actually ran in are listed (a
run where it was up to date leaves no row); the store keeps the rows of the last 50
runs.

    ppg history out/b.txt
"""

from __future__ import annotations

from .status import date, duration, open_reader, require_known, table


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "history", help="a job's runs over the past runs",
        description="Each run the job ran in: run id, date, outcome, runtime, cores and why it ran.")
    parser.add_argument("job", metavar="JOB", help="the job id (for output jobs: the output file)")
    return parser


def run(args) -> int:
    reader = open_reader(args)
    try:
        job_id = require_known(reader, args.job)
        rows = reader.job_runs(job_id=job_id)
        record = reader.record(job_id)
    finally:
        reader.close()
    if not rows:
        when = f" (its record dates from {date(record.finished)})" if record and record.finished else ""
        print(f"{job_id}: no run of it is in the kept history{when}")
        return 0
    lines = [
        (str(row.run_id), date(row.started), row.outcome,
         duration((row.stopped or row.started) - row.started), str(row.cores or ""), row.reason or "")
        for row in rows
    ]
    print(table(("run", "started", "outcome", "runtime", "cores", "why it ran"), lines, right={0, 3}))
    failed = sum(1 for row in rows if row.outcome != "done")
    print(f"{len(rows)} run{'s' if len(rows) != 1 else ''} of {job_id}"
          + (f", {failed} not done" if failed else ""))
    return 0
