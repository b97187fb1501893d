"""The engine's exceptions.

Every error the engine raises on its own account derives from `PyPipeGraphError`.
Misuse of the API at the call site raises the built-in `ValueError` / `TypeError`
instead, so that a wrong argument fails where it was written.
"""

from __future__ import annotations

import builtins


class PyPipeGraphError(Exception):
    """Base class of all pypipegraph errors."""


# Kept under the seed's spelling as well.
PyPipelineGraphError = PyPipeGraphError


class RuntimeError(PyPipeGraphError, builtins.RuntimeError):  # noqa: A001 - the seed's name
    """Raised by `run_pipegraph()` when at least one job failed.

    `.exceptions` lists the exceptions of the failed jobs; `.failed_jobs` the jobs.
    """

    def __init__(self, message: str, exceptions: list | None = None, failed_jobs: list | None = None):
        super().__init__(message)
        self.exceptions = list(exceptions or [])
        self.failed_jobs = list(failed_jobs or [])


class JobContractError(PyPipeGraphError):
    """A job broke its contract (did not create its output, returned a value, ...)."""


class CycleError(PyPipeGraphError):
    """The dependencies form a cycle; `.cycle` lists the job ids on it, in order."""

    def __init__(self, message: str, cycle: list[str] | None = None):
        super().__init__(message)
        self.cycle = list(cycle or [])


class JobDiedException(PyPipeGraphError):
    """The worker process running a job died (sys.exit, os._exit, a signal).

    `.exit_code` is the process exit code, or minus the signal number.
    """

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


class NothingChanged(PyPipeGraphError):
    """Signals that a job's result is the same as last time (kept for API compatibility)."""


class StoreError(PyPipeGraphError):
    """The status store cannot be read, written or locked."""


class StoreLocked(StoreError):
    """Another run holds the store's lock; `holder` is its pid when the lock file names one."""

    def __init__(self, message: str, holder: int | None = None):
        super().__init__(message)
        self.holder = holder


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped or aborted from the console; finished work is recorded."""
