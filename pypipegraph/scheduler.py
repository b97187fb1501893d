"""The master's loop: resolve jobs upstream-first, run what the rebuilder says must run.

Invariant: a job is decided only after every upstream job is resolved (checked,
skipped, or finished), so early cutoff needs no second pass. Lazy jobs (loaders, temp
files) resolve to the fingerprint of their inputs and run only when a dependant that
must run asks for them. A failed job fails only its downstream; everything independent
still runs. The scheduler only schedules: job states, the ready queue, cores, memory
and named resources, dispatch and failure propagation. Whether a job must run, its
fingerprint and its record belong to the Rebuilder it is given; processes belong to the
executor; everything else (the store's run rows, the run log, the console, the jobs'
outcome fields) listens to its events (events.py). It imports no hashing, store,
temp-file, log, console or report module.
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from operator import attrgetter

from .errors import JobDiedException, add_notes
from .events import Attempt, Failure, subscribers
from .plumbing.notices import warn
from .plumbing.termination import deferred, undeferred
from .resources import ResourceError

WAITING = 0  # upstream not resolved yet
IDLE = 1  # lazy job resolved, not (yet) asked to run
NEEDS_RUN = 2  # asked to run: blocked, runnable or running
SKIPPED = 3  # up to date
DONE = 4  # ran successfully
FAILED = 5

_prerequisites = attrgetter("prerequisites")

NEEDS_TOO_MUCH = "Needed to much memory/cores"  # error_reason, spelled as 0.197 spelled it
_TICK = 0.5  # seconds between wake-ups while jobs run and nothing happens
_BUSY_TICK = 0.1  # ... while a listener has work pending (the store's batched commits)


class _SilentConsole:
    """Stands in when nobody types commands (no input to watch)."""

    def inputs(self) -> list:
        return []
    def handle_input(self) -> None: ...
    def tick(self) -> None: ...


class Scheduler:
    """Runs one graph once. `run()` returns the failed jobs; after a stop or abort from
    the console, `stopping` (and `aborting`) is set and the caller says so.

    `rebuilder` decides and records (rebuilder.Rebuilder); `listeners` receive the
    events (events.Listener), in order; `console` is asked for input to watch and
    handles it (commands call request_stop, request_abort, kill_job)."""

    def __init__(self, jobs: list, rebuilder, budget, executor, in_master, ready, named,
                 listeners=(), console=None):
        self.console = console or _SilentConsole()
        self.stopping = False  # `stop`: start nothing new
        self.aborting = False  # `abort`: running jobs were killed
        self.user_killed: dict = {}  # job -> why the user killed it
        self.n_ran = 0
        self.started = time.time()
        self.jobs = jobs
        self.rebuilder = rebuilder
        self.budget = budget
        self.listeners = list(listeners)
        self._on = subscribers(self.listeners)
        # Per job, by its number in `jobs` (`index`): arrays, not dicts keyed by job, so
        # that a run's bookkeeping costs a few bytes per job (docs/performance.md).
        self.index = dict(zip(jobs, range(len(jobs)), strict=True))  # (built in C: one entry per job)
        self._states = bytearray(len(jobs))  # WAITING ...
        self.state = JobStates(self.index, self._states)  # read by the views
        self._pending = array("l", map(len, map(_prerequisites, jobs)))  # -1: not counted yet
        self.final_jobs = [job for job in jobs if job.is_final]
        for job in self.final_jobs:
            self._pending[self.index[job]] = 1  # released when everything else is done
        self._resolved = bytearray(len(jobs))  # 1: the job's fingerprint is known
        pending = self._pending
        self.decide_queue = deque(job for i, job in enumerate(jobs) if not pending[i])
        # an empty store knows no runtimes: no critical paths to compute (a cold run)
        self.runnable = ready
        self.named = named
        self.blocked: dict = {}  # job -> number of lazy prerequisites not yet run
        self.waiters: dict = {}  # lazy job -> jobs waiting for it to run
        self.generation_of: dict = {}  # job -> executor generation it needs / produced
        self.floor_generation = 0  # a generating job changed the master: later jobs need this
        self.temp_files = rebuilder.temp_files(self._is_settled, self._forget_temp)
        self.failed: list = []
        self._collected: list | tuple = ()  # results the executor returned that are not handled yet
        self.reasons: dict = {}  # job -> why it runs (words), from the rebuilder's decision
        self.cleanup_left: dict = {}  # job with a cleanup() -> dependants that may not have run yet
        self.executor = executor
        self.in_master = in_master

    def _emit(self, event: str, *args) -> None:
        for method in self._on[event]:
            method(*args)

    # --- the loop ------------------------------------------------------------

    def run(self) -> list:
        console = self.console
        outcome = "interrupted"
        self._emit("on_run_started", self)
        busy_tick = self._on["has_pending"]
        try:
            while True:
                self._drain_decisions()
                if not self.stopping:
                    with deferred():  # SIGTERM waits until the started jobs are counted
                        self._dispatch()
                if not self.executor.busy:
                    if self.stopping:
                        break
                    if self.decide_queue or self.runnable and self._startable():
                        continue
                    if self.final_jobs:
                        self._release_final_jobs()
                        continue
                    break
                timeout = _BUSY_TICK if any(pending() for pending in busy_tick) else _TICK
                with deferred():  # ... and the finished ones are handled
                    finished, typed = self.executor.wait(timeout, console.inputs())
                    self._collected = finished  # Ctrl-C before they are handled: see _abort
                    for handle, index, result in finished:
                        self._finished(self.jobs[index], result, handle.started)
                    self._collected = ()
                if typed:
                    console.handle_input()
                console.tick()
                self._emit("on_tick")
            self.temp_files.remove_all()
            outcome = "stopped" if self.stopping else ("failed" if self.failed else "ok")
            if outcome == "ok":
                self._cleanup_never_run()
        except BaseException:
            self._abort()
            raise
        finally:
            self.executor.shutdown()
            self._emit("on_run_ended", self, outcome)
        return self.failed

    # --- what the console asks -------------------------------------------------

    def progress(self) -> dict:
        """Counts for the status line, and an ETA from last runs' runtimes."""
        counts = [0] * 6
        for job, state in zip(self.jobs, self._states, strict=True):
            if not job.is_invariant:
                counts[state] += 1
        submitted = len(self.executor.busy)
        running, queued = self.executor.states()
        waiting = counts[NEEDS_RUN] - submitted + counts[WAITING]
        result = {"ran": self.n_ran, "running": running, **({"queued": queued} if queued is not None else {}),
                  "waiting": waiting, "failed": counts[FAILED], "up to date": counts[SKIPPED]}
        remaining = 0.0
        for job in self.runnable:
            remaining += self.rebuilder.last_runtime(job)
        if remaining:
            result["eta"] = remaining / self.budget.parallelism
        return result

    def running_jobs(self, hosts: bool = False) -> list[tuple]:
        """(job, started, cores, worker pid) of each running job; with `hosts`, (job,
        started, cores, pid, host) ('' = this machine). Jobs still queued on a cluster
        are not running (see queued_jobs()), nor are jobs that just finished there."""
        running = []
        for worker in self.executor.running():
            if worker.state != "running":
                continue
            job = self.jobs[worker.job_index]
            row = (job, worker.started, self.budget.held(job), worker.pid)
            running.append((*row, worker.host) if hosts else row)
        return running

    def queued_jobs(self) -> list:
        """Jobs handed to an executor that has not started them yet (a cluster's queue)."""
        return [self.jobs[worker.job_index] for worker in self.executor.running()
                if worker.state == "queued"]

    def request_stop(self) -> None:
        self.stopping = True

    def request_abort(self) -> None:
        self.stopping = self.aborting = True
        for job in [self.jobs[worker.job_index] for worker in self.executor.running()]:
            self.kill_job(job, "aborted from the console")

    def kill_job(self, job, why: str = "killed from the console") -> None:
        for worker in self.executor.running():
            if self.jobs[worker.job_index] is job:
                self.user_killed[job] = why
                self.executor.kill(worker)

    def _release(self, job) -> None:
        self.budget.release(job)
        self.named.release(job)

    def _startable(self) -> bool:
        states, index = self._states, self.index
        return any(states[index[job]] == NEEDS_RUN for job in self.runnable)

    def _abort(self) -> None:
        """Kill running jobs, remove their partial outputs; finished work stays recorded.

        Workers are reaped before outputs are removed, so none can write after the removal.
        """
        killed = [self.jobs[worker.job_index] for worker in self.executor.running()]
        self.executor.shutdown(kill=True)
        for job in killed:
            for problem in job.remove_partial_outputs():
                warn(f"{job.job_id}: {problem}")
            self._release(job)
        for _worker, index, result in self._collected:  # failed (a signal to the whole
            job = self.jobs[index]  # process group kills workers too), not yet handled
            if not result.ok and self._state(job) == NEEDS_RUN:
                for problem in job.remove_partial_outputs():
                    warn(f"{job.job_id}: {problem}")

    def _release_final_jobs(self) -> None:
        finals, self.final_jobs = self.final_jobs, []
        for job in finals:
            self._ready(job, ("final job: runs after everything else",))
            self._request(job)

    def _drain_decisions(self) -> None:
        """Decide every job in the queue. An up-to-date output job (most jobs of a rerun) is
        resolved here directly, as `_decide` would: the loop runs once per job of the graph."""
        queue = self.decide_queue
        check = self.rebuilder.check
        skipped = self._on["on_job_skipped"]
        while queue:
            job = queue.popleft()
            if job.lazy:
                self._decide(job)
                continue
            decision = check(job)
            if decision.reasons or decision.error is not None:
                self._act_on(job, decision)
                continue
            self._resolve(job, SKIPPED)
            for method in skipped:
                method(job)

    # --- decisions -----------------------------------------------------------

    def _decide(self, job) -> None:
        self._act_on(job, self.rebuilder.check(job))

    def _act_on(self, job, decision) -> None:
        if decision.error is not None:
            # 0.197 checked every invariant before running anything and let the error escape
            # run_pipegraph() as it was raised; here all invariants are checked before the
            # first job starts too (they have no upstream), and the run ends the same way.
            error = decision.error
            add_notes(error, [f"(raised while checking the invariant {job.job_id!r}; nothing was run "
                              "after it. Fix the input, or the invariant, and run again.)"])  # also on 3.10
            raise error
        if job.lazy:
            self._resolve(job, IDLE)
        elif not decision.reasons:
            self._resolve(job, SKIPPED)
            self._emit("on_job_skipped", job)
        else:
            self._ready(job, tuple(decision.reasons))
            self._request(job)

    def _ready(self, job, reasons: tuple) -> None:
        self.reasons[job] = reasons
        self._emit("on_job_ready", job, reasons)

    def _state(self, job) -> int:
        return self._states[self.index[job]]

    def _set_state(self, job, state: int) -> None:
        self._states[self.index[job]] = state

    def _state_of(self, job) -> int | None:
        """The job's state; None for a job not in this run (pruned)."""
        i = self.index.get(job)
        return None if i is None else self._states[i]

    def _is_resolved(self, job) -> bool:
        i = self.index.get(job)
        return i is not None and self._resolved[i] == 1

    def _resolve(self, job, state: int) -> None:
        index, states, pending = self.index, self._states, self._pending
        i = index[job]
        self._resolved[i] = 1
        states[i] = state
        for dependant in job.dependants:
            d = index.get(dependant)
            if d is None:
                continue
            count = pending[d]
            if count >= 0:
                count -= 1
                pending[d] = count
                if not count and states[d] == WAITING:
                    self.decide_queue.append(dependant)
        if state != IDLE and self.temp_files.users:  # (no temp files made yet: nothing to settle)
            self.temp_files.settled(job, False)

    def _request(self, root) -> None:
        """Mark `root` as needing to run; first ask its lazy prerequisites to run."""
        states, index = self._states, self.index
        states[index[root]] = NEEDS_RUN
        stack = [root]  # a job is marked NEEDS_RUN when pushed, so it is pushed only once
        while stack:
            job = stack.pop()
            blockers = 0
            for up in job.prerequisites:
                if not up.lazy:
                    continue
                up_state = states[index[up]]
                if up_state == IDLE and self.rebuilder.temp_reusable(up):
                    self._job_done(up)
                    up_state = DONE
                if up_state == DONE:
                    self._need_generation(job, self.generation_of.get(up, 0))
                    continue
                if up_state == FAILED:
                    self._fail_indirect(job, up)
                    blockers = -1
                    break
                blockers += 1
                self.waiters.setdefault(up, []).append(job)
                if up_state == IDLE:
                    self._ready(up, (f"needed by {job.job_id}",))
                    states[index[up]] = NEEDS_RUN
                    stack.append(up)
            if blockers > 0:
                self.blocked[job] = blockers
            elif blockers == 0:
                self.runnable.push(job)

    def _need_generation(self, job, generation: int) -> None:
        if generation > self.generation_of.get(job, 0):
            self.generation_of[job] = generation

    # --- running -------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start ready jobs in priority order while cores and named resources allow."""
        runnable = self.runnable
        skipped = []  # ready, but what they need is held now: they keep their place
        budget = self.budget
        named = self.named
        while runnable and len(skipped) < 64 and budget.free:
            entry = runnable.pop_entry()
            job = entry[-1]
            if self._state(job) != NEEDS_RUN:
                continue
            if job.runs_in == "master":
                self._run_in_master(job)
                continue
            try:
                fits = budget.try_acquire(job)
            except ResourceError as exc:  # it can never fit: it and its dependants fail, as in 0.197
                self._fail(job, Failure(exc, None, NEEDS_TOO_MUCH))
                continue
            if not fits:
                skipped.append(entry)
                continue
            if not named.try_acquire(job):
                budget.release(job)
                skipped.append(entry)
                continue
            generation = self.generation_of.get(job, 0)
            if self.executor.start(self.index[job], max(generation, self.floor_generation)) is None:
                self._release(job)
                skipped.append(entry)
                break
            self._emit("on_job_started", job, budget.held(job))
        runnable.restore(skipped)

    def _run_in_master(self, job) -> None:
        """Loaders and job-generating jobs run here, in the master, while nothing else starts."""
        self._emit("on_job_started", job, 0)
        generates = job.generates_jobs
        with undeferred():  # a long loader does not hold up SIGTERM
            result = self.in_master.run(job, capture=generates)
        reason = "; ".join(self.reasons.pop(job, ()))  # asked once: not kept
        if not result.ok:
            attempt = Attempt(result.start, result.stop, result.pid, 0, result.stdout, result.stderr, "failed",
                              reason, result.traceback)
            self._fail(job, Failure(result.value, result.traceback, "Exception", attempt, stored=generates))
            return
        self.n_ran += 1
        self._emit("on_job_finished", job, Attempt(result.start, result.stop, result.pid, 0, result.stdout,
                                                   result.stderr, reason=reason))
        generation = self.executor.bump_generation()
        if generates:
            self.floor_generation = generation  # what it changed is visible to every later job
            self._merge_generated(job, result.value, generation)
            return
        self.generation_of[job] = generation
        self._job_done(job)
        if not job.loads:  # 0.197: only an executed job cleans up its prerequisites
            self._cleanup_prerequisites(job)

    def _finished(self, job, result, started: float | None = None) -> None:
        """`job` came back from an executor that started it at `started` (master time)."""
        held = (started or result.start, time.time())
        cores = self.budget.held(job)
        self._release(job)
        reason = "; ".join(self.reasons.pop(job, ()))  # asked once: not kept
        if not result.ok:
            if not result.traceback and isinstance(result.value, BaseException):
                add_notes(result.value, job.remove_partial_outputs())
            elif not result.traceback:
                job.remove_partial_outputs()
            why = self.user_killed.pop(job, None)
            attempt = Attempt(result.start, result.stop, result.pid, cores, result.stdout, result.stderr,
                              "killed" if why else "failed", reason, result.traceback,
                              getattr(result, "usage", None))
            attempt.held = held
            if why is None and isinstance(result.value, JobDiedException):
                why = "Died: " + str(result.value)
            self._fail(job, Failure(result.value, result.traceback, why or "Exception", attempt))
            return
        self.n_ran += 1
        attempt = Attempt(result.start, result.stop, result.pid, cores, result.stdout, result.stderr, "done",
                          reason, None, getattr(result, "usage", None))  # usage: optional
        attempt.held = held
        self._emit("on_job_finished", job, attempt)
        self.rebuilder.record_run(job, result.value, result.start, result.stop)
        self._job_done(job)
        self._cleanup_prerequisites(job)

    def _job_done(self, job) -> None:
        if not job.lazy:
            self._resolve(job, DONE)
            return
        self._set_state(job, DONE)
        self.temp_files.made(job, self.index)
        generation = self.generation_of.get(job, 0)
        for waiter in self.waiters.pop(job, ()):
            if self._state(waiter) != NEEDS_RUN:
                continue
            self._need_generation(waiter, generation)
            left = self.blocked[waiter] - 1
            if left:
                self.blocked[waiter] = left
            else:
                del self.blocked[waiter]
                self.runnable.push(waiter)
        self.temp_files.settled(job, False)

    # --- jobs created while running ------------------------------------------

    def _merge_generated(self, generator, session, generation: int) -> None:
        """The jobs `generator` created (already in the graph) join the run; jobs it
        injected them into wait for them."""
        new_jobs = session.new_jobs
        for job in new_jobs:
            self.index[job] = len(self.jobs)
            self.jobs.append(job)
            self.generation_of[job] = generation
            self._states.append(WAITING)
            self._pending.append(-1)  # counted by _add_pending below
            self._resolved.append(0)
        self._emit("on_jobs_generated", generator, new_jobs)
        for job in new_jobs:
            self._add_pending(job, job.prerequisites)
        for downstream, upstream in session.injections:
            i = self.index.get(downstream)
            if i is not None and self._pending[i] >= 0:
                self._add_pending(downstream, [upstream], extra=True)
        self.rebuilder.record_generated(generator, new_jobs)
        self._resolve(generator, DONE)
        self._cleanup_prerequisites(generator)

    def _add_pending(self, job, upstream, extra: bool = False) -> None:
        if self._state(job) != WAITING:
            return
        failed = [up for up in upstream if self._state_of(up) == FAILED and not up.lazy]
        if failed:
            self._fail_indirect(job, failed[0])
            return
        count = sum(1 for up in upstream if not self._is_resolved(up))
        i = self.index[job]
        self._pending[i] = max(self._pending[i], 0) + count if extra else count
        if not extra and not count:
            self.decide_queue.append(job)

    # --- cleanup (0.197's hook) -------------------------------------------------

    def _cleanup_prerequisites(self, job) -> None:
        """`job` was executed: a prerequisite with a `cleanup()` (an AttributeLoadingJob
        deletes its attribute) is cleaned up in the master once every direct dependant of it
        in this run was executed successfully (0.197). A loader counts as never executed, so
        a loader feeding only loaders keeps its data for the run. A cleaned-up loader loads
        again if asked; workers forked after it loaded are not used again (they would still
        see its data)."""
        for up in job.prerequisites:
            if not up.has_cleanup and not _cleanup_set_on(up):
                continue
            left = self.cleanup_left.get(up)
            if left == -1:
                continue  # cleaned up already
            left = (left - 1) if left is not None else self._not_run(up)
            if left <= 0:
                left = self._not_run(up)  # dependants may have been injected meanwhile
            if left:
                self.cleanup_left[up] = left
                continue
            self.cleanup_left[up] = -1
            changed = up.cleanup()
            self._emit("on_job_cleaned_up", up)
            if up.lazy and self._state_of(up) == DONE:
                self._set_state(up, IDLE)
            forget = getattr(self.executor, "forget_state", None)
            if changed is not False and forget is not None:  # False: it deleted nothing
                forget(self.generation_of.get(up, 0))

    def _not_run(self, job) -> int:
        """Direct dependants of `job` in this run not executed (yet); loaders never are."""
        left = 0
        for dependant in job.dependants:
            here = self._state_of(dependant)  # None: not in this run (pruned)
            if here is not None and (here != DONE or dependant.loads):
                left += 1
        return left

    def _cleanup_never_run(self) -> None:
        """After a run without failures, a job with `do_cleanup_if_was_never_run` that did
        not run is cleaned up too (0.197: a temp job removes a stale file)."""
        for job, state in zip(self.jobs, self._states, strict=True):
            if job.do_cleanup_if_was_never_run and state != DONE:
                job.cleanup()

    # --- temporary files -------------------------------------------------------

    def _is_settled(self, job) -> bool:
        state = self._state(job)
        return state == DONE or state == FAILED or (state == SKIPPED and not job.lazy)

    def _forget_temp(self, job) -> None:
        self._set_state(job, IDLE)  # its files are gone: a later request makes them again

    # --- failures ------------------------------------------------------------

    def _fail(self, job, failure: Failure) -> None:
        self._set_state(job, FAILED)
        self.failed.append(job)
        self.rebuilder.record_failure(job)
        self._emit("on_job_failed", job, failure)
        self.temp_files.settled(job, True)
        self._fail_downstream(job)

    def _fail_indirect(self, job, cause) -> None:
        self._mark_indirect(job, cause)
        self._fail_downstream(job)

    def _fail_downstream(self, job) -> None:
        stack = [job]
        while stack:
            source = stack.pop()
            for dependant in source.dependants:
                state = self._state_of(dependant)
                # A lazy source resolved before it failed has released its WAITING
                # dependants already; they fail only if they ask for it (_request).
                if state == NEEDS_RUN or (state == WAITING and not self._is_resolved(source)):
                    self._mark_indirect(dependant, source)
                    stack.append(dependant)

    def _mark_indirect(self, job, cause) -> None:
        self._set_state(job, FAILED)
        self.blocked.pop(job, None)
        self._emit("on_job_blocked", job, cause)
        self.temp_files.settled(job, True)


def _cleanup_set_on(job) -> bool:
    """Whether a `cleanup` was set on the job itself (not its class's), without creating
    the job's `__dict__` to look."""
    method = job.cleanup
    return getattr(method, "__self__", None) is not job or method.__func__ is not type(job).cleanup


class JobStates:
    """A read-only view of a run's job states by job (`scheduler.state`): `get(job)`
    (None for a job not in the run), `state[job]`, `items()`."""

    __slots__ = ("_index", "_states")

    def __init__(self, index: dict, states: bytearray):
        self._index = index
        self._states = states

    def get(self, job, default=None):
        i = self._index.get(job)
        return default if i is None else self._states[i]

    def __getitem__(self, job) -> int:
        return self._states[self._index[job]]

    def __contains__(self, job) -> bool:
        return job in self._index

    def __len__(self) -> int:
        return len(self._index)

    def items(self):
        states = self._states
        return ((job, states[i]) for job, i in self._index.items())
