"""`ppg graph [SCRIPT] --format dot|mermaid|gml [--rules]`: the job graph, without running
anything.

Invariant: reads the script up to run_pipegraph() and the store read-only; writes
nothing but `-o FILE`. Nodes are coloured by each job's outcome as the store knows it
(OUTCOMES: failed, killed, blocked by a failed upstream, done in the last run, up to
date, never ran). `--rules` draws one node per rule (with its job count, coloured by its
worst outcome) and one edge per pair of rules that jobs connect.

    ppg graph pipeline.py -o graph.dot
    ppg graph --rules --format mermaid
"""

from __future__ import annotations

import os
import sys

from ..plan import ScriptError, load_script
from ..plumbing.safe_files import printable, write_file
from ..store.reader import StoreReader
from ..views.logs import write_gml
from . import CommandError
from .why import script_argument

# outcome -> fill colour, worst first (a rule takes its worst job's colour)
OUTCOMES = {"failed": "#f4a6a6", "killed": "#f6c28b", "blocked": "#d9d9d9", "never ran": "#ffffff",
            "done": "#a8dca8", "up to date": "#e3f4e3"}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "graph", help="export the job graph (dot, mermaid or gml), coloured by outcome",
        description="The job graph of the script (nothing runs), nodes coloured by the outcome the "
        "store knows: " + ", ".join(OUTCOMES) + ".")
    parser.add_argument("script", nargs="?", default=None,
                        help="the pipeline script (default: pipeline.py when there is one)")
    parser.add_argument("--format", choices=["dot", "mermaid", "gml"], default="dot")
    parser.add_argument("--rules", action="store_true",
                        help="the rule graph: one node per rule (with its job count), edges between rules")
    parser.add_argument("--invariants", action="store_true", help="include invariant jobs")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--args", nargs="*", default=[], help="arguments passed to the script")
    parser.set_defaults(patterns=[])
    return parser


def run(args) -> int:
    script = script_argument(args)
    if args.patterns:
        raise CommandError(f"no script {args.patterns[0]}")
    try:
        done = load_script(script, args.args)
    except ScriptError as exc:
        raise CommandError(str(exc)) from None
    jobs = [job for job in done.jobs if args.invariants or not job.is_invariant]
    outcome = outcomes(jobs, os.path.join(done.cwd, done.graph.invariant_status_filename))
    if args.format == "gml":
        if args.rules:
            raise CommandError("--rules draws dot or mermaid, not gml")
        if not args.output:
            raise CommandError("--format gml needs -o FILE")
        write_gml(jobs, args.output)
        print(f"wrote {args.output}: gml graph of {_count(len(jobs), 'job')}, "
              f"{_count(len(list(_edges(jobs))), 'edge')}")
        return 0
    nodes, edges = rule_graph(jobs, outcome) if args.rules else job_graph(jobs, outcome)
    text = to_dot(nodes, edges) if args.format == "dot" else to_mermaid(nodes, edges)
    if args.output:
        write_file(args.output, text)
        print(f"wrote {args.output}: {args.format} graph of "
              f"{_count(len(nodes), 'rule' if args.rules else 'job')}, {_count(len(edges), 'edge')}")
    else:
        sys.stdout.write(printable(text))
    return 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def outcomes(jobs: list, store: str) -> dict:
    """{job: outcome} from the store (every job "never ran" when there is none)."""
    if not os.path.exists(store):
        return dict.fromkeys(jobs, "never ran")
    reader = StoreReader(store)
    try:
        records = reader.records()
        failures = reader.failures()
        last = reader.last_runs()
        last_run = max((row.run_id for row in last.values()), default=None)
    finally:
        reader.close()
    result = {}
    for job in jobs:  # topological order: upstream outcomes are known first
        job_id = job.job_id
        row = last.get(job_id)
        if job_id in failures:
            result[job] = failures[job_id]
        elif any(result.get(up) in ("failed", "killed", "blocked") for up in job.prerequisites):
            result[job] = "blocked"  # it cannot be current while something upstream failed
        elif job_id in records:
            result[job] = "done" if row is not None and row.run_id == last_run else "up to date"
        else:
            result[job] = "never ran"
    return result


def _edges(jobs):
    members = set(jobs)
    for job in jobs:
        for up in sorted(job.prerequisites, key=lambda j: j.job_id):
            if up in members:
                yield up, job


def job_graph(jobs: list, outcome: dict) -> tuple[list, list]:
    """([(node id, label, tooltip, outcome)], [(from id, to id)]) of the jobs."""
    nodes = [(job.job_id, job.job_id, f"{type(job).__name__}, {outcome[job]}", outcome[job])
             for job in jobs]
    return nodes, [(up.job_id, job.job_id) for up, job in _edges(jobs)]


def rule_graph(jobs: list, outcome: dict) -> tuple[list, list]:
    """The same, one node per rule: "rule (n jobs)", its worst outcome; edges between rules."""
    worst = list(OUTCOMES)
    members: dict[str, list] = {}
    for job in jobs:
        members.setdefault(job.rule, []).append(job)
    nodes = []
    for rule, group in members.items():
        counts: dict[str, int] = {}
        for job in group:
            counts[outcome[job]] = counts.get(outcome[job], 0) + 1
        colour = min(counts, key=worst.index)
        tooltip = ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda i: worst.index(i[0])))
        nodes.append((rule, f"{rule} ({_count(len(group), 'job')})", tooltip, colour))
    edges = sorted({(up.rule, job.rule) for up, job in _edges(jobs) if up.rule != job.rule})
    return nodes, edges


def to_dot(nodes: list, edges: list) -> str:
    def quote(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    legend = ", ".join(f"{state} {colour}" for state, colour in OUTCOMES.items())
    lines = ["digraph pipegraph {", f"  // fill colours: {legend}", "  rankdir=LR;",
             "  node [shape=box, style=filled];"]
    for node, label, tooltip, state in nodes:
        extra = f"label={quote(label)}, " if label != node else ""
        lines.append(f"  {quote(node)} [{extra}tooltip={quote(tooltip)}, fillcolor={quote(OUTCOMES[state])}];")
    lines += [f"  {quote(up)} -> {quote(down)};" for up, down in edges]
    return "\n".join([*lines, "}"]) + "\n"


def to_mermaid(nodes: list, edges: list) -> str:
    ids = {node: f"j{i}" for i, (node, *_rest) in enumerate(nodes)}
    lines = ["flowchart LR"]
    for node, label, _tooltip, state in nodes:
        text = label.replace('"', "#quot;")
        lines.append(f'  {ids[node]}["{text}"]:::{state.replace(" ", "_")}')
    lines += [f"  {ids[up]} --> {ids[down]}" for up, down in edges if up in ids and down in ids]
    lines += [f"  classDef {state.replace(' ', '_')} fill:{colour},stroke:#555"
              for state, colour in OUTCOMES.items()]
    return "\n".join(lines) + "\n"
