"""The futures API: `@ppg.work` turns a function into a job factory; a call returns a Future.

Invariant: calling a work function never runs it. The call becomes a job (one per
function and distinct arguments: its id is the function's qualname plus a hash of the
arguments, so the same script makes the same ids on every run) that runs the function
in a worker with the values of the futures it was given and pickles the result to
`<cache_folder>/futures/<qualname>/<hash>.pickle`. Futures passed in (also inside
lists, tuples, sets and dict values) are its dependencies; pathlib.Path arguments are
input files. A Future is not a value: using it as one raises TypeError; after `run()`,
`future.value()` reads the stored result.

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
from .hashing import describe_function, function_fingerprint, hash_value
from .jobs.base import Job, current_graph
from .jobs.invariants import FunctionInvariant
from .jobs.loading import load_cache, write_cache
from .jobs.output import FileGeneratingJob


def work(function: Callable | None = None, /):
    """Decorator: `@ppg.work` (or `@ppg.work()`) makes `function` a WorkFunction.

    Calling it returns a Future; the function runs in a worker during `run()`.
    """
    if function is None:
        return work
    if isinstance(function, WorkFunction):
        return function
    if not callable(function) or isinstance(function, type):
        raise TypeError(f"ppg.work decorates a function, got {function!r}")
    return WorkFunction(function)


class WorkFunction:
    """A function whose calls are jobs. `.function` is the plain function."""

    def __init__(self, function: Callable):
        self.function = function
        self.name = getattr(function, "__qualname__", None) or describe_function(function)
        self.signature = inspect.signature(function)
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs) -> Future:
        graph = current_graph(f"call the work function {self.name}")
        if util.is_worker and graph.generation is None:
            raise JobContractError(
                f"The work function {self.name} was called inside a running job. Work functions "
                "build the graph: call them in the script (or in a JobGeneratingJob's callback), "
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
        new = job_id not in graph.jobs
        job = WorkCallJob(job_id, filename, self, args, kwargs)
        if new:  # the same call again is the same job, with the same dependencies
            job.depends_on([future.job for future in futures])
            for path in paths:
                job.depends_on_file(path)
        return Future(job)

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


class WorkCallJob(FileGeneratingJob):
    """One call of a work function: runs it in a worker with the values of the
    futures it got, and pickles the result to its cache file."""

    def __new__(cls, job_id, *args, **kwargs):
        return Job.__new__(cls, job_id)

    def __init__(self, job_id: str, filename: str, work_function: WorkFunction,
                 args: tuple, kwargs: dict):
        previous = self.__dict__.get("work")
        if previous is not None:
            if previous is not work_function and (
                function_fingerprint(previous.function) != function_fingerprint(work_function.function)
            ):
                raise ValueError(
                    f"Work function call {job_id!r}: {work_function.name} was called with the same "
                    "arguments as another work function of that name, with other code, defaults or "
                    "closure values. Give the functions distinct names."
                )
            return
        self.work = work_function
        self.args = args
        self.kwargs = kwargs
        self._setup([filename], self._compute, False, False)

    def _compute(self, filename: str) -> None:
        args, kwargs = _walk((self.args, self.kwargs), _value_in_worker)
        value = self.work.function(*args, **kwargs)
        os.makedirs(os.path.dirname(filename), exist_ok=True)
        write_cache(filename, value, self.job_id, f"the result of {self.work.name}")

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant(self.job_id + "_func", self.work.function)]


_hashed_futures: list[Future] = []  # the futures hash_value met while a call's arguments were hashed


def _value_in_worker(item):
    if isinstance(item, Future):
        return load_cache(item.job.filenames[0], item.job.job_id)
    return item


class Future:
    """The result of a work function call that has not run: a job, not a value.

    Pass it to other work function calls (they get the value at run time); after
    `ppg.run_pipegraph()`, `value()` reads the stored result. `.job` is the job (for
    `depends_on`, `use_cores`, ...). Using a future as a value raises TypeError.
    """

    __hash__ = object.__hash__

    def __init__(self, job: WorkCallJob):
        self.__dict__["job"] = job

    @property
    def job_id(self) -> str:
        return self.job.job_id

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
        filename = job.filenames[0]
        if job._pruned or (job.run_reasons and not job.was_run) or not os.path.exists(filename):
            raise ValueError(
                f"{self!r} has no value: it did not run (pruned, or the run was interrupted) or "
                f"its cache file {filename} is missing. Run the pipeline again."
            )
        return load_cache(filename, job.job_id)

    def __ppg_fingerprint__(self) -> str:
        _hashed_futures.append(self)
        return f"future:{self.job.job_id}"

    def __repr__(self) -> str:
        return f"Future({self.job.job_id!r})"

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
