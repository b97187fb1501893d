"""pypipegraph 0.197's extension protocol on the Job base class (mixed into Job).

Invariant: nothing here decides scheduling. It adapts what libraries written for 0.197
override -- `_get_invariant`/`get_invariant` (with NothingChanged), `run()`,
`invalidated(reason)`, `cleanup()`, `inject_auto_invariants()` -- onto the engine's hooks: `compute(old) ->
(fingerprint, extra)` for invariants (the value kept in Record.extra as ("v197", value)),
`run_in_master()` for plain jobs.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import JobContractError, NothingChanged
from ..hashing import hash_value
from ..plumbing.modules import is_engine_module
from .values import stored_values


def output_exists(name: str, empty_ok: bool = False) -> bool:
    """0.197's test of an output: the file exists and, unless `empty_ok`, is not empty."""
    try:
        size = os.stat(name).st_size
    except OSError:
        return False
    return empty_ok or size > 0


def _is_v197(extra: Any) -> bool:
    return isinstance(extra, tuple) and len(extra) == 2 and extra[0] == "v197"


def check_nothing_returned(value: Any) -> None:
    """0.197: the `run()` of a job that does not generate jobs must not return a value."""
    try:
        returned = bool(value)
    except Exception:  # noqa: BLE001 - e.g. a DataFrame: something was returned
        returned = True
    if returned:
        raise JobContractError(
            "Job returned a value (which should be new jobs generated here) without having "
            f"modifies_jobgraph() returning True: run() returned {type(value).__name__}; only job "
            "generating jobs return something, any other job returns None from run()."
        )


class Protocol197:
    """The 0.197 methods every job has; see the module docstring."""

    __slots__ = ()  # Job's own slots (and its __dict__) are declared there

    was_cleaned_up = False  # set once cleanup() was called (after every direct dependant ran)
    do_cleanup_if_was_never_run = False  # call cleanup() after a run without failures if it did not run
    loads = False  # a loader (0.197's is_loadable()): runs in the master, never counts as executed
    # capability flags, computed once per class when it is defined (see __init_subclass__)
    has_cleanup = False  # defines a cleanup() of its own: the scheduler calls it
    overrides_invalidated = False  # a library's class with its own invalidated(): the rebuilder checks it

    def __init_subclass__(cls, **kwargs):
        """Compute the class's capability flags. A library's subclass that defines
        `_get_invariant`/`get_invariant` is an invariant (0.197's protocol): its value is
        computed in the master through `compute()`."""
        super().__init_subclass__(**kwargs)
        cls.has_cleanup = not getattr(cls.cleanup, "engine_cleanup", False)
        cls.overrides_invalidated = not is_engine_module(getattr(cls.invalidated, "__module__", None))
        if is_engine_module(cls.__module__):
            return
        overrides = "_get_invariant" in cls.__dict__ or "get_invariant" in cls.__dict__
        if overrides and not hasattr(cls, "run_in_worker"):  # output jobs keep running as such
            cls.is_invariant = True
            cls.runs_in = "master"
            cls.lazy = False
            cls.compute = Protocol197._compute_via_get_invariant

    def inject_auto_invariants(self) -> None:
        """0.197's hook, called on every job before the run (and on the jobs a generating
        job creates): add the implicit invariants (`auto_invariants()`, e.g. the job's own
        FunctionInvariant '<id>_func') through `depends_on`. A library's override replaces
        them with invariants of its own."""
        for invariant in self.auto_invariants():
            self.depends_on(invariant)

    @property
    def do_ignore_code_changes(self) -> bool:
        """0.197's flag behind `ignore_code_changes()`: no implicit FunctionInvariant."""
        return self._ignore_code_changes

    @do_ignore_code_changes.setter
    def do_ignore_code_changes(self, value: bool) -> None:
        self._ignore_code_changes = bool(value)

    def run_in_master(self) -> None:
        check_nothing_returned(self.run())

    def run(self) -> None:
        """A plain job's work (override in a subclass); the default does nothing."""

    def invalidated(self, reason: str = "") -> None:
        """0.197's hook, called in the master (by the rebuilder) on every job downstream of a
        new or changed invariant ("invariant", "preq invalidated <job>") and on jobs that are
        not done ("not done"); the engine's own classes only set `was_invalidated` there and
        remove a rerunning job's outputs in the worker."""
        self.was_invalidated = True

    def cleanup(self) -> None:
        """0.197's hook, called in the master (by the scheduler) once every direct dependant
        was executed successfully (temp files are removed by the engine). An override may
        return False to say it deleted nothing (workers forked earlier stay usable)."""

    cleanup.engine_cleanup = True  # the scheduler does not call this one

    def is_loadable(self) -> bool:
        """0.197's question: does the job load data into the master (a loader)?"""
        return self.loads

    def runs_in_worker(self) -> bool:
        """0.197's question: is the job run (as opposed to an invariant, only checked)?"""
        return not self.is_invariant

    def modifies_jobgraph(self) -> bool:
        """0.197's question: does the job create jobs while the graph runs?"""
        return self.generates_jobs

    def is_done(self, depth: int = 0) -> bool:
        """0.197's question: is nothing left to do for this job (see calc_is_done)?"""
        return self.calc_is_done(depth)

    def calc_is_done(self, depth: int = 0) -> bool:
        """As 0.197 answered it: output jobs when their outputs exist (non-empty unless
        empty_ok; a temp file also when no dependant needs it), loaders when their
        prerequisites are done, generating and final jobs once they ran, others always."""
        if self.is_invariant:
            return True
        if self.generates_jobs or self.is_final:
            return bool(self.was_run)
        if self.loads:
            return all(job.is_done(depth + 1) for job in self.prerequisites or ())
        if self.filenames:
            if all(output_exists(name, self.empty_ok) for name in self.filenames):
                return True
            return self.is_temp_job and all(job.loads or job.is_done(depth + 1) for job in self.dependants or ())
        return True

    def get_invariant(self, old: Any, all_invariant_stati: Any) -> Any:
        """0.197's invariant protocol: the value to store; raise NothingChanged(value) for
        "unchanged, but store this". `old` is the stored value, or False the first time."""
        return self._get_invariant(old, all_invariant_stati)

    def _get_invariant(self, old: Any, all_invariant_stati: Any) -> Any:
        return False

    def kept_texts(self) -> dict[int, str]:
        """Texts (by hash) an invariant wants the store to keep for explanations."""
        return {}

    def _compute_via_get_invariant(self, old) -> tuple[int, Any]:
        """Adapter from get_invariant() to the engine's `compute(old) -> (fingerprint, extra)`.

        The value lives in Record.extra as ("v197", value); an equal value, or
        NothingChanged, keeps the old fingerprint so that dependants do not rerun.
        """
        stored = old.extra[1] if old is not None and _is_v197(old.extra) else False
        try:
            value = self.get_invariant(stored, stored_values(self._graph))
            unchanged = old is not None and value == stored
        except NothingChanged as signal:
            value = signal.new_value
            unchanged = old is not None
        if unchanged:
            return old.fingerprint, ("v197", value)
        try:
            fingerprint = hash_value(value)
        except TypeError:
            fingerprint = hash_value(repr(value))
        return fingerprint, ("v197", value)
