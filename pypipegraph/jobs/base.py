"""The Job base class and JobList: identity, edges and the outcome of a run.

Invariant: a job is pure data. It knows its id, its edges, its resource needs and
how to run itself (in a worker or the master), never how it is scheduled. Jobs are
singletons by id within one graph: creating a job whose id exists returns the
existing object (same class) or raises ValueError (another class, other arguments).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FunctionType
from typing import Any

from .. import state
from ..cluster.profiles import checked_settings
from ..errors import CycleError, JobContractError
from ..hashing import function_fingerprint
from ..legacy.protocol import Protocol197
from ..paths import normalize_path
from ..plumbing.modules import is_engine_module
from .edges import NO_EDGES, EdgeSet
from .outcome import Outcome, OutcomeField, WasRun
from .slots import own_attribute, reduce_without_new


def current_graph(what: str = "create a job", adding: str = ""):
    """The graph new jobs join (`adding` names the new one); ValueError when there is none
    or it already ran, JobContractError while a loader runs."""
    graph = state.global_pipegraph
    if graph is None:
        raise ValueError(
            f"Cannot {what}: no pipegraph exists. Call ppg.new_pipegraph() first."
        )
    if graph.has_run and not graph.running:
        raise ValueError(
            "This pipegraph was already run. You need to create a new one for more jobs "
            "(ppg.new_pipegraph())."
        )
    loader = graph.job_creation_forbidden_by
    if loader is not None:
        raise JobContractError(
            "Trying to add new jobs to running pipeline without having new_jobs set (ie. outside "
            f"of a graph modifying job) - tried to add {adding or what}: {type(loader).__name__} "
            f"{loader.job_id!r} tried to {what}. Loading jobs may not create jobs; use a "
            "JobGeneratingJob or DependencyInjectionJob for that."
        )
    return graph


_sites: dict = {}  # (file, line) -> the same tuple: a loop's 100 000 edges share one site


def caller_site() -> tuple[str, int] | None:
    """(file, line) of the first frame outside pypipegraph: where the user's call is."""
    frame = sys._getframe(1)
    while frame is not None and is_engine_module(frame.f_globals.get("__name__")):
        frame = frame.f_back
    if frame is None:
        return None
    site = frame.f_code.co_filename, frame.f_lineno
    return _sites.setdefault(site, site)


def check_callable(job, callback, what: str = "callback") -> None:
    """ValueError naming the job when `callback` cannot be called."""
    if not callable(callback):
        raise ValueError(
            f"{type(job).__name__} {job.job_id!r}: {what} was not a callable (got {callback!r})."
        )


def check_no_argument_callback(job, callback, what: str = "callback") -> None:
    """Loaders, generators and final jobs call their callback without arguments."""
    check_callable(job, callback, what)
    needed = required_positional(callback)
    if needed:
        name = getattr(callback, "__qualname__", repr(callback))
        raise TypeError(
            f"{type(job).__name__} {job.job_id!r}: the {what} {name} takes {needed} required "
            f"argument{'s' if needed > 1 else ''}; loader, generator and final-job callbacks are "
            "called without arguments (reach your data through a closure or a default argument)."
        )


def normalize_id(job_id: Any, cls_name: str) -> str:
    """Job ids are str (a pathlib.Path is converted); path spellings are normalised
    so that one file is one id ('./a', 'a//b' and '/project/a' are all 'a')."""
    if isinstance(job_id, str):
        return normalize_path(job_id)
    if isinstance(job_id, Path):
        return normalize_path(str(job_id))
    raise TypeError(
        f"{cls_name}: job_id must be a str (or pathlib.Path), got {type(job_id).__name__} {job_id!r}"
    )


_arity_cache: dict = {}


def required_positional(func: Callable) -> int:
    """How many positional parameters of `func` have no default (0 for builtins).

    Plain functions are answered from their code object (cached); other callables
    go through inspect.signature.
    """
    code = getattr(func, "__code__", None)
    if code is not None and type(func) is FunctionType:
        key = (code, len(func.__defaults__ or ()))
        cached = _arity_cache.get(key)
        if cached is None:
            cached = max(0, code.co_argcount - key[1])
            _arity_cache[key] = cached
        return cached
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return 0
    return sum(
        1
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


class Job(Protocol197):
    """Base of all jobs. Subclasses set the class flags below and implement running.

    Class flags:
      is_invariant  checked in the master, never run; `compute()` gives its fingerprint
      lazy          runs only when a dependant has to run; its fingerprint is that of its inputs
      always_runs   runs on every run
      runs_in       "worker" (forked process) or "master"
    """

    # What every job has lives in slots, not in a per-job dict (a million jobs are a lot
    # of dicts); `__dict__` takes any other attribute, as 0.197's libraries set them. The
    # engine's busy classes (output jobs, file and function invariants) add slots of their own.
    __slots__ = ("job_id", "_graph", "_signature", "prerequisites", "dependants", "_placeholders",
                 "_outcome", "was_invalidated", "__dict__")

    is_invariant = False
    lazy = False
    always_runs = False
    generates_jobs = False
    is_final = False
    runs_in = "worker"
    id_prefix = ""

    # Outcome of the last run (the `_outcome` slot): defaults until the run sets them (jobs/outcome.py).
    failed = OutcomeField("failed")
    exception = OutcomeField("exception")
    error_reason = OutcomeField("error_reason")
    was_run = WasRun("was_run")
    was_loaded = OutcomeField("was_loaded")  # a loader's "was run" (0.197: its was_run stays False)
    stdout = OutcomeField("stdout")
    stderr = OutcomeField("stderr")
    start_time = OutcomeField("start_time")
    stop_time = OutcomeField("stop_time")
    run_reasons = OutcomeField("run_reasons")

    _cores_needed = 1
    _memory_needed = -1
    _priority = 0
    resource_needs: dict = {}  # name -> units of the graph's named resources (see needs())
    _pruned = False
    _ignore_code_changes = False
    filenames: list = []
    empty_ok = False
    reuses_worker: bool | None = None  # None: the graph's default (new_pipegraph(reuse_workers=))

    is_temp_job = False

    @classmethod
    def verify_job_id(cls, job_id: Any) -> str:
        """The canonical id for `job_id` (str or Path; path spellings normalised)."""
        return normalize_id(job_id, cls.__name__)

    def __new__(cls, job_id, *args, **kwargs):
        job_id = cls.id_prefix + cls.verify_job_id(job_id)
        graph = state.global_pipegraph
        if graph is None or graph.job_creation_forbidden_by is not None or (graph.has_run and not graph.running):
            graph = current_graph(adding=f"{cls.__name__} {job_id!r}")  # raises, naming the job
        existing = graph.jobs.get(job_id)
        if existing is not None:
            if type(existing) is not cls:
                raise JobContractError(
                    f"Same job id, different job classes for {job_id!r}: it is already a "
                    f"{type(existing).__name__}, cannot redefine it as a {cls.__name__}. Use another id."
                )
            return existing
        obj = object.__new__(cls)
        obj.job_id = job_id
        obj._graph = graph
        return obj

    def __init__(self, job_id, *args, **kwargs):
        """A plain job (0.197's extension point): registered, no callback of its own.

        Libraries call `ppg.Job.__init__(self, job_id)` from their subclasses. A plain job
        that is not an invariant runs `run()` in the master when a dependant has to run.
        """
        if getattr(self, "_signature", None) is not None:
            return
        self._init_once((type(self).__name__,))
        if not self.is_invariant and not hasattr(self, "run_in_worker"):
            self.lazy = True
            self.runs_in = "master"
        self._register()

    def _init_once(self, signature: tuple) -> bool:
        """Call first in __init__: True when this object was initialised before.

        A redefinition with a different `signature` (the arguments that define the
        job) raises ValueError.
        """
        old = getattr(self, "_signature", None)
        if old is None:
            self._signature = signature
            self.prerequisites = NO_EDGES if self.is_invariant else EdgeSet()  # one shared: none ever
            self.dependants = EdgeSet()
            self._placeholders = None
            self._outcome: Outcome | None = None
            self.was_invalidated = False
            return False
        if old != signature:
            raise ValueError(
                f"Job {self.job_id!r} was defined twice with different arguments "
                f"({type(self).__name__}). Each job id may only be defined once; "
                "use distinct ids, or the same arguments."
            )
        return True

    def _check_same_function(self, old: Callable, new: Callable) -> None:
        """A redefinition with the same code must also capture the same values."""
        if old is new:
            return

        if function_fingerprint(old) != function_fingerprint(new):
            raise ValueError(
                f"{type(self).__name__} {self.job_id!r} was defined twice with the same function "
                "code but different default arguments or closure values, so both definitions "
                "would write one job's output. Give each job its own id (its own output file)."
            )

    def _register(self) -> None:
        self._graph.add_job(self)

    # --- edges ---------------------------------------------------------------

    def depends_on(self, *other_jobs) -> Job:
        """Add upstream jobs. Takes jobs, (nested) lists, JobLists, None (ignored) and
        callables returning jobs (placeholders resolved just before the run).
        Returns this job."""
        if len(other_jobs) == 1 and isinstance(other_jobs[0], Job):  # the common call: one job
            item = other_jobs[0]
            self._add_prerequisite(item)
            if not item.is_invariant:
                self._graph.edge_sites[item, self] = caller_site()
            return self
        site = None
        for item in _flatten(other_jobs, self):
            if isinstance(item, Job):
                self._add_prerequisite(item)
                if item.is_invariant:
                    continue  # an invariant is on no cycle: its edge's site is never shown
                if site is None:
                    site = caller_site()
                self._graph.edge_sites[item, self] = site
            else:
                if self._placeholders is None:
                    self._placeholders = []
                self._placeholders.append(item)
        return self

    def _add_prerequisite(self, other: Job) -> None:
        prerequisites = self.prerequisites
        if prerequisites is not None and other in prerequisites:
            return  # an edge made twice (also inside a generating job's callback) is one edge
        if other is self:
            raise CycleError(f"Job {self.job_id!r} cannot depend on itself.", [self.job_id])
        if other._graph is not self._graph:
            raise JobContractError(
                f"Mixing jobs from different pipegraphs is not supported: job {other.job_id!r} belongs "
                f"to an earlier pipegraph; {self.job_id!r} cannot depend on it. Create it again after "
                "ppg.new_pipegraph()."
            )
        if prerequisites is None or other.prerequisites is None:  # released after the run
            raise JobContractError(
                f"{self.job_id!r} cannot depend on {other.job_id!r}: their pipegraph already ran. "
                "Create the jobs again after ppg.new_pipegraph()."
            )
        self._check_prerequisite(other)
        other._check_dependant(self)
        session = self._graph.generation
        if session is not None and self not in session.new_set:
            session.generator.check_injection(self, other)
            session.injections.append((self, other))
        if self in other.prerequisites:
            raise CycleError(
                f"Cycle: {self.job_id!r} -> {other.job_id!r} -> {self.job_id!r}. "
                "Two jobs cannot depend on each other.",
                [self.job_id, other.job_id],
            )
        self.prerequisites.add(other)
        other.dependants.add(self)

    def _check_prerequisite(self, other: Job) -> None:
        """Hook: raise when `other` may not be upstream of this job."""
        if self.is_invariant:
            raise JobContractError(
                f"{type(self).__name__} {self.job_id!r} cannot depend on other jobs "
                f"(tried {other.job_id!r}): invariants are checked, never run."
            )

    def _check_dependant(self, other: Job) -> None:
        """Hook: raise when `other` may not be downstream of this job."""

    def resolve_placeholders(self) -> None:
        placeholders, self._placeholders = self._placeholders, None
        for placeholder in placeholders or ():
            result = placeholder()
            for item in _flatten([result], self):
                if isinstance(item, Job):
                    self._add_prerequisite(item)
                else:  # a placeholder returning a placeholder: resolved in the next round
                    if self._placeholders is None:
                        self._placeholders = []
                    self._placeholders.append(item)

    def depends_on_params(self, params: Any):
        """Depend on a ParameterInvariant with id 'PI' + job_id; returns the invariant."""
        from .invariants import ParameterInvariant  # lazy: invariants are Jobs: that module imports this one

        invariant = ParameterInvariant(self.job_id, params)
        self.depends_on(invariant)
        return invariant

    def depends_on_func(self, name: str, func: Callable):
        """Depend on a FunctionInvariant with id job_id + '_' + name; returns it."""
        from .invariants import FunctionInvariant  # lazy: invariants are Jobs: that module imports this one

        if not isinstance(name, str):
            raise TypeError(f"{self.job_id}: depends_on_func(name, func) needs a str name")
        invariant = FunctionInvariant(self.job_id + "_" + name, func)
        self.depends_on(invariant)
        return invariant

    def depends_on_file(self, filename):
        """Depend on a file: the job that writes it, else a FileInvariant; returns that job."""
        from .invariants import job_or_filename  # lazy: invariants are Jobs (they import this module)

        _, deps = job_or_filename(filename)
        self.depends_on(deps)
        return deps[0]

    def is_in_dependency_chain(self, other: Job, max_depth: int) -> bool:
        """True if `other` is upstream of this job within `max_depth` edges."""
        frontier = {self}
        seen = set()
        for _ in range(max_depth):
            frontier = {p for job in frontier for p in job.prerequisites} - seen
            if other in frontier:
                return True
            seen |= frontier
            if not frontier:
                break
        return False

    # --- options -------------------------------------------------------------

    def prune(self) -> None:
        """This job and everything downstream of it will not run."""
        self._pruned = True

    def unprune(self) -> None:
        self._pruned = False

    def ignore_code_changes(self) -> None:
        """No automatic FunctionInvariant on this job's callback."""
        self._ignore_code_changes = True

    def reuse_worker(self, reuse: bool = True) -> Job:
        """Run in a reused worker process instead of a fresh fork (faster for trivial jobs).

        The job then sees what earlier jobs in that process left behind (globals, cwd,
        os.environ, ...); see docs/performance.md. `reuse_worker(False)` forces a fresh fork.
        """
        if not isinstance(reuse, bool):
            raise ValueError(f"{self.job_id}: reuse_worker() takes True or False; got {reuse!r}")
        self.reuses_worker = reuse
        return self

    def use_cores(self, cores: int) -> Job:
        self.cores_needed = cores
        return self

    @property
    def cores_needed(self) -> int:
        """1 by default; n; -1 = all cores (alone); -2 = all cores, 1-core jobs beside it."""
        return self._cores_needed

    @cores_needed.setter
    def cores_needed(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not (value > 0 or value in (-1, -2)):
            raise ValueError(
                f"{self.job_id}: cores_needed must be a positive int, -1 (all cores) or -2 "
                f"(all cores, small jobs may run beside it); got {value!r}"
            )
        self._cores_needed = value

    @property
    def memory_needed(self) -> int:
        """Bytes of memory the job needs; -1 = don't care."""
        return self._memory_needed

    @memory_needed.setter
    def memory_needed(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and value != -1):
            raise ValueError(
                f"{self.job_id}: memory_needed must be bytes (an int >= 0) or -1; got {value!r}"
            )
        self._memory_needed = value

    @property
    def priority(self) -> int | float:
        """Among jobs ready to run, higher priorities start first (default 0)."""
        return self._priority

    @priority.setter
    def priority(self, value: int | float) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            raise ValueError(f"{self.job_id}: priority must be a number (higher runs first); got {value!r}")
        self._priority = value

    def needs(self, resource: str, units: int = 1) -> Job:
        """Hold `units` of the graph's named `resource` while running (see new_pipegraph(resources=)).

            >>> job.needs("db_connections", 1)
        """
        if not isinstance(resource, str) or not resource:
            raise ValueError(f"{self.job_id}: needs() takes a resource name (a string); got {resource!r}")
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"{self.job_id}: needs({resource!r}, ...) takes a positive int; got {units!r}")
        self.resource_needs = {**self.resource_needs, resource: units}
        return self

    cluster_settings: dict = {}  # see cluster()

    def cluster(self, profile: str | None = None, **settings) -> Job:
        """Settings of the batch job that runs this job: a named `profile`, `queue`,
        `walltime`, `account`, `extra` directives, other options of the cluster class
        (docs/cluster.md). Jobs run locally ignore them.

            >>> job.cluster(queue="bigmem", walltime="24:00:00", extra=["--gres=gpu:1"])
        """
        self.cluster_settings = checked_settings(self.job_id, profile, settings)
        return self

    @property
    def rule(self) -> str:
        """The kind of job reports group by: `job.rule = ...`, else the callback's qualified
        name (`.<locals>` dropped), else the class name."""
        rule = own_attribute(self, "_rule")
        if rule is not None:
            return rule
        callback = own_attribute(self, "callback")
        callback = getattr(callback, "func", callback)  # functools.partial
        name = getattr(callback, "__qualname__", None) if callback is not None else None
        return name.replace(".<locals>", "") if name else type(self).__name__

    @rule.setter
    def rule(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.job_id}: rule must be a non-empty string; got {value!r}")
        self._rule = value

    def load(self) -> None:
        """0.197's hook for loading jobs; any other job cannot be loaded."""
        raise ValueError(f"Called load() on a job that was not loadable: {type(self).__name__} {self.job_id!r}")

    # --- what the engine asks ------------------------------------------------

    def auto_invariants(self) -> list[Job]:
        """Invariants the engine adds before the run (the implicit FunctionInvariant)."""
        return []

    def code_invariant_ids(self) -> list[str]:
        """Ids of the implicit invariants on this job's own code (what `ignore_code_changes()` drops)."""
        from .invariants import FunctionInvariant  # lazy: invariants are Jobs: that module imports this one

        return [FunctionInvariant.id_of(self.job_id)]

    def output_names(self) -> list[str]:
        """Files this job writes and the engine checks."""
        return self.filenames

    @property
    def files(self) -> list:
        return self.filenames

    def output_complaint(self, name: str, stat: tuple[int, int] | None) -> str | None:
        """Why an output recorded as done does not count as done, or None."""
        if stat is None:
            return f"output {name} missing"
        if stat[1] == 0 and not self.empty_ok:
            return f"output {name} is empty"
        return None

    def remove_partial_outputs(self) -> list[str]:
        """Called when the job failed or was killed; output jobs remove what they wrote and
        return what they could not remove, in words."""
        return []

    def change_description(self) -> str:
        """How a dependant's log names a change of this job's fingerprint."""
        return f"input {self.job_id} changed"

    def change_summary(self, old, extra, source) -> str:
        """The change in words that fit every dependant alike (no job id): `ppg why` groups
        by them. `old` is an invariant's record before the change, `extra` its new state
        (None for output jobs), `source(digest)` a text the store kept."""
        return f"an input from {self.rule} changed"

    def __reduce_ex__(self, protocol):
        # Pickled (the job list travels to Dask workers) without going through
        # __new__, which would look the id up in the current graph.
        return reduce_without_new(self)

    def __ppg_fingerprint__(self) -> str:
        """Jobs captured in a closure count by their id."""
        return f"{type(self).__name__}:{self.job_id}"

    def __add__(self, other):
        return JobList([self]) + other

    def __radd__(self, other):
        return JobList(_as_list(other)) + [self]

    def __iter__(self):
        yield self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.job_id!r})"



class JobList(list):
    """A list of jobs, made by `job + job`; `depends_on` applies to each."""

    def __init__(self, jobs=()):
        super().__init__(jobs)
        for item in self:
            if not isinstance(item, Job):
                raise ValueError(f"JobList takes only jobs; got {type(item).__name__} {item!r}")

    def depends_on(self, *other_jobs) -> JobList:
        for job in self:
            job.depends_on(*other_jobs)
        return self

    def __str__(self) -> str:
        return f"JobList of {len(self)} jobs: " + ", ".join(str(job) for job in self)

    def __add__(self, other):
        return JobList(list(self) + _as_list(other))

    def __radd__(self, other):
        return JobList(_as_list(other) + list(self))


def _as_list(value) -> list:
    if isinstance(value, Job):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"can only add jobs and lists of jobs, not {type(value).__name__}")


def _check_placeholder(func: Callable, owner: Job) -> None:
    """A callable given to depends_on is called (without arguments) just before the run,
    for the jobs it returns (as in 0.197); one that needs arguments cannot be meant so."""
    needed = required_positional(func)
    if needed:
        raise ValueError(
            f"{owner.job_id}: depends_on({getattr(func, '__qualname__', func)!s}): a function passed to depends_on "
            f"is called without arguments just before the run and must return the jobs to depend on; "
            f"this one needs {needed} argument(s). To rerun {owner.job_id} when the function's code "
            f"changes, use depends_on_func(name, function); to depend on the job that runs it, pass "
            f"that job."
        )


def _flatten(items: Iterable, owner: Job):
    for item in items:
        if item is None:
            continue
        if isinstance(item, Job):
            yield item
        elif isinstance(item, (list, tuple, set, frozenset)) or (
            hasattr(item, "__iter__") and not isinstance(item, (str, bytes, dict, Path))
        ):
            yield from _flatten(item, owner)
        elif callable(item) and not isinstance(item, type):
            _check_placeholder(item, owner)
            yield item
        else:
            raise ValueError(
                f"{owner.job_id}: depends_on takes jobs, lists of jobs, None or a callable "
                f"returning jobs; got {type(item).__name__} {item!r}. For a file use "
                "depends_on_file(); for parameters depends_on_params()."
            )
