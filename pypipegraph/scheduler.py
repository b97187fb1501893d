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

import os
import time
from collections import deque

from .errors import JobDiedException, PyPipeGraphError, RunInterrupted
from .hashing import combine
from .history import Record
from .ordering import topological_order
from .planner import decide, input_fingerprints, lazy_fingerprint, outputs_fingerprint
from .priorities import ReadyQueue
from .resources import NamedResources, ResourceError
from .temp_files import TempFiles
from .util import user_traceback

WAITING = 0  # upstream not resolved yet
IDLE = 1  # lazy job resolved, not (yet) asked to run
NEEDS_RUN = 2  # asked to run: blocked, runnable or running
SKIPPED = 3  # up to date
DONE = 4  # ran successfully
FAILED = 5

_TICK = 0.5  # seconds between flushes of the store while jobs run


class _SilentConsole:
    """Stands in when nobody watches (no status line, no commands)."""

    def start(self, scheduler) -> None: ...
    def stop(self) -> None: ...
    def inputs(self) -> list:
        return []
    def handle_input(self) -> None: ...
    def tick(self) -> None: ...
    def job_failed(self, job) -> None: ...


class Scheduler:
    """Runs one graph once. `run()` returns the failed jobs."""

    def __init__(self, graph, jobs: list, history, budget, runlog, console=None, executor=None):
        self.graph = graph
        self.console = console or _SilentConsole()
        self.stopping = False  # `stop`: start nothing new
        self.aborting = False  # `abort`: running jobs were killed
        self.user_killed: dict = {}  # job -> why the user killed it
        self.n_ran = 0
        self.started = time.time()
        self.jobs = jobs
        self.history = history
        self.budget = budget
        self.runlog = runlog
        self.index = {job: i for i, job in enumerate(jobs)}
        self.state = dict.fromkeys(jobs, WAITING)
        self.pending = {job: len(job.prerequisites) for job in jobs}
        self.final_jobs = [job for job in jobs if job.is_final]
        for job in self.final_jobs:
            self.pending[job] = 1  # released when everything else is done
        self.fp: dict = {}
        self.decide_queue = deque(job for job in jobs if not self.pending[job])
        # an empty store knows no runtimes: no critical paths to compute (a cold run)
        self.runnable = ReadyQueue(history, graph.critical_path and history.record_count() > 0)
        self.named = NamedResources(graph.resources)
        self.blocked: dict = {}  # job -> number of lazy prerequisites not yet run
        self.waiters: dict = {}  # lazy job -> jobs waiting for it to run
        self.generation_of: dict = {}  # job -> executor generation it needs / produced
        self.temp_files = TempFiles(history, runlog, self._is_settled, self._forget_temp)
        self.failed: list = []
        self.executor = executor if executor is not None else graph.rc.executor(jobs, budget)

    # --- the loop ------------------------------------------------------------

    def run(self) -> list:
        history = self.history
        console = self.console
        history.begin_run()
        outcome = "interrupted"
        console.start(self)
        try:
            while True:
                self._drain_decisions()
                if not self.stopping:
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
                timeout = history.COMMIT_INTERVAL / 2 if history.has_pending() else _TICK
                finished, typed = self.executor.wait(timeout, console.inputs())
                for _worker, index, result in finished:
                    self._finished(self.jobs[index], result)
                if typed:
                    console.handle_input()
                console.tick()
                history.flush()
            self.temp_files.remove_all()
            outcome = "stopped" if self.stopping else ("failed" if self.failed else "ok")
        except BaseException:
            self._abort()
            raise
        finally:
            self.executor.shutdown()
            console.stop()
            history.end_run(outcome, self.n_ran, len(self.failed))
        if self.stopping:
            failed = [job for job in self.failed if job.error_reason != "Indirect"]
            raise RunInterrupted(
                "The run was " + ("aborted" if self.aborting else "stopped")
                + f" from the console after {self.n_ran} job(s) ran; finished jobs are recorded, "
                "the rest run next time."
                + (f" {len(failed)} job(s) failed or were killed ({', '.join(j.job_id for j in failed[:5])}"
                   + (", ..." if len(failed) > 5 else "") + "): see logs/ppg_errors.txt." if failed else "")
            )
        return self.failed

    # --- what the console asks -------------------------------------------------

    def progress(self) -> dict:
        """Counts for the status line, and an ETA from last runs' runtimes."""
        counts = [0] * 6
        for job, state in self.state.items():
            if not job.is_invariant:
                counts[state] += 1
        running = len(self.executor.busy)
        waiting = counts[NEEDS_RUN] - running + counts[WAITING]
        result = {"ran": self.n_ran, "running": running, "waiting": waiting,
                  "failed": counts[FAILED], "up to date": counts[SKIPPED]}
        remaining = 0.0
        for job in self.runnable:
            record = self.history.get(job.job_id)
            if record is not None:
                remaining += record.runtime
        if remaining:
            result["eta"] = remaining / self.budget.parallelism
        return result

    def running_jobs(self) -> list[tuple]:
        """(job, started, cores, worker pid) of each running job."""
        running = []
        for worker in self.executor.running():
            job = self.jobs[worker.job_index]
            held = self.budget.held(job)
            running.append((job, worker.started, held, worker.pid))
        return running

    def request_stop(self) -> None:
        self.stopping = True

    def request_abort(self) -> None:
        self.stopping = self.aborting = True
        for job, _, _, _ in self.running_jobs():
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
        return any(self.state[job] == NEEDS_RUN for job in self.runnable)

    def _abort(self) -> None:
        """Kill running jobs, remove their partial outputs; finished work stays recorded.

        Workers are reaped before outputs are removed, so none can write after the removal.
        """
        killed = [self.jobs[worker.job_index] for worker in self.executor.running()]
        self.executor.shutdown(kill=True)
        for job in killed:
            job.remove_partial_outputs()
            self._release(job)

    def _release_final_jobs(self) -> None:
        finals, self.final_jobs = self.final_jobs, []
        for job in finals:
            job.run_reasons = ("final job: runs after everything else",)
            self._request(job)

    def _drain_decisions(self) -> None:
        queue = self.decide_queue
        while queue:
            self._decide(queue.popleft())

    # --- decisions -----------------------------------------------------------

    def _decide(self, job) -> None:
        if job.is_invariant:
            self._check_invariant(job)
        elif job.lazy:
            self._resolve(job, lazy_fingerprint(job, self.fp), IDLE)
        else:
            record = self.history.get(job.job_id)
            inputs = input_fingerprints(job, self.fp)
            decision = decide(job, record, self.fp, inputs,
                              self.history.failures.get(job.job_id) if record is None else None)
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
            self._fail(job, exc, user_traceback(exc))
            return
        if old is None or old.fingerprint != fingerprint or old.extra != extra:
            self.history.put(job.job_id, Record({}, (), fingerprint, 0.0, time.time(), extra))
            for digest, text in job.kept_texts().items():
                self.history.store_source(digest, text)
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
        if state != IDLE:
            self.temp_files.settled(job, False)

    def _request(self, root) -> None:
        """Mark `root` as needing to run; first ask its lazy prerequisites to run."""
        self.state[root] = NEEDS_RUN
        stack = [root]  # a job is marked NEEDS_RUN when pushed, so it is pushed only once
        while stack:
            job = stack.pop()
            blockers = 0
            for up in job.prerequisites:
                if not up.lazy:
                    continue
                up_state = self.state[up]
                if up_state == IDLE and self.temp_files.reusable(up, self.fp):
                    self._job_done(up, self.fp[up])
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
                    up.run_reasons = (f"needed by {job.job_id}",)
                    self.runlog.decision(up.job_id, up.run_reasons)
                    self.state[up] = NEEDS_RUN
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
            if self.state[job] != NEEDS_RUN:
                continue
            if job.runs_in == "master":
                self._run_in_master(job)
                continue
            try:
                fits = budget.try_acquire(job)
            except ResourceError as exc:
                self._fail(job, exc, None, reason=str(exc))
                continue
            if not fits:
                skipped.append(entry)
                continue
            if not named.try_acquire(job):
                budget.release(job)
                skipped.append(entry)
                continue
            if self.executor.start(self.index[job], self.generation_of.get(job, 0)) is None:
                self._release(job)
                skipped.append(entry)
                break
        runnable.restore(skipped)

    def _run_in_master(self, job) -> None:
        job.start_time = time.time()
        try:
            job.run_in_master()
        except Exception as exc:  # noqa: BLE001
            job.stop_time = time.time()
            self._fail(job, exc, user_traceback(exc))
            return
        job.stop_time = time.time()
        job.was_run = True
        self.n_ran += 1
        self.history.job_ran(job.job_id, job.start_time, job.stop_time, "done",
                             "; ".join(job.run_reasons), os.getpid(), 0)
        self.generation_of[job] = self.executor.bump_generation()
        self._job_done(job, self.fp[job])

    def _finished(self, job, result) -> None:
        cores = self.budget.held(job)
        self._release(job)
        job.stdout, job.stderr = result.stdout, result.stderr
        job.start_time, job.stop_time = result.start, result.stop
        reason = "; ".join(job.run_reasons)
        if not result.ok:
            if not result.traceback:
                job.remove_partial_outputs()
            why = self.user_killed.pop(job, None)
            self.history.job_ran(job.job_id, result.start, result.stop, "killed" if why else "failed",
                                 reason, result.pid, cores, result.stdout, result.stderr,
                                 result.traceback or str(result.value))
            if why is None and isinstance(result.value, JobDiedException):
                why = "Died: " + str(result.value)
            self._fail(job, result.value, result.traceback, reason=why or "Exception")
            return
        job.was_run = True
        self.n_ran += 1
        self.history.job_ran(job.job_id, result.start, result.stop, "done", reason, result.pid,
                             cores, result.stdout, result.stderr)
        if job.generates_jobs:
            self._merge_generated(job, result.value)
            return
        outputs = tuple(result.value)
        if job.lazy:
            fingerprint = self.fp[job]
        else:
            fingerprint = outputs_fingerprint(outputs) if outputs else combine([job.job_id])
            old = self.history.get(job.job_id)
            if old is not None and old.fingerprint == fingerprint and not job.always_runs:
                self.runlog.line(f"{job.job_id}: output unchanged, dependants not invalidated")
        self.history.put(
            job.job_id,
            Record(input_fingerprints(job, self.fp), outputs, fingerprint,
                   result.stop - result.start, result.stop),
        )
        self._job_done(job, fingerprint)

    def _job_done(self, job, fingerprint: int) -> None:
        if not job.lazy:
            self._resolve(job, fingerprint, DONE)
            return
        self.state[job] = DONE
        self.temp_files.made(job, self.state)
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
                self.runnable.push(waiter)
        self.temp_files.settled(job, False)

    # --- jobs created while running ------------------------------------------

    def _merge_generated(self, generator, payload: bytes) -> None:
        try:
            new_jobs, injections = self.graph.merge_generated(generator, payload)
            topological_order(new_jobs)
        except Exception as exc:  # noqa: BLE001 - conflicts, cycles, unpicklable jobs
            self._fail(generator, exc, user_traceback(exc))
            return
        generation = self.executor.bump_generation() if new_jobs else 0
        for dependant in generator.dependants:  # forked from a master that has the new jobs
            self._need_generation(dependant, generation)
        for job in new_jobs:
            self.index[job] = len(self.jobs)
            self.jobs.append(job)
            self.generation_of[job] = generation
            self.state[job] = WAITING
        self.runlog.line(f"{generator.job_id}: generated {len(new_jobs)} job(s)")
        for job in new_jobs:
            self._add_pending(job, job.prerequisites)
        for downstream, upstream in injections:
            if downstream in self.pending:
                self._add_pending(downstream, [upstream], extra=True)
        self._resolve(generator, generator.fingerprint_of(new_jobs), DONE)

    def _add_pending(self, job, upstream, extra: bool = False) -> None:
        if self.state[job] != WAITING:
            return
        failed = [up for up in upstream if self.state.get(up) == FAILED and not up.lazy]
        if failed:
            self._fail_indirect(job, failed[0])
            return
        count = sum(1 for up in upstream if up not in self.fp)
        self.pending[job] = self.pending.get(job, 0) + count if extra else count
        if not extra and not count:
            self.decide_queue.append(job)

    # --- temporary files -------------------------------------------------------

    def _is_settled(self, job) -> bool:
        state = self.state[job]
        return state == DONE or state == FAILED or (state == SKIPPED and not job.lazy)

    def _forget_temp(self, job) -> None:
        self.state[job] = IDLE  # its files are gone: a later request makes them again

    # --- failures ------------------------------------------------------------

    def _fail(self, job, exc, tb, reason: str = "Exception") -> None:
        job.failed = True
        job.exception = exc
        job.error_reason = reason
        self.state[job] = FAILED
        self.failed.append(job)
        if not job.is_invariant and not (job.lazy and not job.filenames):
            self.history.delete(job.job_id)
        self.runlog.failure(job, tb)
        self.console.job_failed(job)
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
                state = self.state.get(dependant)
                # A lazy source resolved before it failed has released its WAITING
                # dependants already; they fail only if they ask for it (_request).
                if state == NEEDS_RUN or (state == WAITING and source not in self.fp):
                    self._mark_indirect(dependant, source)
                    stack.append(dependant)

    def _mark_indirect(self, job, cause) -> None:
        job.failed = True
        job.error_reason = "Indirect"
        job.exception = PyPipeGraphError(f"{job.job_id} did not run: upstream {cause.job_id} failed")
        self.state[job] = FAILED
        self.blocked.pop(job, None)
        self.runlog.line(f"{job.job_id}: not run, upstream {cause.job_id} failed")
        self.temp_files.settled(job, True)
