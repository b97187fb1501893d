"""The master's loop: resolve jobs upstream-first, run what is out of date.

Invariant: a job is decided only after every upstream job is resolved (its
fingerprint known: checked, skipped, or finished), so early cutoff needs no second
pass. Lazy jobs (loaders, temp files) resolve to the fingerprint of their inputs and
run only when a dependant that must run asks for them. A failed job fails only its
downstream; everything independent still runs. Each finished job is recorded in the
store at once. The scheduler never forks or talks to processes itself: the executor
does.
"""

from __future__ import annotations

import time
import traceback
from collections import deque

from .errors import PyPipeGraphError
from .executors.local import LocalExecutor
from .hashing import combine
from .history import Record
from .planner import decide, input_fingerprints, outputs_fingerprint
from .resources import ResourceError

WAITING = 0  # upstream not resolved yet
IDLE = 1  # lazy job resolved, not (yet) asked to run
NEEDS_RUN = 2  # asked to run: blocked, runnable or running
SKIPPED = 3  # up to date
DONE = 4  # ran successfully
FAILED = 5

_TICK = 0.5  # seconds between flushes of the store while jobs run


class Scheduler:
    """Runs one graph once. `run()` returns the failed jobs."""

    def __init__(self, graph, jobs: list, history, budget, runlog):
        self.graph = graph
        self.jobs = jobs
        self.history = history
        self.budget = budget
        self.runlog = runlog
        self.index = {job: i for i, job in enumerate(jobs)}
        self.state = dict.fromkeys(jobs, WAITING)
        self.pending = {job: len(job.prerequisites) for job in jobs}
        self.fp: dict = {}
        self.decide_queue = deque(job for job in jobs if not self.pending[job])
        self.runnable: deque = deque()
        self.blocked: dict = {}  # job -> number of lazy prerequisites not yet run
        self.waiters: dict = {}  # lazy job -> jobs waiting for it to run
        self.generation_of: dict = {}  # job -> executor generation it needs / produced
        self.failed: list = []
        self.tracebacks: dict = {}
        self.executor = LocalExecutor(jobs, budget.total)

    # --- the loop ------------------------------------------------------------

    def run(self) -> list:
        history = self.history
        try:
            while True:
                self._drain_decisions()
                self._dispatch()
                if not self.executor.busy:
                    if self.decide_queue:
                        continue
                    break
                timeout = history.COMMIT_INTERVAL / 2 if history.has_pending() else _TICK
                for _worker, index, result in self.executor.wait(timeout):
                    self._finished(self.jobs[index], result)
                history.flush()
        except BaseException:
            self._abort()
            raise
        finally:
            self.executor.shutdown()
        return self.failed

    def _abort(self) -> None:
        """Kill running jobs, remove their partial outputs; finished work stays recorded."""
        for worker in self.executor.running():
            self.executor.kill(worker)
            job = self.jobs[worker.job_index]
            job.remove_partial_outputs()
            self.budget.release(job)
        self.executor.shutdown(kill=True)

    def _drain_decisions(self) -> None:
        queue = self.decide_queue
        while queue:
            self._decide(queue.popleft())

    # --- decisions -----------------------------------------------------------

    def _decide(self, job) -> None:
        if job.is_invariant:
            self._check_invariant(job)
        elif job.lazy:
            self._resolve(job, combine(sorted(input_fingerprints(job, self.fp).items())), IDLE)
        else:
            record = self.history.get(job.job_id)
            inputs = input_fingerprints(job, self.fp)
            decision = decide(job, record, self.fp, inputs)
            if not decision.reasons:
                if decision.outputs is not None:
                    self.history.put(job.job_id, record._replace(outputs=decision.outputs))
                self._resolve(job, decision.fingerprint, SKIPPED)
                return
            job.run_reasons = tuple(decision.reasons)
            job.was_invalidated = decision.invalidated
            self.runlog.decision(job.job_id, decision.reasons)
            self._request(job)

    def _check_invariant(self, job) -> None:
        old = self.history.get(job.job_id)
        try:
            fingerprint, extra = job.compute(old)
        except Exception as exc:  # noqa: BLE001 - reported as the invariant's failure
            self._fail(job, exc, traceback.format_exc())
            return
        if old is None or old.fingerprint != fingerprint or old.extra != extra:
            self.history.put(job.job_id, Record({}, (), fingerprint, 0.0, time.time(), extra))
        self._resolve(job, fingerprint, SKIPPED)

    def _resolve(self, job, fingerprint: int, state: int) -> None:
        self.fp[job] = fingerprint
        self.state[job] = state
        pending = self.pending
        for dependant in job.dependants:
            count = pending.get(dependant)
            if count is not None:
                count -= 1
                pending[dependant] = count
                if not count and self.state[dependant] == WAITING:
                    self.decide_queue.append(dependant)

    def _request(self, root) -> None:
        """Mark `root` as needing to run; first ask its lazy prerequisites to run."""
        stack = [root]
        while stack:
            job = stack.pop()
            self.state[job] = NEEDS_RUN
            blockers = 0
            for up in job.prerequisites:
                if not up.lazy:
                    continue
                up_state = self.state[up]
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
                    up.run_reasons = (f"needed by {job.job_id}",)
                    self.runlog.decision(up.job_id, up.run_reasons)
                    stack.append(up)
            if blockers > 0:
                self.blocked[job] = blockers
            elif blockers == 0:
                self.runnable.append(job)

    def _need_generation(self, job, generation: int) -> None:
        if generation > self.generation_of.get(job, 0):
            self.generation_of[job] = generation

    # --- running -------------------------------------------------------------

    def _dispatch(self) -> None:
        runnable = self.runnable
        skipped = deque()
        scanned = 0
        while runnable and scanned < 64:
            job = runnable.popleft()
            if self.state[job] != NEEDS_RUN:
                continue
            if job.runs_in == "master":
                self._run_in_master(job)
                continue
            try:
                fits = self.budget.try_acquire(job)
            except ResourceError as exc:
                self._fail(job, exc, None, reason=str(exc))
                continue
            if not fits:
                skipped.append(job)
                scanned += 1
                continue
            if self.executor.start(self.index[job], self.generation_of.get(job, 0)) is None:
                self.budget.release(job)
                skipped.append(job)
                break
        runnable.extendleft(reversed(skipped))

    def _run_in_master(self, job) -> None:
        job.start_time = time.time()
        try:
            job.run_in_master()
        except Exception as exc:  # noqa: BLE001
            job.stop_time = time.time()
            self._fail(job, exc, traceback.format_exc())
            return
        job.stop_time = time.time()
        job.was_run = True
        self.generation_of[job] = self.executor.bump_generation()
        self._job_done(job, self.fp[job])

    def _finished(self, job, result) -> None:
        self.budget.release(job)
        job.stdout, job.stderr = result.stdout, result.stderr
        job.start_time, job.stop_time = result.start, result.stop
        if not result.ok:
            if not result.traceback:
                job.remove_partial_outputs()
            self._fail(job, result.value, result.traceback)
            return
        job.was_run = True
        if job.lazy:
            self._job_done(job, self.fp[job])
            return
        outputs = tuple(result.value)
        fingerprint = outputs_fingerprint(outputs) if outputs else combine([job.job_id])
        old = self.history.get(job.job_id)
        if old is not None and old.fingerprint == fingerprint and job.run_reasons:
            self.runlog.line(f"{job.job_id}: output unchanged, dependants not invalidated")
        self.history.put(
            job.job_id,
            Record(input_fingerprints(job, self.fp), outputs, fingerprint,
                   result.stop - result.start, result.stop),
        )
        self._job_done(job, fingerprint)

    def _job_done(self, job, fingerprint: int) -> None:
        if job.lazy:
            self.state[job] = DONE
            generation = self.generation_of.get(job, 0)
            for waiter in self.waiters.pop(job, ()):
                if self.state[waiter] != NEEDS_RUN:
                    continue
                self._need_generation(waiter, generation)
                left = self.blocked[waiter] - 1
                if left:
                    self.blocked[waiter] = left
                else:
                    del self.blocked[waiter]
                    self.runnable.append(waiter)
        else:
            self._resolve(job, fingerprint, DONE)

    # --- failures ------------------------------------------------------------

    def _fail(self, job, exc, tb, reason: str = "Exception") -> None:
        job.failed = True
        job.exception = exc
        job.error_reason = reason
        self.state[job] = FAILED
        self.failed.append(job)
        self.tracebacks[job] = tb
        if not job.is_invariant and not job.lazy:
            self.history.delete(job.job_id)
        self.runlog.failure(job, tb)
        self._fail_downstream(job)

    def _fail_indirect(self, job, cause) -> None:
        self._mark_indirect(job, cause)
        self._fail_downstream(job)

    def _fail_downstream(self, job) -> None:
        stack = [job]
        while stack:
            source = stack.pop()
            for dependant in source.dependants:
                state = self.state.get(dependant)
                if state == NEEDS_RUN or (state == WAITING and not source.lazy):
                    self._mark_indirect(dependant, source)
                    stack.append(dependant)

    def _mark_indirect(self, job, cause) -> None:
        job.failed = True
        job.error_reason = "Indirect"
        job.exception = PyPipeGraphError(f"{job.job_id} did not run: upstream {cause.job_id} failed")
        self.state[job] = FAILED
        self.blocked.pop(job, None)
        self.runlog.line(f"{job.job_id}: not run, upstream {cause.job_id} failed")
