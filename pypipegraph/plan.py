"""Plan-only mode: what would run, and why, without running anything.

Invariant: planning reads the store (read-only) and input files, never writes the
store, never runs a job and never touches a file. A user's script is run up to its
`run_pipegraph()` call, which raises PlanComplete carrying the prepared graph.

Verdicts per job:
  run    it will run: a reason that does not depend on upstream results
  may    it runs only if an upstream job that will run produces different output
         (early cutoff decides at run time)
  ok     up to date
  lazy   a loader or temp job that runs only when a dependant runs (resolved to
         run/may/ok from its dependants)
"""

from __future__ import annotations

import os
import runpy
import sys

from . import state
from .rebuilder import UNKNOWN, Rebuilder, Verdict

__all__ = ["UNKNOWN", "PlanComplete", "ScriptError", "Verdict", "explain", "load_script"]


class PlanComplete(BaseException):
    """Raised by run_pipegraph() in plan mode: the script stops there."""

    def __init__(self, graph, jobs: list, cwd: str):
        super().__init__("plan complete")
        self.graph = graph
        self.jobs = jobs
        self.cwd = cwd


def load_script(script: str, args: list[str] | None = None) -> PlanComplete:
    """Run `script` up to its run_pipegraph() call; return the prepared graph.

    Raises ScriptError when the script fails or never calls run_pipegraph().
    """
    if not os.path.exists(script):
        raise ScriptError(f"no script {script}")
    saved_argv, saved_cwd, saved_path = sys.argv, os.getcwd(), list(sys.path)
    sys.argv = [script] + list(args or [])
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    state.plan_mode = True
    try:
        runpy.run_path(script, run_name="__main__")
    except PlanComplete as done:
        return done
    except SystemExit as exc:
        raise ScriptError(f"{script} exited (code {exc.code}) before calling run_pipegraph()") from None
    except Exception as exc:
        raise ScriptError(f"{script} raised {type(exc).__name__}: {exc}") from exc
    finally:
        state.plan_mode = False
        sys.argv = saved_argv
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
    raise ScriptError(f"{script} finished without calling run_pipegraph()")


class ScriptError(Exception):
    """The user's script could not be planned."""


def explain(jobs: list, reader) -> tuple[dict, dict]:
    """(verdicts, fingerprints) for `jobs` (in topological order), reading `reader`'s store.

    The run's Rebuilder over the store opened read-only; a fingerprint is UNKNOWN where
    it depends on a job that will (or may) run.
    """
    rebuilder = Rebuilder(reader, read_only=True)
    return rebuilder.explain(jobs), rebuilder.fingerprints
