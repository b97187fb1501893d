"""`ppg accept SCRIPT JOB...`: take the current inputs of jobs as seen.

For a harmless change (a function edited in a way that does not matter, a parameter
that does not change the result), record the jobs' current input fingerprints so the
next run does not rerun them. Only jobs whose outputs exist and whose upstream jobs
are all up to date can be accepted. Takes the run lock.
"""

from __future__ import annotations

import fnmatch

from ..hashing import file_stat
from ..plan import UNKNOWN
from ..store.writer import History
from . import CommandError
from .why import plan_script


def add_parser(subparsers):
    parser = subparsers.add_parser("accept", help="record current inputs as seen (no rerun)")
    parser.add_argument("script", help="the pipeline script (run up to run_pipegraph(), nothing runs)")
    parser.add_argument("patterns", nargs="+", help="job ids or globs to accept")
    parser.add_argument("--args", nargs="*", default=[], help="arguments passed to the script")
    return parser


def run(args) -> int:
    done, verdicts, fingerprints, store = plan_script(args.script, args.args)
    chosen = [
        job for job in done.jobs
        if not job.is_invariant and any(fnmatch.fnmatchcase(job.job_id, p) for p in args.patterns)
    ]
    if not chosen:
        raise CommandError(f"no job matches {' '.join(args.patterns)}")
    history = History(store).open()
    accepted = 0
    try:
        for job in chosen:
            verdict = verdicts[job]
            if verdict.status == "ok":
                print(f"{job.job_id}: up to date already")
                continue
            record = history.get(job.job_id)
            problem = _why_not(job, record, fingerprints)
            if problem:
                print(f"{job.job_id}: not accepted: {problem}")
                continue
            history.put(job.job_id, record._replace(inputs={up.job_id: fingerprints[up] for up in job.prerequisites}))
            accepted += 1
            print(f"{job.job_id}: accepted ({'; '.join(verdict.reasons)})")
    finally:
        history.close()
    return 0 if accepted else 1


def _why_not(job, record, fingerprints) -> str | None:
    if record is None:
        return "it never ran"
    for name, _, _, _ in record.outputs:
        complaint = job.output_complaint(name, file_stat(name))
        if complaint:
            return complaint
    unknown = [up.job_id for up in job.prerequisites if fingerprints.get(up, UNKNOWN) is UNKNOWN]
    if unknown:
        return f"upstream {', '.join(unknown)} must run first"
    return None
