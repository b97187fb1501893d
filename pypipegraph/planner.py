"""The rebuilder: is a job out of date, and why (in words)?

Invariant: a decision depends only on the job's record in the store, the current
fingerprints of its upstream jobs and the state of its output files. A job is out of
date when it never ran, an output is missing (or empty and not `empty_ok`) or was
changed outside the pipeline, the set of its upstream jobs changed, or an upstream
fingerprint differs from the one recorded when it last ran. Early cutoff follows:
an upstream job that reran and produced byte-identical output keeps its fingerprint,
so its dependants are not out of date. This module reads files' metadata but never
runs, writes or deletes anything.
"""

from __future__ import annotations

from .hashing import combine, file_stat, hash_file


class Decision:
    """The outcome of `decide`.

    reasons      why the job must run (empty: it is up to date)
    invalidated  True when an input changed (as opposed to a missing output / no record)
    fingerprint  the job's fingerprint if it does not run
    outputs      refreshed output state when only mtimes moved (to be stored), else None
    """

    __slots__ = ("reasons", "invalidated", "fingerprint", "outputs")

    def __init__(self, reasons, invalidated=False, fingerprint=None, outputs=None):
        self.reasons = reasons
        self.invalidated = invalidated
        self.fingerprint = fingerprint
        self.outputs = outputs


def input_fingerprints(job, fingerprints: dict) -> dict:
    """{upstream id: fingerprint} of a job's upstream jobs."""
    return {up.job_id: fingerprints[up] for up in job.prerequisites}


def lazy_fingerprint(job, fingerprints: dict) -> int:
    """A loader's or temp job's fingerprint: that of its inputs (it stores no output)."""
    return combine(sorted(input_fingerprints(job, fingerprints).items()))


def outputs_fingerprint(outputs) -> int:
    """A job's fingerprint from its (name, mtime, size, hash) output tuples."""
    if len(outputs) == 1:
        return outputs[0][3]
    return combine((name, digest) for name, _, _, digest in outputs)


def decide(job, record, fingerprints: dict, current_inputs: dict, last_outcome: str | None = None
           ) -> Decision:
    """Whether `job` (an output job) must run, given its stored `record`.

    `last_outcome` is "failed" or "killed" when the job's last run did not finish (a
    failure drops the record, so the job runs again).
    """
    if job.always_runs:
        return Decision([f"{type(job).__name__} runs on every run"])
    if record is None:
        if last_outcome == "killed":
            return Decision(["its last run was killed"])
        if last_outcome:
            return Decision(["its last run failed"])
        return Decision(["never ran (no record in the store)"])
    reasons = []
    outputs = record.outputs
    refreshed = None
    recorded_names = [entry[0] for entry in outputs]
    if recorded_names != list(job.output_names()):
        reasons.append("its declared outputs changed")
    else:
        for i, (name, mtime, size, digest) in enumerate(outputs):
            stat = file_stat(name)
            complaint = job.output_complaint(name, stat)
            if complaint:
                reasons.append(complaint)
                continue
            if stat[0] != mtime or stat[1] != size:
                new_digest = hash_file(name)
                if new_digest != digest:
                    reasons.append(f"output {name} was changed outside the pipeline")
                    continue
                if refreshed is None:
                    refreshed = list(outputs)
                refreshed[i] = (name, stat[0], stat[1], digest)
    invalidated = False
    if current_inputs != record.inputs:
        invalidated = True
        reasons.extend(input_changes(job, record.inputs, current_inputs))
    if reasons:
        return Decision(reasons, invalidated)
    return Decision([], False, record.fingerprint, tuple(refreshed) if refreshed else None)


def input_changes(job, old: dict, new: dict) -> list[str]:
    """Words for each difference between recorded and current input fingerprints."""
    by_id = {up.job_id: up for up in job.prerequisites}
    reasons = []
    for key, value in new.items():
        if key not in old:
            reasons.append(f"new input {key}")
        elif old[key] != value:
            reasons.append(by_id[key].change_description())
    for key in old:
        if key not in new:
            reasons.append(f"input {key} removed")
    return reasons
