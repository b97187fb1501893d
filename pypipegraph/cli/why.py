"""`ppg why SCRIPT`: which jobs the next run would run, and why, without running them.

Jobs that will run are listed with their reasons (and a diff where one helps: the
function's source before and after, old and new parameters, which input file's hash
moved). Jobs that run only if an upstream output turns out different are listed
apart as "may run": early cutoff decides those at run time.
"""

from __future__ import annotations

import fnmatch
import os

from ..history_reader import StoreReader
from ..plan import ScriptError, explain, load_script
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("why", help="dry run: what would run, and why")
    parser.add_argument("script", help="the pipeline script (run up to run_pipegraph(), nothing runs)")
    parser.add_argument("patterns", nargs="*", help="only jobs whose id matches one of these globs")
    parser.add_argument("--all", action="store_true", help="also list invariants and up-to-date jobs")
    parser.add_argument("--args", nargs="*", default=[], help="arguments passed to the script")
    return parser


def plan_script(script: str, args: list[str]):
    """(PlanComplete, verdicts, fingerprints, store filename) of a script, against its store."""
    try:
        done = load_script(script, args)
    except ScriptError as exc:
        raise CommandError(str(exc)) from None
    store = os.path.join(done.cwd, done.graph.invariant_status_filename)
    reader = StoreReader(store) if os.path.exists(store) else _EmptyStore()
    try:
        verdicts, fingerprints = explain(done.jobs, reader)
        return done, verdicts, fingerprints, store
    finally:
        reader.close()


class _EmptyStore:
    """No store yet: every job never ran."""

    def record(self, job_id):
        return None

    get = record

    def source(self, digest):
        return None

    def failures(self):
        return {}

    def close(self):
        pass


def run(args) -> int:
    done, verdicts, _, store = plan_script(args.script, args.args)
    shown = [
        v for v in verdicts.values()
        if (args.all or not v.job.is_invariant)
        and (not args.patterns or any(fnmatch.fnmatchcase(v.job.job_id, p) for p in args.patterns))
    ]
    if not os.path.exists(store):
        print(f"no store {store} yet: every job will run")
    sections = [("run", "will run"), ("may", "may run (only if an upstream output turns out different)")]
    for status, title in sections:
        group = [v for v in shown if v.status == status]
        print(f"{title}: {len(group)}")
        for verdict in group:
            print(f"  {verdict.job.job_id}: {'; '.join(verdict.reasons)}")
            for line in verdict.details:
                print(f"      {line}")
    up_to_date = [v for v in shown if v.status == "ok"]
    print(f"up to date: {len(up_to_date)}")
    if args.all:
        for verdict in up_to_date:
            print(f"  {verdict.job.job_id}")
    generators = [v for v in shown if v.job.generates_jobs]
    if generators:
        print("note: jobs created by job-generating jobs are not known until those run")
    return 0
