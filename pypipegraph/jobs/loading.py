"""In-memory jobs: load data into the master, where forked workers see it copy-on-write.

Invariant: a loading job runs in the master and only when a dependant has to run. It
has no stored output; its fingerprint is that of its inputs (its function, its
invariants, its upstream outputs), so a dependant reruns because of a loader only
when one of those changed. A loader may not create jobs (JobContractError) and a
`chdir` inside it is undone. Cached variants compute in a worker, pickle to a file
(the `.lfg` job) and unpickle in the master.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

from ..errors import JobContractError
from ..plumbing.safe_files import write_file
from ..store.cache_files import read_verified
from .base import Job, check_no_argument_callback
from .invariants import FunctionInvariant
from .output import FileGeneratingJob


class DataLoadingJob(Job):
    """Runs `callback()` in the master when a dependant has to run; store the data yourself."""

    lazy = True
    runs_in = "master"

    def __init__(self, job_id, callback: Callable):
        self._setup_loader(callback, ())

    def _setup_loader(self, callback, extra_signature: tuple) -> None:
        check_no_argument_callback(self, callback)
        if self._init_once((getattr(callback, "__code__", callback),) + extra_signature):
            self._check_same_function(self.callback, callback)
            return
        self.callback = callback
        self._register()

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant.of(self, self.callback)]

    def run_in_master(self) -> None:
        """Run the callback; no job creation, and the working directory is restored."""
        home = os.getcwd()
        graph = self._graph
        graph.job_creation_forbidden_by = self
        try:
            self.load()
        finally:
            graph.job_creation_forbidden_by = None
            if os.getcwd() != home:
                os.chdir(home)

    def load(self) -> None:
        self.callback()


class AttributeLoadingJob(DataLoadingJob):
    """Sets `object.attribute_name = callback()` in the master when a dependant has to run,
    and deletes it once all its direct dependants ran (0.197)."""

    def __init__(self, job_id, object: Any, attribute_name: str, callback: Callable):  # noqa: A002
        if not isinstance(attribute_name, str):
            raise ValueError(
                f"AttributeLoadingJob {self.job_id!r}: attribute_name must be a str, got {attribute_name!r}"
            )
        self._setup_loader(callback, (id(object), attribute_name))
        self.object = object
        self.attribute_name = attribute_name

    def load(self) -> None:
        setattr(self.object, self.attribute_name, self.callback())

    def cleanup(self) -> None:
        """Once every direct dependant ran, the attribute is deleted again (as in 0.197)."""
        try:
            delattr(self.object, self.attribute_name)
        except AttributeError:
            pass


class _CacheFileJob(FileGeneratingJob):
    """The `.lfg` of a cached job: runs the calculation in a worker and pickles the result."""

    def __init__(self, cache_filename, calc_function: Callable):
        check_no_argument_callback(self, calc_function, "calc_function")
        previous = self.__dict__.get("calc_function")
        if previous is not None:
            if _code(previous) != _code(calc_function):
                raise ValueError(
                    f"Cached job {self.job_id!r} was defined twice with different calc functions. "
                    "Each cache file belongs to one calculation; use another filename."
                )
            return
        self.calc_function = calc_function
        self._setup([self.job_id], self._calculate, False, False)

    def _calculate(self, filename: str) -> None:
        write_cache(filename, self.calc_function(), self.job_id)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant.of(self, self.calc_function)]


def _code(func):
    return getattr(func, "__code__", func)


def write_cache(filename: str, value: Any, job_id: str, what: str = "the calculation's result") -> None:
    """Pickle `value` to a cache file, with an error that names the job when that fails."""
    write_file(filename, pickle_for_cache(value, job_id, what))  # a new file: never through a planted link


def pickle_for_cache(value: Any, job_id: str, what: str = "the calculation's result",
                     dumps: Callable = pickle.dumps) -> bytes:
    """`value` pickled; JobContractError naming the job when it cannot be."""
    try:
        return dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise JobContractError(
            f"{job_id}: {what} ({type(value).__name__}) cannot be pickled "
            f"into the cache file: {exc}"
        ) from exc


def load_cache(filename: str, job_id: str, producer_id: str | None = None) -> Any:
    """Unpickle a cache file written by job `producer_id` (default: the file's own job),
    after checking it is the file that job wrote (cache_files); an error names it."""
    try:
        return pickle.loads(read_verified(filename, producer_id or filename, job_id))
    except JobContractError:
        raise  # a replaced file: its own message
    except Exception as exc:
        raise JobContractError(
            f"{job_id}: Unpickling error in file {filename} ({type(exc).__name__}: {exc}). "
            "Delete it to have it recalculated."
        ) from exc


def _cache_id(cache_filename: Any, cls_name: str) -> str:
    """'<cache file>_load'; TypeError for a cache file name that is not a str or Path."""
    if not isinstance(cache_filename, (str, os.PathLike)):
        raise TypeError(
            f"{cls_name}: cache_filename must be a str or pathlib.Path, got "
            f"{type(cache_filename).__name__} {cache_filename!r}"
        )
    return os.fspath(cache_filename) + "_load"


class _CachedMixin:
    """Shared by the cached loaders: `.lfg`, and dependencies go to the calculation."""

    def _setup_cache(self, cache_filename: str, calc_function: Callable) -> None:
        self.cache_filename = cache_filename
        self.lfg = _CacheFileJob(cache_filename, calc_function)
        Job._add_prerequisite(self, self.lfg)

    def depends_on(self, *other_jobs):
        """Dependencies of a cached job belong to its calculation (`.lfg`)."""
        self.lfg.depends_on(*other_jobs)
        return self

    def ignore_code_changes(self) -> None:
        self.lfg.ignore_code_changes()
        Job.ignore_code_changes(self)

    def use_cores(self, cores: int):
        """The calculation (`.lfg`) is what uses the cores."""
        self.lfg.use_cores(cores)
        return self

    def auto_invariants(self) -> list[Job]:
        return []


class CachedAttributeLoadingJob(_CachedMixin, AttributeLoadingJob):
    """`object.attribute_name = calc_function()`, cached in `cache_filename`.

    The calculation runs in a worker only when the cache is out of date; loading
    happens in the master only when a dependant has to run.
    """

    def __new__(cls, cache_filename, *args, **kwargs):
        return Job.__new__(cls, _cache_id(cache_filename, cls.__name__))

    def __init__(self, cache_filename, object: Any, attribute_name: str, calc_function: Callable):  # noqa: A002
        check_no_argument_callback(self, calc_function, "calc_function")
        first = "lfg" not in self.__dict__
        if not first:
            _CacheFileJob(str(cache_filename), calc_function)  # raises on another calculation
        AttributeLoadingJob.__init__(self, self.job_id, object, attribute_name, self._load)
        if first:
            self._setup_cache(str(cache_filename), calc_function)

    def _load(self):
        return load_cache(self.cache_filename, self.job_id)


class CachedDataLoadingJob(_CachedMixin, DataLoadingJob):
    """`store_function(calc_function())`, with the calculation cached in `cache_filename`."""

    def __new__(cls, cache_filename, *args, **kwargs):
        return Job.__new__(cls, _cache_id(cache_filename, cls.__name__))

    def __init__(self, cache_filename, calc_function: Callable, store_function: Callable):
        check_no_argument_callback(self, calc_function, "calc_function")
        if not callable(store_function):
            raise ValueError(f"{self.job_id}: loading_function was not a callable (got {store_function!r})")
        first = "lfg" not in self.__dict__
        if not first:
            _CacheFileJob(str(cache_filename), calc_function)  # raises on another calculation
            if _code(self.store_function) != _code(store_function):
                raise ValueError(
                    f"CachedDataLoadingJob {self.job_id!r} was defined twice with different "
                    "store functions; use another cache filename."
                )
            return
        self.store_function = store_function
        DataLoadingJob.__init__(self, self.job_id, self._load)
        self._setup_cache(str(cache_filename), calc_function)

    def _load(self):
        self.store_function(load_cache(self.cache_filename, self.job_id))


class MemMappedDataLoadingJob(_CachedMixin, DataLoadingJob):
    """`loading_function(numpy.memmap(cache_filename))`; the array comes from
    `calculating_function()` (must be a numpy array of `dtype`), computed in a worker."""

    def __new__(cls, cache_filename, *args, **kwargs):
        if not isinstance(cache_filename, (str, os.PathLike)):
            raise TypeError(f"MemMappedDataLoadingJob: cache_filename/job_id was not a string object: {cache_filename!r}")
        return Job.__new__(cls, str(cache_filename) + "_load")

    def __init__(self, cache_filename, calculating_function: Callable, loading_function: Callable, dtype):
        for name, func in (("calculating_function", calculating_function), ("loading_function", loading_function)):
            if not callable(func):
                raise ValueError(f"MemMappedDataLoadingJob {self.job_id!r}: {name} was not a callable")
        if "lfg" in self.__dict__:
            return
        filename = Job.verify_job_id(cache_filename)
        self.dtype = dtype
        self.calculating_function = calculating_function
        self.loading_function = loading_function

        def load() -> None:
            import numpy

            loading_function(numpy.memmap(filename, dtype, mode="r"))

        def calculate() -> None:
            import numpy

            data = calculating_function()
            if not isinstance(data, numpy.ndarray):
                raise JobContractError(f"MemMappedDataLoadingJob {filename!r}: Data must be a numpy array")
            if data.dtype != dtype:
                raise JobContractError(
                    f"MemMappedDataLoadingJob {filename!r}: Data had wrong dtype. Expected {dtype}, was {data.dtype}"
                )
            mapped = numpy.memmap(filename, dtype, "w+", shape=data.shape)
            mapped[:] = data
            mapped.flush()

        DataLoadingJob.__init__(self, self.job_id, load)
        self.cache_filename = filename
        self.lfg = FileGeneratingJob(filename, calculate)
        Job._add_prerequisite(self, self.lfg)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant.of(self, self.loading_function)]
