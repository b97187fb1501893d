"""ppg report [--run N] [-o FILE]: the HTML report of the last run (or run N).

Invariant: read-only (StoreReader through report.write_report); the page is one
self-contained file that opens without network access.

    ppg report -o report.html
"""

from __future__ import annotations

from ..views.report import write_report
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "report", help="an HTML report of a run: timeline, critical path, jobs, graph, failures",
        description="Write one self-contained HTML file showing a run from the store: a timeline "
        "of the jobs that ran, its critical path, why each job ran, the job graph and failures.")
    parser.add_argument("--run", type=int, default=None, metavar="N",
                        help="the run id (see `ppg status --runs`; default: the last run)")
    parser.add_argument("-o", "--output", default="ppg_report.html",
                        help="the HTML file to write (default: ppg_report.html)")
    return parser


def run(args) -> int:
    try:
        output = write_report(args.store, args.output, args.run)
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {output}")
    return 0
