"""ppg log JOB [--run N] [--grep REGEX]: the stdout, stderr and traceback of a job's run.

Invariant: read-only (StoreReader, plain file reads). The store keeps the output of
each run a job printed something in or failed, for the kept runs (the last 50); an id
the store does not know at all is an error, a known job that printed nothing says so.
Without --run, a command job's streamed log files (logs/jobs/<job>/, next to the store)
are shown instead of the store's stdout/stderr when they are at least as new as its last
run, so `ppg log` works while the job runs (even its first run). `--run N` picks run N
(a run id from `ppg history JOB`), or with N < 0 the job's N-th last run (-1 the last,
-2 the one before); `--grep` keeps the lines matching a regular expression.

    ppg log out/b.txt
    ppg log out/b.txt --run -2 --grep 'WARN|ERROR'
"""

from __future__ import annotations

import os
import re

from ..paths import LOG_DIR, job_log_dir
from ..plumbing.child_process import read_tail
from ..plumbing.safe_files import shown
from . import CommandError
from .tables import date, open_reader, require_known

SHOWN_BYTES = 64 << 10  # of each streamed file


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "log", help="the last stdout, stderr and traceback of a job",
        description="Show what a job printed (stdout, stderr) and its traceback, from its last run.")
    parser.add_argument("job", metavar="JOB", help="the job id (for output jobs: the output file)")
    parser.add_argument("--run", type=int, default=None, metavar="N",
                        help="run N (a run id, see `ppg history JOB`), or N < 0: the job's N-th "
                        "last run (-1 = the last)")
    parser.add_argument("--grep", default=None, metavar="REGEX",
                        help="only the lines matching this regular expression (Python syntax)")
    return parser


def run(args) -> int:
    pattern = None
    if args.grep is not None:
        try:
            pattern = re.compile(args.grep)
        except re.error as exc:
            raise CommandError(f"--grep {args.grep!r} is not a regular expression: {exc}") from None
    if args.run is not None:
        return show_run(args, pattern)
    reader = open_reader(args)
    streamed = streamed_logs(args.job, os.path.dirname(args.store))
    try:
        job_id = args.job if streamed else require_known(reader, args.job)
        runs = reader.job_runs(job_id=job_id)
        logged = reader.job_log(job_id)
    finally:
        reader.close()
    last = runs[-1] if runs else None
    if last is None:
        print(f"{shown(job_id)}: no run of it is in the kept history")
    else:
        print(f"{shown(job_id)}: last ran in run {last.run_id}, {date(last.started)}, {last.outcome}")
    if streamed and (last is None or max(os.path.getmtime(p) for p in streamed.values()) >= last.started):
        for title, path in streamed.items():
            print(f"--- {title} ({path}, written {date(os.path.getmtime(path))}) ---")
            print(shown(filtered(read_tail(path, SHOWN_BYTES), pattern), lines=True) or "(empty)")
        if logged is not None and logged[3] and last is not None and logged[0] == last.run_id:
            print(f"--- traceback (run {logged[0]}) ---")
            print(shown(filtered(logged[3], pattern), lines=True))
        return 0
    print_logged(logged, pattern)
    return 0


def show_run(args, pattern) -> int:
    """`--run N`: the output the store kept of one run of the job."""
    reader = open_reader(args)
    try:
        job_id = require_known(reader, args.job)
        runs = reader.job_runs(job_id=job_id)
        if args.run < 0:
            if -args.run > len(runs):
                raise CommandError(f"{job_id} has {len(runs)} run(s) in the kept history; "
                                   f"--run {args.run} asks for more")
            row = runs[args.run]
        else:
            row = next((r for r in reversed(runs) if r.run_id == args.run), None)
            if row is None:
                ran_in = ", ".join(str(r.run_id) for r in runs[-10:]) or "none kept"
                raise CommandError(f"{job_id} did not run in run {args.run} (it ran in runs: {ran_in}; "
                                   "`ppg history JOB` lists them)")
        logged = reader.job_log(job_id, row.run_id)
    finally:
        reader.close()
    print(f"{shown(job_id)}: run {row.run_id}, {date(row.started)}, {row.outcome}")
    print_logged(logged, pattern)
    return 0


def print_logged(logged, pattern) -> None:
    """A kept (run id, stdout, stderr, traceback), section by section."""
    if logged is None:
        print("no output recorded")
        return
    run_id, stdout, stderr, traceback = logged
    printed = False
    for title, text in (("stdout", stdout), ("stderr", stderr), ("traceback", traceback)):
        if text:
            print(f"--- {title} (run {run_id}) ---")
            print(shown(filtered(text, pattern), lines=True) or "(no line matches)")
            printed = True
    if not printed:
        print("no output recorded")


def filtered(text: str, pattern) -> str:
    """`text` without its last newline; only the lines `pattern` finds, when given."""
    text = text.rstrip("\n")
    if pattern is None:
        return text
    return "\n".join(line for line in text.splitlines() if pattern.search(line))


def streamed_logs(job_id: str, base: str) -> dict[str, str]:
    """{"stdout": path, "stderr": path} of a command job's streamed files that exist."""
    directory = job_log_dir(job_id, os.path.join(base, LOG_DIR))
    paths = {name: os.path.join(directory, name) for name in ("stdout", "stderr")}
    return {name: path for name, path in paths.items() if os.path.exists(path)}
