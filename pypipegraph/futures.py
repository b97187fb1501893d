"""The futures API: `@ppg.work` turns a function into a job factory; a call returns a Future.

Invariant: calling a work function never runs it. The call becomes a job (one per
function and distinct arguments: its id is the function's qualname plus a hash of the
arguments, so the same script makes the same ids on every run) that runs the function
in a worker with the values of the futures it was given and pickles the result to
`<cache_folder>/futures/<qualname>/<hash>.pickle`. Futures passed in (also inside
lists, tuples, sets and dict values) are its dependencies; pathlib.Path arguments are
input files. On a class, `obj.method(...)` is a call with `obj` as first argument.
Inside a running call, a call is recorded and becomes a job when the outer call ends
(futures_jobs.py). A Future is not a value: using it as one raises TypeError; after
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
from pathlib import Path
from typing import Any

from . import util
from .errors import JobContractError
from .hashing import describe_function, hash_value
from .jobs.base import Job, current_graph


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
        if util.is_worker and graph.generation is None and not calls.recording():
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


def _walk(value: Any, visit: Callable[[Any], Any]) -> Any:
    """`value` with each Future and Path inside builtin containers replaced by `visit(it)`."""
    if isinstance(value, (Future, Path)):
        return visit(value)
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        return kind(_walk(item, visit) for item in value)
    if kind is dict:
        return {key: _walk(item, visit) for key, item in value.items()}
    return value


def _collect(args: tuple, kwargs: dict) -> tuple[list[Future], list[Path]]:
    futures: list[Future] = []
    paths: list[Path] = []

    def visit(item):
        (futures if isinstance(item, Future) else paths).append(item)
        return item

    _walk((args, kwargs), visit)
    return futures, paths


_hashed_futures: list[Future] = []  # the futures hash_value met while a call's arguments were hashed


class Future:
    """The result of a work function call that has not run: a job, not a value.

    Pass it to other work function calls (they get the value at run time); after
    `ppg.run_pipegraph()`, `value()` reads the stored result. `.job` is the job (for
    `depends_on`, `use_cores`, ...). Using a future as a value raises TypeError.
    """

    __hash__ = object.__hash__

    def __init__(self, job: Job):
        self.__dict__["job"] = job

    @property
    def job_id(self) -> str:
        """The call's id (for a call that nests, not its WorkNestJob's: ids do not depend on nesting)."""
        return calls.call_of(self.job).job_id

    def depends_on(self, *other_jobs) -> Future:
        """Add upstream jobs (futures count as their jobs) to this call; returns the future."""
        self.job.depends_on(_walk(list(other_jobs), _job_of))
        return self

    def value(self) -> Any:
        """The stored result; ValueError before the run, or when the call failed or did not run."""
        job = self.job
        graph = job._graph
        if graph.running:
            raise ValueError(
                f"{self!r}.value() during the run: pass the future to a work function, which "
                "gets its value when it runs."
            )
        if not graph.has_run:
            raise ValueError(
                f"{self!r} has no value yet: call ppg.run_pipegraph() first; value() reads the "
                "stored result afterwards."
            )
        if job.failed or job.error_reason != "no error":
            raise ValueError(
                f"{self!r} has no value: its job failed ({job.error_reason}); see the error "
                "ppg.run_pipegraph() raised."
            )
        filename = calls.result_file(job)
        if job._pruned or (job.run_reasons and not job.was_run) or not os.path.exists(filename):
            raise ValueError(
                f"{self!r} has no value: it did not run (pruned, or the run was interrupted) or "
                f"its cache file {filename} is missing. Run the pipeline again."
            )
        try:
            return calls.load_value(filename, job.job_id)
        except FileNotFoundError as exc:
            raise ValueError(f"{self!r} has no value: a call it was built from did not run "
                             f"({exc.filename} is missing).") from None

    def __ppg_fingerprint__(self) -> str:
        _hashed_futures.append(self)
        return f"future:{self.job_id}"

    def __repr__(self) -> str:
        return f"Future({self.job_id!r})"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        _not_a_value(self, f"the attribute .{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        _not_a_value(self, f"setting the attribute .{name}")

    def __reduce__(self):
        _hashed_futures.append(self)  # pickled by hash_value: inside an object
        return Future, (self.job,)


def _job_of(item):
    return item.job if isinstance(item, Future) else item


def _not_a_value(future: Future, what: str):
    raise TypeError(
        f"{future!r} is not a value ({what}): a work function call only schedules the work. "
        "Pass the future to another work function, which gets its value when it runs, or read "
        "future.value() after ppg.run_pipegraph()."
    )


def _blocked(what: str):
    def refuse(self, *args, **kwargs):
        _not_a_value(self, what)

    return refuse


_REFUSED = {
    "__str__": "str()", "__format__": "format()", "__bytes__": "bytes()", "__fspath__": "a path",
    "__bool__": "a truth test", "__len__": "len()", "__iter__": "iteration",
    "__reversed__": "reversed()", "__contains__": "'in'", "__getitem__": "indexing",
    "__setitem__": "item assignment", "__delitem__": "item deletion", "__call__": "a call",
    "__int__": "int()", "__float__": "float()", "__complex__": "complex()", "__index__": "an index",
    "__round__": "round()", "__neg__": "-", "__pos__": "+", "__abs__": "abs()", "__invert__": "~",
    "__eq__": "==", "__ne__": "!=", "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=",
}
for _op, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "matmul": "@", "truediv": "/", "floordiv": "//",
    "mod": "%", "divmod": "divmod()", "pow": "**", "lshift": "<<", "rshift": ">>", "and": "&",
    "or": "|", "xor": "^",
}.items():
    _REFUSED[f"__{_op}__"] = _REFUSED[f"__r{_op}__"] = _REFUSED[f"__i{_op}__"] = _symbol
for _name, _what in _REFUSED.items():
    setattr(Future, _name, _blocked(_what))
del _op, _symbol, _name, _what

from . import futures_jobs as calls  # noqa: E402 - the jobs use this module's Future
