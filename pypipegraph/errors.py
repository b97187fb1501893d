"""The engine's exceptions.

Every error the engine raises on its own account derives from `PyPipeGraphError`,
which is a `ValueError` (as in pypipegraph 0.197, whose callers catch ValueError).
Misuse of the API at the call site raises the built-in `ValueError` / `TypeError`,
so that a wrong argument fails where it was written.
"""

from __future__ import annotations

import builtins


class PyPipeGraphError(ValueError):
    """Base class of all pypipegraph errors."""


# Kept under 0.197's spelling as well.
PyPipelineGraphError = PyPipeGraphError


class RuntimeError(PyPipeGraphError, builtins.RuntimeError):  # noqa: A001 - 0.197's name
    """Raised by `run_pipegraph()` when at least one job failed.

    `.exceptions` lists the exceptions of the failed jobs; `.failed_jobs` the jobs.
    """

    def __init__(self, message: str, exceptions: list | None = None, failed_jobs: list | None = None):
        super().__init__(message)
        self.exceptions = list(exceptions or [])
        self.failed_jobs = list(failed_jobs or [])


class RuntimeException(PyPipeGraphError):
    """An internal inconsistency of the engine (0.197's name; kept for code that catches it)."""


class CommunicationFailure(PyPipeGraphError):
    """Talking to a worker failed (0.197's name; kept for code that catches it)."""


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

    def __init__(self, message: str | int | None = None, exit_code: int | None = None):
        if isinstance(message, int) and exit_code is None:  # 0.197: JobDiedException(exit_code)
            message, exit_code = f"Exitcode was {message}", message
        super().__init__(message)
        self.exit_code = exit_code


class NothingChanged(Exception):
    """Raised by a custom invariant's `_get_invariant`: "unchanged, but store `new_value`".

    Dependants are not invalidated; the new value is what the next run compares with.
    """

    def __init__(self, new_value: object = None):
        super().__init__(new_value)
        self.new_value = new_value


class StoreError(PyPipeGraphError):
    """The status store cannot be read, written or locked."""


class StoreLocked(StoreError):
    """Another run holds the store's lock; `holder` is its pid when the lock file names one."""

    def __init__(self, message: str, holder: int | None = None):
        super().__init__(message)
        self.holder = holder


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped or aborted from the console; finished work is recorded."""


class RunTerminated(SystemExit):
    """The run was ended by SIGTERM or SIGHUP (a batch system's time limit, `kill`, a
    closed terminal) and cleaned up as after Ctrl-C; finished work is recorded.

    `.signal` is the signal's number; the exit status (`.code`) is 128 + it, as a shell
    reports a process ended by that signal: 143 for SIGTERM, 129 for SIGHUP.
    """

    def __init__(self, signum: int, message: str = ""):
        super().__init__(128 + signum)
        self.signal = signum
        self.message = message

    def __str__(self) -> str:
        return self.message or f"ended by signal {self.signal}"


def add_note(error: BaseException, note: str) -> None:
    """Attach `note` to `error` without changing its type or message.

    `BaseException.add_note` exists from Python 3.11 on; on 3.10 the note is kept in
    `__notes__` (where 3.11's traceback would show it). An exception that refuses both
    is left as it is: the note is never worth replacing the user's error.
    """
    try:
        adder = getattr(error, "add_note", None)
        if adder is not None:
            adder(note)
            return
        notes = getattr(error, "__notes__", None)
        error.__notes__ = [*(notes if isinstance(notes, list) else []), note]
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def add_notes(error: BaseException, notes: list[str]) -> None:
    """Attach each of `notes` (see add_note): they travel with a job's exception to the
    master and show in the failure's message (progress.failure_message)."""
    for note in notes:
        add_note(error, note)
