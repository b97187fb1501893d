"""The futures API: `@ppg.work` turns a function into a job factory; a call returns a Future.

Invariant: calling a work function never runs it. The call becomes a job (one per
function and distinct arguments: its id is the function's qualname plus a hash of the
arguments, so the same script makes the same ids on every run) that runs the function
in a worker with the values of the futures it was given and pickles the result to
`<cache_folder>/futures/<qualname>/<hash>.pickle`. Futures passed in (also inside
lists, tuples, sets and dict values) are its dependencies; pathlib.Path arguments are
input files. On a class, `obj.method(...)` is a call with `obj` as first argument.
Inside a running call, a call is recorded and becomes a job when the outer call ends
(calls.py). A Future is not a value: using it as one raises TypeError; after
`run()`, `future.value()` reads the stored result.

    >>> @ppg.work                                         # doctest: +SKIP
    ... def count(path): return len(Path(path).read_text().split())
    >>> total = add([count(Path(p)) for p in files])       # futures, nothing ran
    >>> ppg.run_pipegraph(); total.value()
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from .. import state
from ..errors import JobContractError
from ..hashing import describe_function, hash_value
from ..jobs.base import Job, current_graph
from . import calls
from .future import Future, _collect, _hashed_futures


def work(function: Callable | None = None, /, *, cores: int | None = None,
         memory_needed: int | None = None, needs=(), nests: bool | None = None):
    """Decorator: `@ppg.work` (or `@ppg.work(...)`) makes `function` a WorkFunction.

    Calling it returns a Future; the function runs in a worker during `run()`. The
    keyword arguments are scheduling needs of every call: `cores` (as job.use_cores),
    `memory_needed` (bytes), `needs` (names of the graph's resources, or a dict of
    name -> units). `nests=True` lets the function call work functions while it runs
    (found by itself when its code names one; see docs/futures.md).
    """
    options = _check_options(cores, memory_needed, needs, nests)
    if function is None:
        return functools.partial(_decorate, options=options)
    return _decorate(function, options)


def _decorate(function: Callable, options: dict) -> WorkFunction:
    if isinstance(function, WorkFunction) and not options:
        return function
    if isinstance(function, WorkFunction):
        function = function.function
    if not callable(function) or isinstance(function, type):
        raise TypeError(f"ppg.work decorates a function, got {function!r}")
    return WorkFunction(function, **options)


def _check_options(cores, memory_needed, needs, nests) -> dict:
    """The decorator's arguments, checked once (a TypeError/ValueError at the decorator)."""
    options: dict = {}
    if cores is not None:
        if not isinstance(cores, int) or isinstance(cores, bool) or not (cores > 0 or cores in (-1, -2)):
            raise ValueError(f"ppg.work(cores=...) takes a positive int, -1 or -2; got {cores!r}")
        options["cores"] = cores
    if memory_needed is not None:
        if not isinstance(memory_needed, int) or isinstance(memory_needed, bool) or memory_needed < -1:
            raise ValueError(f"ppg.work(memory_needed=...) takes bytes (an int >= 0) or -1; got {memory_needed!r}")
        options["memory_needed"] = memory_needed
    if isinstance(needs, str):
        needs = (needs,)
    units = dict(needs) if isinstance(needs, dict) else {name: 1 for name in needs}
    for name, count in units.items():
        if not isinstance(name, str) or not name or not isinstance(count, int) or isinstance(count, bool) \
                or count < 1:
            raise ValueError(f"ppg.work(needs=...) takes resource names or a dict of name -> positive "
                             f"int; got {needs!r}")
    if units:
        options["needs"] = units
    if nests is not None:
        options["nests"] = bool(nests)
    return options


class WorkFunction:
    """A function whose calls are jobs. `.function` is the plain function.

    On a class it is a work method: `obj.method(...)` is a call with `obj` as the first
    argument, so the instance's attribute values are part of the call's key.
    """

    def __init__(self, function: Callable, cores: int | None = None, memory_needed: int | None = None,
                 needs: dict | None = None, nests: bool | None = None):
        self.function = function
        self.name = getattr(function, "__qualname__", None) or describe_function(function)
        self.module = getattr(function, "__module__", None)
        self.signature = inspect.signature(function)
        self.cores = cores
        self.memory_needed = memory_needed
        self.resource_needs = needs or {}
        self.nests = nests
        functools.update_wrapper(self, function)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __call__(self, *args, **kwargs) -> Future:
        graph = current_graph(f"call the work function {self.name}")
        if state.is_worker and graph.generation is None and not calls.recording():
            raise JobContractError(
                f"The work function {self.name} was called inside a running job. Work functions "
                "build the graph: call them in the script (or in a JobGeneratingJob's callback, or "
                "in a work function declared with @ppg.work(nests=True)), "
                f"or call the plain function {self.name}.function(...) to compute inline."
            )
        args = tuple(_materialize(a) for a in args)
        kwargs = {key: _materialize(a) for key, a in kwargs.items()}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"work function {self.name}: {exc}") from None
        args, kwargs = bound.args, bound.kwargs
        futures, paths = _collect(args, kwargs)
        key = self._identity(args, kwargs, futures, graph)
        job_id = f"{self.name}#{key:016x}"
        filename = os.path.join(graph.cache_folder, "futures", self.name, f"{key:016x}.pickle")
        if calls.recording():
            return calls.record_call(self, job_id, filename, args, kwargs, graph)
        new = job_id not in graph.jobs
        job = calls.WorkCallJob(job_id, filename, self, args, kwargs)
        if new:  # the same call again is the same job, with the same dependencies
            job.depends_on([future.job for future in futures])
            for path in paths:
                job.depends_on_file(path)
            job.call_inputs = {up.job_id for up in job.prerequisites}
            self._schedule(job)
        if self.may_nest(args):
            return Future(calls.WorkNestJob(job))
        return Future(job)

    def _schedule(self, job: Job) -> None:
        if self.cores is not None:
            job.use_cores(self.cores)
        if self.memory_needed is not None:
            job.memory_needed = self.memory_needed
        for resource, units in self.resource_needs.items():
            job.needs(resource, units)

    def may_nest(self, args: tuple) -> bool:
        """Whether a call may call work functions: declared, or its code names one (a
        global, or an attribute of the class of its first argument)."""
        if self.nests is not None:
            return self.nests
        cls = type(args[0]) if args else None
        found = self.__dict__.setdefault("_nests_by_class", {}).get(cls)
        if found is None:
            scope = getattr(self.function, "__globals__", {})
            found = any(isinstance(scope.get(name), WorkFunction) or (
                cls is not None and isinstance(inspect.getattr_static(cls, name, None), WorkFunction))
                for name in _code_names(getattr(self.function, "__code__", None)))
            self._nests_by_class[cls] = found
        return found

    def _identity(self, args: tuple, kwargs: dict, futures: list[Future], graph) -> int:
        """The hash of the arguments; TypeError for futures the call would not find."""
        for future in futures:
            if future.job._graph is not graph:
                raise ValueError(
                    f"work function {self.name}: the argument {future!r} belongs to an earlier "
                    "pipegraph. Futures live in the graph they were made in: make that call "
                    "again after ppg.new_pipegraph()."
                )
        _hashed_futures.clear()
        key = error = None
        try:
            key = hash_value((getattr(self.function, "__module__", None), self.name, args, kwargs))
        except TypeError as exc:
            error = exc
        found = {id(future) for future in futures}
        hidden = [future for future in _hashed_futures if id(future) not in found]
        _hashed_futures.clear()
        if hidden:
            raise TypeError(
                f"work function {self.name}: the argument {hidden[0]!r} is where calls do not look "
                "for futures. Futures are found in lists, tuples, sets and dict values; not in dict "
                "keys, other containers or objects."
            )
        if error is not None:
            raise TypeError(
                f"work function {self.name}: its arguments identify the call and must be picklable: {error}"
            )
        return key

    def __reduce__(self):
        # Generated jobs travel to the master pickled: find a module-level work function
        # by name there (its module attribute is this object, not the plain function).
        # Not for the script's own (`__main__`) ones: on a Dask worker, `__main__` is not
        # the script, so those travel by value (cloudpickle).
        module = self.__dict__.get("__module__")
        if module == "__main__":
            return WorkFunction, (self.function,)
        found = sys.modules.get(module)
        for part in self.__dict__.get("__qualname__", "<locals>").split("."):
            found = getattr(found, part, None)
        if found is self:
            return self.__qualname__
        return WorkFunction, (self.function,)

    def __repr__(self) -> str:
        return f"<work function {describe_function(self.function)}>"


def _code_names(code) -> set[str]:
    """The names a code object (and the code nested in it) looks up."""
    if code is None:
        return set()
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _materialize(value: Any) -> Any:
    """A generator argument (say `(classify(f) for f in files)`) becomes a list."""
    return list(value) if isinstance(value, types.GeneratorType) else value
