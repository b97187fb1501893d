"""`ppg run [SCRIPT] [TARGET ...]`: run the pipeline script, or only the part of it some
targets need, without editing the script.

The script runs as `python SCRIPT ARGS` would (this process becomes it: the terminal,
the console and Ctrl-C are the script's), with $PYPIPEGRAPH_TARGETS set to the targets;
its `run_pipegraph()` then checks and runs only those jobs and what they depend on
(targets.py). A target that matches no job stops the script before any job runs.
SCRIPT defaults to pipeline.py.
"""

from __future__ import annotations

import os
import shlex
import sys

from ..targets import TARGETS_ENV
from .why import add_script_arguments, script_argument


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "run", help="run the pipeline, or only what some targets need",
        description="Run the pipeline script; with targets (job ids, output files or glob "
        "patterns), only those jobs and what they depend on run, the rest is left as it is.")
    add_script_arguments(parser, "job ids, output files or glob patterns (quote them: 'out/s001*')")
    return parser


def run(args) -> int:
    script = script_argument(args)
    environment = dict(os.environ)
    if args.patterns:
        environment[TARGETS_ENV] = shlex.join(args.patterns)
    else:
        environment.pop(TARGETS_ENV, None)  # the whole pipeline
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, script, *args.args], environment)
    return 0  # not reached
