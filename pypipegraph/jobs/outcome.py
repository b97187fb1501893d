"""Outcome: what the last run did to a job (was_run, failed, stdout, ...), kept compact.

Invariant: reading an outcome field of a job the run did not touch gives its default
(`failed` False, `error_reason` "no error", `stdout` "", ...) and costs no memory; the
first field set gives the job one `Outcome` (about 100 bytes) under its `_outcome`
attribute, which every job has from its creation. Setting the fields as plain
attributes instead adds up to ten keys to each job's `__dict__`, which CPython then
stores unshared: 300 to 700 bytes more per job that ran.
"""

from __future__ import annotations

from typing import Any

DEFAULTS = {
    "failed": False,
    "exception": None,
    "error_reason": "no error",
    "was_run": False,
    "was_loaded": False,
    "stdout": "",
    "stderr": "",
    "start_time": None,
    "stop_time": None,
    "run_reasons": (),
}


class Outcome:
    """The outcome fields of one job (see DEFAULTS)."""

    __slots__ = tuple(DEFAULTS)

    def __init__(self) -> None:
        for name, value in DEFAULTS.items():
            setattr(self, name, value)

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in DEFAULTS}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)


class OutcomeField:
    """A job attribute stored in the job's Outcome; the default until set."""

    __slots__ = ("name", "default")

    def __init__(self, name: str):
        self.name = name
        self.default = DEFAULTS[name]

    def __get__(self, job, owner=None) -> Any:
        if job is None:
            return self.default  # `FileGeneratingJob.failed`, as a class default read
        outcome = getattr(job, "_outcome", None)  # unset only in a job whose __init__ failed
        return self.default if outcome is None else getattr(outcome, self.name)

    def __set__(self, job, value: Any) -> None:
        outcome = getattr(job, "_outcome", None)
        if outcome is None:
            outcome = job._outcome = Outcome()
        setattr(outcome, self.name, value)


class WasRun(OutcomeField):
    """`job.was_run`: set by the run for jobs that ran; an invariant counts as run once its
    graph ran, as in 0.197, which marked every invariant it checked as run."""

    def __get__(self, job, owner=None) -> Any:
        value = super().__get__(job, owner)
        if value or job is None or not job.is_invariant:
            return value
        graph = getattr(job, "_graph", None)
        return bool(graph is not None and graph.has_run)
