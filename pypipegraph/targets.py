"""Running part of a pipeline: the jobs some targets need, and nothing else.

Invariant: a run with targets runs (and checks) exactly the targets and everything they
depend on, transitively; every other job is left as it is: not checked, not run, not
invalidated, its record untouched. A target is a job id, an output file's name or a glob
pattern (`fnmatch`: `*` matches `/` too) over both; a target that matches no job is an
error before any job runs. Targets come from `run_pipegraph(targets=[...])`, else from
$PYPIPEGRAPH_TARGETS (shell words: `'out/s001*' out/summary.txt`), which `ppg run`
sets.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import shlex

from .errors import PyPipeGraphError
from .paths import normalize_path

TARGETS_ENV = "PYPIPEGRAPH_TARGETS"
_GLOB = frozenset("*?[")


def wanted(targets) -> list[str] | None:
    """The targets of a run: `targets` as given (one str or several), else the shell words
    of $PYPIPEGRAPH_TARGETS, else None (the whole pipeline)."""
    if targets is None:
        text = os.environ.get(TARGETS_ENV, "").strip()
        if not text:
            return None
        try:
            return shlex.split(text)
        except ValueError as exc:
            raise PyPipeGraphError(f"${TARGETS_ENV} is not a list of shell words ({exc}): {text!r}") from None
    if isinstance(targets, (str, os.PathLike)):
        targets = [targets]
    chosen = [os.fspath(target) for target in targets]
    if not chosen or not all(isinstance(target, str) and target.strip() for target in chosen):
        raise PyPipeGraphError(f"targets must be job ids, output files or glob patterns (non-empty str); "
                               f"got {targets!r}")
    return chosen


def select(jobs: list, outputs: dict, targets: list[str]) -> list:
    """The jobs (of `jobs`, in their order) that `targets` name, and every job they depend
    on. `outputs` maps output file names to the job writing them. Raises
    PyPipeGraphError naming each target that matches no job."""
    active = set(jobs)
    by_id = {job.job_id: job for job in jobs}
    named: list = []
    unknown: list[str] = []
    for target in targets:
        found = _matches(target, by_id, outputs, jobs)
        found = [job for job in found if job in active]
        if found:
            named.extend(found)
        else:
            unknown.append(target)
    if unknown:
        raise PyPipeGraphError(_unknown_message(unknown, jobs))
    needed: set = set()
    stack = named
    while stack:
        job = stack.pop()
        if job in needed:
            continue
        needed.add(job)
        stack.extend(up for up in job.prerequisites if up not in needed)
    return [job for job in jobs if job in needed]


def _matches(target: str, by_id: dict, outputs: dict, jobs: list) -> list:
    exact = by_id.get(target) or outputs.get(target)
    if exact is None:
        name = normalize_path(target)
        exact = by_id.get(name) or outputs.get(name)
    if exact is not None:
        return [exact]
    if not _GLOB.intersection(target):
        return []
    pattern = normalize_path(target) if target.startswith("/") else target
    found = [job for job in jobs if not job.is_invariant and fnmatch.fnmatchcase(job.job_id, pattern)]
    seen = set(found)
    for name, job in outputs.items():
        if job not in seen and fnmatch.fnmatchcase(name, pattern):
            seen.add(job)
            found.append(job)
    return found


def _unknown_message(unknown: list[str], jobs: list) -> str:
    ids = [job.job_id for job in jobs if not job.is_invariant]
    hints = []
    for target in unknown[:3]:
        close = difflib.get_close_matches(target, ids, n=3, cutoff=0.6)
        if close:
            hints.append(f"{target!r}: did you mean {', '.join(close)}?")
    names = ", ".join(repr(target) for target in unknown)
    return (f"targets: no job or output file matches {names} (a target is a job id, an output file "
            "or a glob pattern such as 'out/s001*'; jobs made by job-generating jobs are not known "
            "before those run). Nothing ran." + (" " + " ".join(hints) if hints else ""))


def summary(targets: list[str], needed: int, total: int) -> str:
    """The run log's line about a run with targets."""
    return (f"targets {' '.join(shlex.quote(t) for t in targets)}: {needed} of {total} jobs needed; "
            f"the other {total - needed} not needed in this run (not checked, not run, records kept)")
