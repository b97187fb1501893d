"""`ppg why [SCRIPT]`: which jobs the next run would run, and why, without running them.

Jobs that will run are grouped by rule and by what changed, one line each with a count
("200 jobs of trim: function __main__.trim changed", "400 jobs of qc: parameters
changed: 'min_q': 20 -> 30"): the reasons without job ids, in a stable order, so the
output does not grow with the number of jobs. Below a group, a diff where one helps (the
function's source before and after, old and new parameters, which input file's hash
moved), each distinct diff shown once and at most three a group; `--jobs` lists the
jobs one by one. Jobs that
run only if an upstream output turns out different are listed apart as "may run":
early cutoff decides those at run time. The total says how long the jobs that will run
took when they last ran. SCRIPT defaults to pipeline.py.
"""

from __future__ import annotations

import fnmatch
import os

from ..plan import ScriptError, explain, load_script
from ..plumbing.safe_files import shown
from ..store.reader import StoreReader
from . import CommandError
from .tables import duration

DEFAULT_SCRIPT = "pipeline.py"
MAX_DIFFS = 3  # distinct diffs shown per group of jobs


def add_script_arguments(parser, patterns_help: str) -> None:
    """The arguments of the commands that run the script: the script, job patterns, --args."""
    parser.add_argument("script", nargs="?", default=None,
                        help=f"the pipeline script (default: {DEFAULT_SCRIPT} when there is one)")
    parser.add_argument("patterns", nargs="*", metavar="TARGET", help=patterns_help)
    parser.add_argument("--args", nargs="*", default=[], help="arguments passed to the script")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "why", help="dry run: what would run, and why",
        description="Run the script up to run_pipegraph() (nothing runs) and say which jobs the "
        "next run would run and why, grouped by rule and reason.")
    add_script_arguments(parser, "only jobs whose id matches one of these globs")
    parser.add_argument("--jobs", action="store_true", help="list the jobs one by one, not grouped")
    parser.add_argument("--all", action="store_true", help="also list invariants and up-to-date jobs")
    return parser


def script_argument(args) -> str:
    """The script to plan: SCRIPT, else pipeline.py; a first argument that is no file is a
    pattern when pipeline.py is there (`ppg why 'out/*'`)."""
    script = args.script
    if script is not None and (os.path.exists(script) or not os.path.exists(DEFAULT_SCRIPT)):
        return script
    if script is not None:
        args.patterns.insert(0, script)
    if not os.path.exists(DEFAULT_SCRIPT):
        raise CommandError(f"no script given and no {DEFAULT_SCRIPT} here: name the pipeline script")
    return DEFAULT_SCRIPT


def plan_script(script: str, args: list[str]):
    """(PlanComplete, verdicts, fingerprints, store filename) of a script, against its store."""
    done, verdicts, fingerprints, store, _ = _plan(script, args)
    return done, verdicts, fingerprints, store


def _plan(script: str, args: list[str]):
    try:
        done = load_script(script, args)
    except ScriptError as exc:
        raise CommandError(str(exc)) from None
    store = os.path.join(done.cwd, done.graph.invariant_status_filename)
    reader = StoreReader(store) if os.path.exists(store) else _EmptyStore()
    try:
        verdicts, fingerprints = explain(done.jobs, reader)
        runtimes = {}
        for verdict in verdicts.values():
            record = reader.record(verdict.job.job_id) if verdict.status == "run" else None
            if record is not None and record.finished:
                runtimes[verdict.job] = record.runtime
        return done, verdicts, fingerprints, store, runtimes
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
    script = script_argument(args)
    done, verdicts, _, store, runtimes = _plan(script, args.args)
    listed = [
        v for v in verdicts.values()
        if (args.all or not v.job.is_invariant)
        and (not args.patterns or any(fnmatch.fnmatchcase(v.job.job_id, p) for p in args.patterns))
    ]
    if not os.path.exists(store):
        print(f"no store {store} yet: every job will run")
    sections = [("run", "will run"), ("may", "may run (only if an upstream output turns out different)")]
    for status, title in sections:
        group = [v for v in listed if v.status == status]
        print(f"{title}: {len(group)}")
        if args.jobs:
            for verdict in group:
                print(f"  {shown(verdict.job.job_id)}: {shown('; '.join(verdict.reasons))}")
                for line in verdict.details:
                    print(f"      {shown(line)}")
        else:
            print_groups(group)
    will_run = [v for v in listed if v.status == "run"]
    if will_run:
        print(total_line(will_run, runtimes, getattr(done.graph.rc, "cores_available", None)))
    up_to_date = [v for v in listed if v.status == "ok"]
    print(f"up to date: {len(up_to_date)}")
    if args.all:
        for verdict in up_to_date:
            print(f"  {shown(verdict.job.job_id)}")
    generators = [v for v in listed if v.job.generates_jobs]
    if generators:
        print("note: jobs created by job-generating jobs are not known until those run")
    return 0


def print_groups(verdicts: list) -> None:
    """One line per rule and change (the reasons without job ids, in a stable order) with
    its count, most jobs first; each diff once, at most `MAX_DIFFS` distinct diffs a group."""
    groups: dict[tuple, list] = {}
    for verdict in verdicts:
        groups.setdefault((verdict.job.rule, verdict.general or tuple(verdict.reasons)), []).append(verdict)
    printed: set = set()
    for (rule, general), members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        if len(members) == 1:  # its own words
            print(f"  {shown(members[0].job.job_id)} ({shown(rule)}): {shown('; '.join(members[0].reasons))}")
        else:
            print(f"  {len(members)} jobs of {shown(rule)}: {shown('; '.join(general))}")
        alike: dict[tuple, list] = {}  # a diff -> the invariants it belongs to
        for verdict in members:
            for name, key, lines in detail_blocks(verdict.details):
                alike.setdefault(key, [name, 0, lines])[1] += 1
        fresh = [(key, entry) for key, entry in alike.items() if key not in printed]
        for key, (name, count, lines) in fresh[:MAX_DIFFS]:
            printed.add(key)
            more = f" (and {count - 1} more alike)" if count > 1 else ""
            print(shown(f"      {name}{more}{lines[0]}"))
            for line in lines[1:]:
                print(f"      {shown(line)}")
        if len(fresh) > MAX_DIFFS:
            print(f"      ... and {len(fresh) - MAX_DIFFS} more different changes (--jobs shows each job's)")


def detail_blocks(details: list):
    """(invariant id, key, lines) per block of a verdict's details: a block starts with an
    unindented "ID: ..." line; its key leaves the id out, so the same diff of many
    invariants (one function used by many jobs) is one key. lines[0] is the rest of the
    first line after the id."""
    blocks: list[list[str]] = []
    for line in details:
        if not line.startswith(" ") or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    for block in blocks:
        name, colon, rest = block[0].partition(":")
        if not colon:
            name, rest = block[0], ""
        lines = [colon + rest, *block[1:]]
        yield name, tuple(lines), lines


def total_line(will_run: list, runtimes: dict, cores: int | None) -> str:
    """How long the jobs that will run took last time (and spread over the cores)."""
    timed = [runtimes[v.job] for v in will_run if v.job in runtimes]
    total = sum(timed)
    line = f"total: {len(will_run)} job{'s' if len(will_run) != 1 else ''} will run"
    if timed:
        line += f", {duration(total)} by their last runtimes"
        if cores and cores > 1:
            line += f" (about {duration(total / cores)} on {cores} cores)"
    untimed = len(will_run) - len(timed)
    if untimed:
        line += f"; {untimed} without a recorded runtime (never ran, or failed last time)"
    return line
