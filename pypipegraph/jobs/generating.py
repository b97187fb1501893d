"""Graph-changing jobs: they create jobs while the graph runs, and the final job.

Invariant: a generating job's callback runs in the master, on the master's own objects
(as in pypipegraph 0.197), while no other job starts; what it changes is visible to every
job started after it, and the jobs it creates join the running graph directly (nothing
is pickled). When the callback fails, every job and edge it added is taken out again, so
the graph is as before. A JobGeneratingJob may not add dependencies to jobs that existed
before; a DependencyInjectionJob may only inject into jobs that depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import JobContractError
from ..hashing import combine
from ..ordering import topological_order
from ..paths import return_to
from ..plumbing.host import call_job_code
from .base import Job, check_no_argument_callback


class JobGeneratingJob(Job):
    """Runs `callback()` on every run; the jobs it creates join the running graph."""

    always_runs = True
    generates_jobs = True
    runs_in = "master"

    def __init__(self, job_id, callback: Callable):
        check_no_argument_callback(self, callback)
        if self._init_once(self._signature_of(callback)):
            return
        self.callback = callback
        self._register()

    def _signature_of(self, callback) -> tuple:
        return (getattr(callback, "__code__", callback),)

    def auto_invariants(self) -> list[Job]:
        """None: the job runs on every run, so its code needs no invariant (as in 0.197); its
        dependants rerun when the jobs it creates change (fingerprint_of)."""
        return []

    def run_in_master(self) -> GenerationSession:
        """Run the callback in the master, recording what it adds; the session of new jobs
        and injected edges. On failure the graph is restored and the error raised."""
        graph = self._graph
        home = os.getcwd()
        session = graph.start_generation(self)
        try:
            returned = self.callback()
            self._inject_returned(returned)
            session.complete(graph)
            self._check_injections(session)
        except BaseException:
            session.rollback(graph)
            raise
        finally:
            graph.stop_generation()
            return_to(home)  # the master's working directory is the project's
        return session

    def _inject_returned(self, returned) -> None:
        """A DependencyInjectionJob makes its dependants depend on what it returned."""

    def _check_injections(self, session) -> None:
        """A DependencyInjectionJob checks its created jobs are reachable from its dependants."""

    def check_injection(self, downstream: Job, upstream: Job) -> None:
        """Called when, inside the callback, an existing job gains a prerequisite."""
        raise JobContractError(
            f"JobGeneratingJob {self.job_id!r} added a dependency ({upstream.job_id!r}) to "
            f"{downstream.job_id!r}, a job that existed before it ran. Generated jobs may depend "
            "on existing jobs, not the other way round; use a DependencyInjectionJob for that."
        )

    def fingerprint_of(self, new_jobs: list[Job]) -> int:
        return combine(sorted(job.job_id for job in new_jobs))


class DependencyInjectionJob(JobGeneratingJob):
    """Its callback creates jobs and returns them (a job or a list); every job that
    depends on this one then depends on them too. Injecting into a job that does not
    depend on it is a JobContractError (unless check_for_dependency_injections=False).
    """

    def __init__(self, job_id, callback: Callable, check_for_dependency_injections: bool = True):
        self.check_for_dependency_injections = check_for_dependency_injections
        super().__init__(job_id, callback)

    def check_injection(self, downstream: Job, upstream: Job) -> None:
        if self.check_for_dependency_injections and downstream not in self.dependants:
            raise JobContractError(
                f"DependencyInjectionJob {self.job_id!r} tried to inject {upstream.job_id!r} into "
                f"{downstream.job_id!r}, but {downstream.job_id!r} was not dependand on the "
                f"DependencyInjectionJob. Make it depend on {self.job_id!r} first."
            )

    def _inject_returned(self, returned) -> None:
        items = [] if returned is None else [returned] if isinstance(returned, Job) else list(returned)
        for item in items:
            if not isinstance(item, Job):
                raise JobContractError(
                    f"DependencyInjectionJob {self.job_id!r} returned {item!r}; return jobs (or None)."
                )
            for dependant in list(self.dependants):
                dependant.depends_on(item)  # returned and injected by hand too: one edge

    def _check_injections(self, session) -> None:
        if self.check_for_dependency_injections:
            self._check_reachable(session.new_jobs)

    def _check_reachable(self, new_jobs: list) -> None:
        """Every created job must end up upstream of every dependant (0.197's "case 1"):
        a job created but injected nowhere would never be asked to run."""
        for dependant in self.dependants:
            seen: set = set()
            frontier = set(dependant.prerequisites)
            for _ in range(8):
                seen |= frontier
                frontier = {p for job in frontier for p in job.prerequisites} - seen
                if not frontier:
                    break
            for job in new_jobs:
                if job not in seen and not job.is_invariant:
                    raise JobContractError(
                        f"DependencyInjectionJob {self.job_id!r} created a job {job.job_id!r} that was not "
                        f"added to the prerequisites of {dependant.job_id!r} (case 1). Return the jobs "
                        f"it creates, or inject them with {dependant.job_id}.depends_on(...)."
                    )


class FinalJob(Job):
    """Runs `callback()` after every other job, on every run. It cannot have
    dependencies and nothing can depend on it."""

    always_runs = True
    is_final = True

    def __init__(self, job_id, callback: Callable):
        check_no_argument_callback(self, callback)
        if self._init_once((getattr(callback, "__code__", callback),)):
            return
        self.callback = callback
        self._register()

    def _check_prerequisite(self, other: Job) -> None:
        raise JobContractError(
            "Final jobs can not have explicit dependencies - they run in random order after all "
            f"other jobs (FinalJob {self.job_id!r} cannot depend on {other.job_id!r})."
        )

    def _check_dependant(self, other: Job) -> None:
        raise JobContractError("No jobs can depend on FinalJobs")  # 0.197's words, exactly

    def run_in_worker(self) -> list:
        call_job_code(self.callback)
        return []


# --- what one callback added ------------------------------------------------


class GenerationSession:
    """What one generating job's callback did to the graph: the jobs it created (in
    creation order) and the edges it added to jobs that existed before ((downstream,
    upstream) pairs)."""

    def __init__(self, generator: Job):
        self.generator = generator
        self.new_jobs: list[Job] = []
        self.new_set: set = set()
        self.injections: list[tuple[Job, Job]] = []

    def complete(self, graph) -> None:
        """Resolve the new jobs' placeholders, add their implicit invariants, check the
        named resources they need and that they form no cycle (raises otherwise)."""
        while True:
            waiting = [job for job in self.new_jobs if job._placeholders]
            if not waiting:
                break
            for job in waiting:
                job.resolve_placeholders()
        for job in list(self.new_jobs):
            job.inject_auto_invariants()
        graph.check_resource_needs(self.new_jobs)
        topological_order(self.new_jobs, graph.edge_sites)
        self._feed_file_sets()

    def _feed_file_sets(self) -> None:
        """A file set `produced_by` the generator (one of its dependants) waits for the
        generated jobs that write a member or generate more jobs, as it waits for those of
        the graph before the run: the edges are injected, on every run alike."""
        for file_set in list(self.generator.dependants):
            waits_for = getattr(file_set, "waits_for", None)
            if waits_for is None:
                continue
            wanted = [job for job in self.new_jobs if job is not file_set and job not in file_set.prerequisites
                      and waits_for(job)]
            if not wanted:
                continue
            downstream = _downstream_of(file_set)
            for job in wanted:
                if job in downstream:
                    raise JobContractError(
                        f"{job.job_id!r}, generated by {self.generator.job_id!r}, writes a file of the set "
                        f"{file_set.job_id!r} and depends on that set: a cycle. A job that depends on a "
                        "file set must not write a matching file.")
                file_set.prerequisites.add(job)
                job.dependants.add(file_set)
                self.injections.append((file_set, job))

    def rollback(self, graph) -> None:
        """Take every job and edge the callback added out of the graph again."""
        new = self.new_set
        for job in self.new_jobs:
            if graph.jobs.get(job.job_id) is job:
                del graph.jobs[job.job_id]
            for name in job.filenames:
                if graph.outputs.get(name) is job:
                    del graph.outputs[name]
            for up in job.prerequisites:
                if up not in new:
                    up.dependants.discard(job)
            for down in job.dependants:
                if down not in new:
                    down.prerequisites.discard(job)
        for downstream, upstream in self.injections:
            downstream.prerequisites.discard(upstream)
            upstream.dependants.discard(downstream)
        self.new_jobs, self.injections = [], []


def _downstream_of(job: Job) -> set:
    """Every job that depends on `job`, directly or not."""
    seen: set = set()
    stack = list(job.dependants)
    while stack:
        down = stack.pop()
        if down not in seen:
            seen.add(down)
            stack.extend(down.dependants)
    return seen
