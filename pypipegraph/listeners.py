"""The scheduler's standard listeners: the jobs' outcome fields, the store's run rows,
the run log and the console.

Invariant: each listener turns events into one concern's writes and nothing else; the
scheduler's behaviour does not depend on which of them are attached (a unit test runs
it with none). `standard_listeners` gives them in the order the run needs: outcome
fields first, so that the others see `job.exception`, `job.stdout`, ... already set.
"""

from __future__ import annotations

from .errors import PyPipeGraphError
from .events import Attempt, Failure, Listener
from .store.run_graph import snapshot_chunks


class OutcomeFields(Listener):
    """The one writer of what a user reads off a job after the run: run_reasons, was_run,
    was_loaded, failed, exception, error_reason, stdout, stderr, start_time, stop_time, was_cleaned_up."""

    def on_job_ready(self, job, reasons) -> None:
        job.run_reasons = tuple(reasons)

    def on_job_cleaned_up(self, job) -> None:
        job.was_cleaned_up = True

    def on_job_finished(self, job, attempt: Attempt) -> None:
        if job.loads:
            job.was_loaded = True  # as in 0.197, a loader's was_run stays False
        else:
            job.was_run = True
        _copy_attempt(job, attempt)

    def on_job_failed(self, job, failure: Failure) -> None:
        job.failed = True
        job.exception = failure.exception
        job.error_reason = failure.reason
        if failure.attempt is not None:
            _copy_attempt(job, failure.attempt)

    def on_job_blocked(self, job, cause) -> None:
        job.failed = True
        job.error_reason = "Indirect"
        job.exception = PyPipeGraphError(f"{job.job_id} did not run: upstream {cause.job_id} failed")


def _copy_attempt(job, attempt: Attempt) -> None:
    job.start_time, job.stop_time = attempt.held  # 0.197: around the whole job, in the master
    job.stdout, job.stderr = attempt.stdout, attempt.stderr


class StoreWriter(Listener):
    """Keeps the run and each job's run (outcome, reason, worker, output, resource use, host,
    exit status, user-set state) in the store."""

    def __init__(self, store):
        self.store = store
        self.scheduler = None

    def has_pending(self) -> bool:
        """Records wait for the next batched commit: the scheduler wakes up sooner."""
        return self.store.has_pending()

    def on_run_started(self, scheduler) -> None:
        self.scheduler = scheduler
        self.store.begin_run()

    def on_job_started(self, job, cores: int) -> None:
        """The run's graph is kept when its first job starts, so that `ppg status --rules` and
        `ppg report` know every job's rule during the run (a no-op rerun keeps none)."""
        if self.store.graph_jobs is None:
            keep_graph(self.store, self.scheduler)

    def on_run_ended(self, scheduler, outcome: str) -> None:
        self.store.end_run(outcome, scheduler.n_ran, len(scheduler.failed))

    def on_job_finished(self, job, a: Attempt) -> None:
        self.store.job_ran(job.job_id, a.start, a.stop, "done", a.reason, a.pid, a.cores,
                             a.stdout, a.stderr, None, a.measured, 0)

    def on_job_failed(self, job, failure: Failure) -> None:
        a = failure.attempt
        if a is None or not failure.stored:
            return
        self.store.job_ran(job.job_id, a.start, a.stop, a.outcome, a.reason, a.pid, a.cores,
                             a.stdout, a.stderr, a.traceback or str(failure.exception), a.measured,
                             exit_status(failure.exception))

    def on_tick(self) -> None:
        self.store.flush()


def keep_graph(store, scheduler) -> None:
    """Keep the run's job graph (and core count) in the store, for reports and `ppg status --rules`."""
    store.record_graph(lambda: snapshot_chunks(scheduler.jobs, scheduler.index), scheduler.budget.parallelism,
                       len(scheduler.jobs))


def exit_status(exception) -> int:
    """How a failed run ended, as a number: the exit code of the process that died or of
    the command that failed (negative: killed by that signal), else 1 (it raised)."""
    for name in ("exit_code", "returncode"):
        code = getattr(exception, name, None)
        if isinstance(code, int):
            return code
    return 1


class RunLogWriter(Listener):
    """Decisions, failures and generated jobs into logs/ppg_run.txt and logs/ppg_errors.txt."""

    def __init__(self, runlog):
        self.runlog = runlog

    def on_job_ready(self, job, reasons) -> None:
        self.runlog.decision(job.job_id, reasons)

    def on_job_finished(self, job, attempt: Attempt) -> None:
        self.runlog.finished(job.job_id, attempt.stop - attempt.start)

    def on_job_failed(self, job, failure: Failure) -> None:
        self.runlog.failure(job, failure.traceback)

    def on_job_blocked(self, job, cause) -> None:
        self.runlog.line(f"{job.job_id}: not run, upstream {cause.job_id} failed")

    def on_jobs_generated(self, generator, new_jobs: list) -> None:
        self.runlog.line(f"{generator.job_id}: generated {len(new_jobs)} job(s)")


class ConsoleView(Listener):
    """Starts and stops the console's status display (and terminal mode); the first failure
    of each rule and message shows at once, even when quiet. Hears events after the run's
    `progress.Progress`, whose counts and failure groups it shows."""

    def __init__(self, console, progress):
        self.console = console
        self.progress = progress

    def on_run_started(self, scheduler) -> None:
        self.console.start(scheduler, self.progress)

    def on_run_ended(self, scheduler, outcome: str) -> None:
        self.console.stop()

    def on_job_failed(self, job, failure: Failure) -> None:
        self.console.job_failed(job, self.progress.group_of[job])


def standard_listeners(store, runlog, console, progress, *views: Listener) -> list[Listener]:
    """The listeners of a normal run, in the order they must hear each event; `views`
    (say `ppg top`'s control.ControlServer) hear them last."""
    return [OutcomeFields(), progress, StoreWriter(store), RunLogWriter(runlog),
            ConsoleView(console, progress), *views]
