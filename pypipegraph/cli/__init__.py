"""The `ppg` command (also `python -m pypipegraph`): read the store and logs, plan runs.

Invariant: one module per subcommand, each with `add_parser(subparsers)` and
`run(args) -> int`. Commands that read the store never lock it; commands that change
it take the run lock, so they refuse while a pipeline runs. Errors are one clear line
on stderr and a non-zero exit code.

    ppg status --state failed 'out/*'
    ppg why pipeline.py
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import PyPipeGraphError
from ..plumbing.safe_files import TEXT_ERRORS
from ..store import DEFAULT_PATH

COMMANDS = ["status", "why", "log", "history", "forget", "accept", "graph", "report", "top"]


class CommandError(Exception):
    """A user-facing failure of a command: printed as one line, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppg", description="Inspect and plan pypipegraph runs in the current directory."
    )
    parser.add_argument("--store", default=DEFAULT_PATH,
                        help=f"the status store (default: {DEFAULT_PATH})")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        sub = module.add_parser(subparsers)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # names that are not UTF-8 print as \xNN
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=TEXT_ERRORS)
    try:
        return args.handler(args) or 0
    except (CommandError, PyPipeGraphError) as exc:
        print(f"ppg {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ppg status | head`
        return 0
