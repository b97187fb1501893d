"""Graph-changing jobs: they create jobs while the graph runs, and the final job.

Invariant: a generating job's callback runs in a worker (so it sees loaded data and
the master stays isolated); the jobs it creates travel back to the master with
cloudpickle, where jobs that already existed are referenced by id, never copied. A
JobGeneratingJob may not add dependencies to jobs that existed before; a
DependencyInjectionJob may only inject into jobs that depend on it.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Callable

from ..errors import JobContractError
from ..hashing import combine
from .base import Job, check_no_argument_callback
from .invariants import FunctionInvariant


class JobGeneratingJob(Job):
    """Runs `callback()` on every run; the jobs it creates join the running graph."""

    always_runs = True
    generates_jobs = True

    def __init__(self, job_id, callback: Callable):
        check_no_argument_callback(self, callback)
        if self._init_once(self._signature_of(callback)):
            return
        self.callback = callback
        self._register()

    def _signature_of(self, callback) -> tuple:
        return (getattr(callback, "__code__", callback),)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant(self.job_id + "_func", self.callback)]

    def run_in_worker(self) -> bytes:
        """Run the callback in recording mode; return the new jobs, pickled."""
        graph = self._graph
        session = graph.start_generation(self)
        try:
            returned = self.callback()
        finally:
            graph.stop_generation()
        return dump_generated(graph, session.new_jobs, self._injections(session, returned))

    def _injections(self, session, returned) -> list:
        return session.injections

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
                f"{downstream.job_id!r}, which does not depend on {self.job_id!r}. Make it depend "
                "on the injection job first."
            )

    def _injections(self, session, returned) -> list:
        injections = list(session.injections)
        items = [] if returned is None else [returned] if isinstance(returned, Job) else list(returned)
        for item in items:
            if not isinstance(item, Job):
                raise JobContractError(
                    f"DependencyInjectionJob {self.job_id!r} returned {item!r}; return jobs (or None)."
                )
            for dependant in self.dependants:
                injections.append((dependant, item))
        # a job both returned and injected by hand is one edge, not two
        injections = list(dict.fromkeys(injections))
        if self.check_for_dependency_injections:
            self._check_reachable(session.new_jobs, injections)
        return injections

    def _check_reachable(self, new_jobs: list, injections: list) -> None:
        """Every created job must end up upstream of every dependant (0.197's "case 1"):
        a job created but injected nowhere would never be asked to run."""
        extra: dict = {}
        for downstream, upstream in injections:
            extra.setdefault(downstream, set()).add(upstream)
        for dependant in self.dependants:
            seen: set = set()
            frontier = set(dependant.prerequisites) | extra.get(dependant, set())
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
            f"FinalJob {self.job_id!r} cannot depend on {other.job_id!r}: final jobs run after "
            "everything else anyway."
        )

    def _check_dependant(self, other: Job) -> None:
        raise JobContractError(
            f"{other.job_id!r} cannot depend on FinalJob {self.job_id!r}: nothing runs after a final job."
        )

    def run_in_worker(self) -> list:
        self.callback()
        return []


# --- shipping generated jobs between processes -------------------------------


class GenerationSession:
    """What one generating job's callback did to the graph."""

    def __init__(self, generator: Job):
        self.generator = generator
        self.new_jobs: list[Job] = []
        self.new_set: set = set()
        self.injections: list[tuple[Job, Job]] = []


def dump_generated(graph, new_jobs: list[Job], injections: list) -> bytes:
    """Pickle new jobs and injected edges; existing jobs and the graph by reference."""
    import cloudpickle

    new_set = set(new_jobs)

    # On a Dask worker the script's namespace is the graph's copy of it (executors/dask_worker.py).
    main_globals = getattr(graph, "main_globals", None) or getattr(sys.modules.get("__main__"), "__dict__", None)

    class _Pickler(cloudpickle.CloudPickler):
        def persistent_id(self, obj):
            if obj is graph:
                return ("graph",)
            if isinstance(obj, Job) and obj not in new_set:
                return ("job", obj.job_id)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, types.FunctionType) and obj.__globals__ is main_globals:
                return _reduce_main_function(obj)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((new_jobs, injections))
    return buffer.getvalue()


def _reduce_main_function(func):
    """Functions of the user's script keep the script's real globals after the trip.

    cloudpickle would give them a private copy of the globals they use, so a callback
    would not see data a loader stores in a module-level dict. The master and every
    worker share the script's `__main__` (workers are forked), so the function is
    rebuilt around `__main__.__dict__` instead.
    """
    cells = func.__closure__ or ()
    values = []
    for cell in cells:
        try:
            values.append(cell.cell_contents)
        except ValueError:
            values.append(_EMPTY_CELL)
    state = (func.__defaults__, func.__kwdefaults__, values, func.__dict__, func.__qualname__)
    return (_main_function_skeleton, (func.__code__, func.__name__, len(cells)), state, None, None,
            _main_function_fill)


class _EmptyCell:
    def __reduce__(self):
        return "_EMPTY_CELL"


_EMPTY_CELL = _EmptyCell()


def _main_function_skeleton(code, name, n_cells):
    closure = tuple(types.CellType() for _ in range(n_cells)) or None
    return types.FunctionType(code, sys.modules["__main__"].__dict__, name, None, closure)


def _main_function_fill(func, state):
    defaults, kwdefaults, values, attributes, qualname = state
    func.__defaults__ = defaults
    func.__kwdefaults__ = kwdefaults
    func.__qualname__ = qualname
    func.__dict__.update(attributes)
    for cell, value in zip(func.__closure__ or (), values, strict=True):
        if value is not _EMPTY_CELL:
            cell.cell_contents = value


def load_generated(graph, payload: bytes) -> tuple[list[Job], list]:
    """Unpickle what `dump_generated` wrote, against the master's graph."""

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            if pid[0] == "graph":
                return graph
            job = graph.jobs.get(pid[1])
            if job is None:
                raise JobContractError(f"a generated job refers to {pid[1]!r}, which the master does not know")
            return job

    return _Unpickler(io.BytesIO(payload)).load()
