"""ppg status --rules: the jobs of the last recorded graph summed up by rule.

Invariant: read-only (StoreReader), no record is decoded: up to date means "has a
record and its last run did not fail", runtimes and peak RSS come from each job's last
kept run (an indexed look-up, `job_last`), so the cost grows with the jobs of the graph,
not with the runs kept. While a pipeline runs, its graph is recorded when its first job
starts, and the running pipeline is asked (control.ask) how many jobs of each rule run
now; a run not serving a live view is read from the store alone.

    ppg status --rules
    rule   jobs  up to date  ran in run 3 (running)  running  failed  total runtime ...
"""

from __future__ import annotations

import fnmatch

from ..store.reader import StoreReader
from ..views.control import ControlError, ask
from .tables import duration, latest_graph, lock_holder, size, table


def live_rules(store: str) -> dict[str, dict] | None:
    """{rule: per-rule counts} from the pipeline running on `store`, None when none answers."""
    try:
        snap = ask(store, {"ask": "snapshot"}, timeout=2.0)
    except (ControlError, OSError, ValueError):
        return None
    return {row["rule"]: row for row in snap.get("rules") or []}


def print_rules(reader: StoreReader, args) -> None:
    """Jobs of the last kept graph grouped by rule, most recorded runtime first."""
    run_id, graph = latest_graph(reader)
    if graph is None:
        print("no job graph kept in the store yet: run the pipeline (with this version) first")
        return
    recorded = reader.record_ids()
    failed_ids = reader.failures()
    last = reader.last_run_fields()  # job id -> (run id, runtime, peak rss)
    running_run = next((info for info in reader.runs(1) if info.run_id == run_id and info.outcome is None), None)
    live = live_rules(reader.filename) if running_run is not None and lock_holder(reader.filename) else None
    stats: dict[str, list] = {}  # rule -> [jobs, up to date, ran, failed, runtime, timed, peak rss]
    for job_id, kind, rule in zip(graph.ids, graph.types, graph.rules or graph.types, strict=True):
        if not args.all and kind.endswith("Invariant"):
            continue
        if args.patterns and not any(fnmatch.fnmatchcase(job_id, p) for p in args.patterns):
            continue
        failed = job_id in failed_ids
        entry = stats.get(rule)
        if entry is None:
            entry = stats[rule] = [0, 0, 0, 0, 0.0, 0, None]
        entry[0] += 1
        entry[1] += job_id in recorded and not failed
        entry[3] += failed
        row = last.get(job_id)
        if row is not None:
            ran_in, runtime, rss = row
            entry[2] += ran_in == run_id
            entry[4] += runtime
            entry[5] += 1
            if rss is not None:
                entry[6] = max(entry[6] or 0, rss)
    ordered = sorted(stats.items(), key=lambda item: (-item[1][4], item[0]))
    ran_title = f"ran in run {run_id}" + (" (running)" if running_run is not None else "")
    header = ["rule", "jobs", "up to date", ran_title, "failed", "total runtime", "mean", "max peak rss"]
    rows = []
    for rule, (n, ok, ran, failed, total, timed, peak) in ordered:
        row = [rule, str(n), str(ok), str(ran), str(failed), duration(total) if timed else "",
               duration(total / timed) if timed else "", size(peak)]
        if live is not None:
            row.insert(4, str(live.get(rule, {}).get("running", 0)))
        rows.append(tuple(row))
    if live is not None:
        header.insert(4, "running")
    if rows:
        print(table(tuple(header), rows, right=set(range(1, len(header)))))
    jobs = sum(entry[0] for entry in stats.values())
    note = "" if graph.rules is not None else " (a graph kept before rules were recorded: grouped by class)"
    now = " (running now)" if running_run is not None else ""
    print(f"{len(rows)} rule{'s' if len(rows) != 1 else ''}, {jobs} job{'s' if jobs != 1 else ''} "
          f"in the graph of run {run_id}{now}{note}; runtimes as last recorded")
