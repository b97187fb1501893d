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

import difflib
import os
import pickle
import runpy
import sys
from typing import NamedTuple

from . import util
from .hashing import function_source
from .history import Record
from .jobs.invariants import ParameterInvariant
from .planner import decide, lazy_fingerprint

UNKNOWN = object()


class PlanComplete(BaseException):
    """Raised by run_pipegraph() in plan mode: the script stops there."""

    def __init__(self, graph, jobs: list, cwd: str):
        super().__init__("plan complete")
        self.graph = graph
        self.jobs = jobs
        self.cwd = cwd


class Verdict(NamedTuple):
    job: object
    status: str
    reasons: list
    details: list


def load_script(script: str, args: list[str] | None = None) -> PlanComplete:
    """Run `script` up to its run_pipegraph() call; return the prepared graph.

    Raises ScriptError when the script fails or never calls run_pipegraph().
    """
    if not os.path.exists(script):
        raise ScriptError(f"no script {script}")
    saved_argv, saved_cwd, saved_path = sys.argv, os.getcwd(), list(sys.path)
    sys.argv = [script] + list(args or [])
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    util.plan_mode = True
    try:
        runpy.run_path(script, run_name="__main__")
    except PlanComplete as done:
        return done
    except SystemExit as exc:
        raise ScriptError(f"{script} exited (code {exc.code}) before calling run_pipegraph()") from None
    except Exception as exc:
        raise ScriptError(f"{script} raised {type(exc).__name__}: {exc}") from exc
    finally:
        util.plan_mode = False
        sys.argv = saved_argv
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
    raise ScriptError(f"{script} finished without calling run_pipegraph()")


class ScriptError(Exception):
    """The user's script could not be planned."""


def explain(jobs: list, reader) -> tuple[dict, dict]:
    """(verdicts, fingerprints) for `jobs` (in topological order), reading `reader`'s store.

    A fingerprint is UNKNOWN where it depends on a job that will (or may) run.
    """
    fingerprints: dict = {}
    verdicts: dict = {}
    changes: dict = {}  # invariant -> detail lines of how it changed
    for job in jobs:
        if job.is_invariant:
            _explain_invariant(job, reader, fingerprints, verdicts, changes)
        elif job.lazy:
            unknown = any(fingerprints[up] is UNKNOWN for up in job.prerequisites)
            fingerprints[job] = UNKNOWN if unknown else lazy_fingerprint(job, fingerprints)
            verdicts[job] = Verdict(job, "lazy", [], [])
        elif job.always_runs:
            fingerprints[job] = UNKNOWN
            verdicts[job] = Verdict(job, "run", [f"{type(job).__name__} runs on every run"], [])
        else:
            _explain_output_job(job, reader, fingerprints, verdicts, changes)
    _resolve_lazy(jobs, verdicts)
    return verdicts, fingerprints


def _explain_invariant(job, reader, fingerprints, verdicts, changes) -> None:
    old = reader.record(job.job_id)
    try:
        fingerprint, extra = job.compute(old)
    except Exception as exc:  # noqa: BLE001 - shown as the reason
        fingerprints[job] = UNKNOWN
        verdicts[job] = Verdict(job, "run", [f"cannot be checked: {type(exc).__name__}: {exc}"], [])
        return
    fingerprints[job] = fingerprint
    verdicts[job] = Verdict(job, "ok", [], [])
    if old is not None and old.fingerprint != fingerprint:
        changes[job] = describe_change(job, old, extra, reader)


def _explain_output_job(job, reader, fingerprints, verdicts, changes) -> None:
    record = reader.record(job.job_id)
    unknown = [up for up in job.prerequisites if fingerprints[up] is UNKNOWN]
    recorded = record.inputs if record is not None else {}
    inputs = {}
    for up in job.prerequisites:
        value = fingerprints[up]
        inputs[up.job_id] = recorded.get(up.job_id, value) if value is UNKNOWN else value
    decision = decide(job, record, fingerprints, inputs, reader.failures().get(job.job_id))
    if decision.reasons:
        details = []
        for up in job.prerequisites:
            if up in changes and record is not None and recorded.get(up.job_id) != fingerprints[up]:
                details.extend(changes[up])
        fingerprints[job] = UNKNOWN
        verdicts[job] = Verdict(job, "run", decision.reasons, details)
    elif unknown:
        fingerprints[job] = UNKNOWN
        reasons = [f"upstream {up.job_id} will run; reruns if its output changes" for up in unknown]
        verdicts[job] = Verdict(job, "may", reasons, [])
    else:
        fingerprints[job] = decision.fingerprint
        verdicts[job] = Verdict(job, "ok", [], [])


def _resolve_lazy(jobs: list, verdicts: dict) -> None:
    """A lazy job runs if a dependant runs, may run if one may."""
    rank = {"run": 2, "may": 1}
    for job in reversed(jobs):
        verdict = verdicts[job]
        if verdict.status != "lazy":
            continue
        best, needed_by = 0, None
        for dependant in job.dependants:
            other = verdicts.get(dependant)
            level = rank.get(other.status, 0) if other else 0
            if level > best:
                best, needed_by = level, dependant
        if best == 2:
            verdicts[job] = Verdict(job, "run", [f"needed by {needed_by.job_id}"], [])
        elif best == 1:
            verdicts[job] = Verdict(job, "may", [f"needed if {needed_by.job_id} runs"], [])
        else:
            verdicts[job] = Verdict(job, "ok", [], [])


def describe_change(job, old: Record, extra, reader) -> list[str]:
    """Lines showing how an invariant changed: a source diff, old/new parameters, file hashes."""
    kind = type(job).__name__
    if kind == "FunctionInvariant":
        before = reader.source(old.extra[1]) if old.extra and len(old.extra) > 1 else None
        after = function_source(job.function) if job.function is not None else None
        if before is None or after is None:
            return [f"{job.job_id}: byte code changed (no source to compare)"]
        if before == after:
            return [f"{job.job_id}: its source is unchanged; something it reads changed (a helper "
                    "function, a module-level constant, or an installed package's version)"]
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "now", lineterm="")
        return [f"{job.job_id}:"] + ["    " + line for line in diff]
    if isinstance(job, ParameterInvariant):  # and its kinds (CommandInvariant)
        before = _parameters_text(old.extra)
        return [f"{job.job_id}: {before}  ->  {repr(job.parameters)[:500]}"]
    if isinstance(old.extra, dict) and isinstance(extra, dict):
        lines = []
        for name, (_mtime, size, digest) in extra.items():
            previous = old.extra.get(name)
            if previous is None:
                lines.append(f"{name}: new file")
            elif previous[2] != digest:
                lines.append(f"{name}: content changed (size {previous[1]} -> {size}, "
                             f"hash {previous[2]:016x} -> {digest:016x})")
        return lines
    return [f"{job.job_id} changed"]


def _parameters_text(extra) -> str:
    if not extra:
        return "(unknown)"
    if extra[0] == "pickle":
        try:
            return repr(pickle.loads(extra[1]))[:500]
        except Exception:  # noqa: BLE001
            return "(unreadable)"
    return str(extra[1])[:500]
