"""Multi-step command jobs: which steps a rerun after a failure may skip.

Invariant: a step is skipped only when the state file says it finished under the same
command definition and the same upstream files (name, mtime, size), and every file the
step declared still has the content hash recorded when it finished. The state file
(`<cache_folder>/command_steps/<job>.json`) exists only between a failure and the next
success; a job that succeeds starts at its first step next time.
"""

from __future__ import annotations

import json
import os

from ..hashing import file_stat, hash_file, hash_value
from ..paths import job_log_dir
from ..plumbing.safe_files import write_file


def state_path(job) -> str:
    return job_log_dir(job.job_id, os.path.join(job._graph.cache_folder, "command_steps")) + ".json"


def upstream_files(job) -> list:
    """(name, (mtime_ns, size)) of every file of the job's prerequisites."""
    found = []
    for up in sorted(job.prerequisites, key=lambda j: j.job_id):
        for name in up.filenames:
            found.append((name, file_stat(name)))
    return found


def _identity(job) -> dict:
    return {"definition": f"{hash_value(repr(job.parameters)):016x}",
            "inputs": f"{hash_value(repr(upstream_files(job))):016x}"}


def _load(job) -> dict | None:
    try:
        with open(state_path(job)) as fh:
            state = json.load(fh)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def first_step(job) -> int:
    """The index of the first step to run: after the intact finished steps of the last run."""
    state = _load(job)
    if state is None or {k: state.get(k) for k in ("definition", "inputs")} != _identity(job):
        return 0
    start = 0
    for index, files in enumerate(state.get("done", [])):
        if index >= len(job.steps) - 1 or not all(_hash(name) == digest for name, digest in files):
            break
        start = index + 1
    return start


def finished(job, index: int) -> None:
    """Record that step `index` finished (with the hashes of its declared files)."""
    state = _load(job) if index else None
    if state is None or state.get("definition") is None:
        state = {**_identity(job), "done": []}
    done = state["done"][:index]
    done.append([[name, _hash(name)] for name in job.steps[index][2]])
    state["done"] = done
    path = state_path(job)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_file(path, json.dumps(state))


def kept_files(job) -> set[str]:
    """Files of finished steps: a failure later in the job leaves them in place."""
    state = _load(job)
    if state is None:
        return set()
    return {name for files in state.get("done", []) for name, _ in files}


def clear(job) -> None:
    try:
        os.unlink(state_path(job))
    except FileNotFoundError:
        pass


def _hash(name: str) -> str | None:
    try:
        return f"{hash_file(name):016x}"
    except OSError:
        return None
