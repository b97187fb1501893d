"""`ppg graph SCRIPT --format dot|mermaid|gml`: the job graph, without running anything."""

from __future__ import annotations

import sys

from ..logs import write_gml
from ..plan import ScriptError, load_script
from ..safe_files import printable, write_file
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("graph", help="export the job graph (dot, mermaid or gml)")
    parser.add_argument("script", help="the pipeline script (run up to run_pipegraph(), nothing runs)")
    parser.add_argument("--format", choices=["dot", "mermaid", "gml"], default="dot")
    parser.add_argument("--invariants", action="store_true", help="include invariant jobs")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--args", nargs="*", default=[], help="arguments passed to the script")
    return parser


def run(args) -> int:
    try:
        done = load_script(args.script, args.args)
    except ScriptError as exc:
        raise CommandError(str(exc)) from None
    jobs = [job for job in done.jobs if args.invariants or not job.is_invariant]
    if args.format == "gml":
        if not args.output:
            raise CommandError("--format gml needs -o FILE")
        write_gml(jobs, args.output)
        return 0
    text = to_dot(jobs) if args.format == "dot" else to_mermaid(jobs)
    if args.output:
        write_file(args.output, text)
    else:
        sys.stdout.write(printable(text))
    return 0


def _edges(jobs):
    members = set(jobs)
    for job in jobs:
        for up in sorted(job.prerequisites, key=lambda j: j.job_id):
            if up in members:
                yield up, job


def to_dot(jobs) -> str:
    def quote(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph pipegraph {", "  rankdir=LR;", "  node [shape=box];"]
    for job in jobs:
        lines.append(f"  {quote(job.job_id)} [tooltip={quote(type(job).__name__)}];")
    lines += [f"  {quote(up.job_id)} -> {quote(job.job_id)};" for up, job in _edges(jobs)]
    return "\n".join(lines + ["}"]) + "\n"


def to_mermaid(jobs) -> str:
    ids = {job: f"j{i}" for i, job in enumerate(jobs)}
    lines = ["flowchart LR"]
    for job, node in ids.items():
        label = job.job_id.replace('"', "#quot;")
        lines.append(f'  {node}["{label}"]')
    lines += [f"  {ids[up]} --> {ids[job]}" for up, job in _edges(jobs)]
    return "\n".join(lines) + "\n"
