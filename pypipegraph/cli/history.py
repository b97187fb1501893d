"""ppg history JOB: the job's runs over the kept past runs (oldest first), with their
resource use, where they ran (host, pid, cluster job id) and how they ended.

Invariant: read-only (StoreReader). Only runs the job actually ran in are listed (a
run where it was up to date leaves no row); the store keeps the rows of the last 50
runs.

    ppg history out/b.txt
"""

from __future__ import annotations

from ..plumbing.safe_files import shown
from .tables import date, duration, open_reader, require_known, size, table


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "history", help="a job's runs over the past runs",
        description="Each run the job ran in: run id, date, outcome, runtime, CPU time, peak RSS, "
        "cores, exit status, host and pid (and cluster job id), the state it set, and why it ran.")
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
        print(f"{shown(job_id)}: no run of it is in the kept history{when}")
        return 0
    clustered = any(row.cluster_job for row in rows)
    lines = []
    for row in rows:
        where = f"{row.host or '?'}:{row.worker}" if row.worker else (row.host or "")
        line = [str(row.run_id), date(row.started), row.outcome, duration(row.runtime),
                duration(row.cpu), size(row.rss), str(row.cores or ""),
                "" if row.exit_status is None else str(row.exit_status), where]
        if clustered:
            line.append(row.cluster_job or "")
        lines.append((*line, row.state or "", row.reason or ""))
    header = ["run", "started", "outcome", "runtime", "cpu", "peak rss", "cores", "exit", "host:pid"]
    if clustered:
        header.append("cluster job")
    header += ["state", "why it ran"]
    print(table(tuple(header), lines, right={0, 3, 4, 5, 6, 7}))
    failed = sum(1 for row in rows if row.outcome != "done")
    print(f"{len(rows)} run{'s' if len(rows) != 1 else ''} of {shown(job_id)}"
          + (f", {failed} not done" if failed else ""))
    return 0
