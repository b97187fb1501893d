"""What the scheduler announces, and who listens.

Invariant: the scheduler reports every change of a job's fate through exactly one of
these events, in the order it happens, to its listeners in the order they were given.
A listener only observes: it never changes the scheduler's state (the console asks for
a stop through the scheduler's methods, not from inside an event). Events a listener
does not override cost nothing (the scheduler calls only overridden methods).

    class Printer(Listener):
        def on_job_finished(self, job, attempt):
            print(job.job_id, attempt.stop - attempt.start)
"""

from __future__ import annotations

from .usage import Usage


class Attempt:
    """One run of a job: when, where, with what output. `outcome` is "done", "failed" or
    "killed"; `reason` the words it ran for; `traceback` of a failure raised by the job;
    `usage` its resource use, host and user-set state (usage.Usage; None when unmeasured)."""

    __slots__ = ("start", "stop", "pid", "cores", "stdout", "stderr", "outcome", "reason", "traceback",
                 "measured")

    def __init__(self, start, stop, pid, cores, stdout="", stderr="", outcome="done", reason="",
                 traceback=None, usage=None):
        self.start = start
        self.stop = stop
        self.pid = pid
        self.cores = cores
        self.stdout = stdout
        self.stderr = stderr
        self.outcome = outcome
        self.reason = reason
        self.traceback = traceback
        self.measured = usage  # the Usage fields as the worker sent them (a plain tuple)

    @property
    def usage(self) -> Usage | None:
        """The run's resource use, host and user-set state; None when it was not measured."""
        return Usage(*self.measured) if self.measured is not None else None


class Failure:
    """Why a job failed: the exception, its traceback (None when it did not raise in user
    code), the error reason ("Exception", "Died: ...", a kill reason) and the Attempt when
    the job ran (None when it failed before running, e.g. an invariant's check). `stored`
    is False for an attempt the store keeps no row of (a job run in the master)."""

    __slots__ = ("exception", "traceback", "reason", "attempt", "stored")

    def __init__(self, exception, traceback, reason, attempt=None, stored=True):
        self.exception = exception
        self.traceback = traceback
        self.reason = reason
        self.attempt = attempt
        self.stored = stored


class Listener:
    """Override the events you need; the rest are never called."""

    def on_run_started(self, scheduler) -> None:
        """Before the first decision; `scheduler` answers progress() and running_jobs()."""

    def on_run_ended(self, scheduler, outcome: str) -> None:
        """After the last job; outcome "ok", "failed", "stopped" or "interrupted"."""

    def on_job_ready(self, job, reasons) -> None:
        """`job` must run, for `reasons` (words); it starts when its inputs and resources allow."""

    def on_job_started(self, job, cores: int) -> None:
        """`job` was handed to an executor (or runs in the master), holding `cores`."""

    def on_job_finished(self, job, attempt: Attempt) -> None:
        """`job` ran successfully."""

    def on_job_failed(self, job, failure: Failure) -> None:
        """`job` failed (raised, died, was killed, or could not start or be checked)."""

    def on_job_skipped(self, job) -> None:
        """`job` is up to date (or an invariant that was checked): it does not run."""

    def on_job_blocked(self, job, cause) -> None:
        """`job` will not run: upstream job `cause` failed."""

    def on_job_cleaned_up(self, job) -> None:
        """`job.cleanup()` ran in the master: every direct dependant of it ran (0.197's hook)."""

    def on_jobs_generated(self, generator, new_jobs: list) -> None:
        """`generator` created `new_jobs`, which join the run."""

    def on_tick(self) -> None:
        """The scheduler's loop woke up (a job finished, input arrived, or a tick passed)."""

    def has_pending(self) -> bool:
        """Whether this listener holds work that needs soon ticks (the store's batched
        commits): while any listener says so, the scheduler wakes up more often."""
        return False


EVENTS = tuple(name for name in vars(Listener) if name.startswith("on_")) + ("has_pending",)


def subscribers(listeners: list) -> dict:
    """{event name: [bound methods of the listeners that override it]}."""
    table: dict = {name: [] for name in EVENTS}
    for listener in listeners:
        for name in EVENTS:
            method = getattr(type(listener), name, None)
            if method is not None and method is not getattr(Listener, name):
                table[name].append(getattr(listener, name))
    return table
