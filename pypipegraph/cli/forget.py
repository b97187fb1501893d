"""ppg forget JOB_OR_PATTERN ... | --state STATE: delete jobs' records so they run on the
next run.

Invariant: changes the store only under its run lock (History.open), so it refuses
while a pipeline runs in the directory, and never creates a store that is not there.
Patterns (fnmatch) match the jobs `ppg status` lists; an exact id matches any job,
invariants included. A pattern that matches nothing is an error, and then nothing is
forgotten. `--state` picks the jobs `ppg status --state` lists (last outcome, or the
state the job's last run set); a failed or killed job also loses its "failed" mark,
so that `ppg status` no longer lists it.

    ppg forget out/b.txt 'out/plots/*'
    ppg forget --state failed
"""

from __future__ import annotations

import fnmatch

from ..errors import StoreLocked
from ..plumbing.safe_files import shown
from ..store.format import record_is_invariant
from ..store.writer import History
from . import CommandError
from .tables import latest_graph, lock_holder, open_reader


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "forget", help="delete jobs' records so they run next time",
        description="Delete the store records of the matching jobs: each runs on the next run "
        "(its dependants run only if its output then changes). Refused while a pipeline runs.")
    parser.add_argument("patterns", nargs="*", metavar="JOB_OR_PATTERN",
                        help="job ids or glob patterns on job ids (fnmatch, quote them)")
    parser.add_argument("--state", action="append", default=None,
                        help="the jobs whose last outcome (done, failed, killed) or user-set state "
                        "is STATE (repeatable; with patterns: those of them in that state)")
    parser.add_argument("--rule", action="append", default=None, metavar="RULE",
                        help="the jobs of this rule (a glob; repeatable), from the last graph the store "
                        "kept (with patterns or --state: those of them that match)")
    parser.add_argument("--all", action="store_true",
                        help="patterns also match invariants (function, parameter and file invariants)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="only list what would be forgotten")
    return parser


def run(args) -> int:
    if not args.patterns and not args.state and not args.rule:
        raise CommandError("name the jobs to forget (ids or patterns), or --state STATE, or --rule RULE")
    reader = open_reader(args)  # a missing store is an error here, never created by History
    try:
        last = reader.last_runs()
        of_rule = jobs_of_rules(reader, args.rule) if args.rule else None
    finally:
        reader.close()
    unrecorded = sorted(job_id for job_id, row in last.items() if row.outcome != "done")
    history = History(args.store)
    try:
        history.open()
    except StoreLocked as exc:
        holder = exc.holder or lock_holder(args.store)
        raise CommandError(
            f"a pipeline is running here{f' (pid {holder})' if holder else ''} and holds the "
            f"lock on {args.store}; forget changes the store, so wait for the run to finish"
        ) from None
    try:
        if of_rule is not None and not args.state and not args.patterns:
            matches = sorted(job_id for job_id in of_rule if job_id in history.keys())
            if not matches:
                raise CommandError(f"no job of rule {' or '.join(args.rule)} has a record in the store "
                                   "(nothing was forgotten)")
        else:
            matches = _by_state(history, args, last) if args.state else _match(history, args, unrecorded)
            if of_rule is not None:
                matches = [job_id for job_id in matches if job_id in of_rule]
        for job_id in matches:
            if not args.dry_run:
                history.delete(job_id)
                history.forget_failure(job_id)
            print(f"{'would forget' if args.dry_run else 'forgot'} {shown(job_id)}")
    finally:
        history.close()
    n = len(matches)
    if not n:
        return 0
    verb = "would run" if args.dry_run else "runs"
    print(f"{n} job{'s' if n != 1 else ''} {'would be ' if args.dry_run else ''}forgotten; "
          f"{'each' if n != 1 else 'it'} {verb} on the next run")
    return 0


def jobs_of_rules(reader, rules: list[str]) -> set[str]:
    """The ids of the jobs whose rule matches one of `rules` in the last graph the store kept
    (invariants left out); CommandError naming the known rules when none matches."""
    run_id, graph = latest_graph(reader)
    if graph is None:
        raise CommandError("the store keeps no job graph yet, so no rules: run the pipeline first")
    found = {job_id for job_id, kind, rule in zip(graph.ids, graph.types, graph.rules or graph.types, strict=True)
             if not kind.endswith("Invariant") and any(fnmatch.fnmatchcase(rule, p) for p in rules)}
    if not found:
        known = sorted(set(graph.rules or graph.types))
        raise CommandError(f"no rule {' or '.join(rules)} in the graph of run {run_id} (rules: "
                           f"{', '.join(known[:20])}); nothing was forgotten")
    return found


def _by_state(history: History, args, last: dict) -> list[str]:
    """Jobs whose last run's outcome or user-set state is one of --state (and that match a
    pattern, when given); the invariants among them only with --all."""
    found = []
    for job_id in sorted(set(last) | set(history.failures())):
        row = last.get(job_id)
        outcome = history.failures().get(job_id) or (row.outcome if row is not None else None)
        if outcome not in args.state and (row is None or row.state not in args.state):
            continue
        if args.patterns and not any(fnmatch.fnmatchcase(job_id, p) for p in args.patterns):
            continue
        if not args.all and record_is_invariant(job_id, history.get(job_id)):
            continue
        found.append(job_id)
    if not found:
        raise CommandError(f"no job's last run is in state {' or '.join(args.state)} "
                           "(nothing was forgotten; `ppg status --state ...` lists them)")
    return found


def _match(history: History, args, unrecorded: list[str]) -> list[str]:
    ids = sorted(history.keys())
    visible = [job_id for job_id in ids if args.all or not record_is_invariant(job_id, history.get(job_id))]
    known = set(ids)
    matches: dict[str, None] = {}
    for pattern in args.patterns:
        found = [pattern] if pattern in known else fnmatch.filter(visible, pattern)
        if not found:
            without = [job_id for job_id in unrecorded
                       if job_id not in known and fnmatch.fnmatchcase(job_id, pattern)]
            if without:
                for job_id in without:
                    print(f"{shown(job_id)} has no record (its last run failed): it runs next time anyway")
                continue
            raise CommandError(f"{pattern} matches no job with a record in the store "
                               "(nothing was forgotten; `ppg status` lists the jobs)")
        matches.update(dict.fromkeys(found))
    return list(matches)
