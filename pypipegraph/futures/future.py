"""A work function call's result before and after it ran: the Future, and reading its value.

Invariant: a Future is never a value. Using it as one raises TypeError; its value is read
from the call's result file only after the run, and only when that file's content is the
one the store recorded (store.cache_files). A result file holds the pickled value, or MAGIC
and a nested record whose inner futures are read from their own result files.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import JobContractError
from ..store.cache_files import read_verified

if TYPE_CHECKING:
    from ..jobs.base import Job

MAGIC = b"PPG-NESTED-CALLS\x00"

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
        return call_of(self.job).job_id

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
        filename = result_file(job)
        if job._pruned or (job.run_reasons and not job.was_run) or not os.path.exists(filename):
            raise ValueError(
                f"{self!r} has no value: it did not run (pruned, or the run was interrupted) or "
                f"its cache file {filename} is missing. Run the pipeline again."
            )
        try:
            return load_value(filename, job.job_id)
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

def call_of(job):
    """The call behind `job`: a call (or Pending) itself, or a nesting job's call."""
    return job.call


def result_file(job) -> str:
    """The file holding the result of the call behind `job` (a call, its nest job or a Pending)."""
    return call_of(job).filenames[0]


def value_in_worker(item):
    if isinstance(item, Future):
        return load_value(result_file(item.job), item.job.job_id)
    return item


def load_value(filename: str, job_id: str) -> Any:
    """A call's value, with the futures of a nested result replaced by their values."""
    try:
        data = read_verified(filename, job_id, job_id)
        if not data.startswith(MAGIC):
            return pickle.loads(data)
        value, _ = pickle.loads(data[len(MAGIC):])
    except FileNotFoundError:
        raise  # the call did not run: the caller says what that means
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise JobContractError(
            f"{job_id}: the result file {filename} could not be read ({type(exc).__name__}: {exc}). "
            "Delete it to have it recalculated."
        ) from exc
    return _walk(value, value_in_worker)
