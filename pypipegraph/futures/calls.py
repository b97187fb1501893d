"""The jobs behind work function calls: computing a call, reusing it by content, nesting.

Invariant: a call's result file holds either the pickled value, or (when the call made
work function calls while it ran) MAGIC + a "nested" record: the value with inner
futures in it and the inner calls themselves. A nested call has a companion
WorkNestJob that always runs after it: it turns the recorded inner calls into jobs of
the running graph (as a DependencyInjectionJob does) and makes the call's dependants
wait for them; reading the value resolves inner futures from their own result files.
A call computes only when no trustworthy result exists under its content key
(result_cache.py); a nested record is never shared (it names this project's files).
"""

from __future__ import annotations

import os
import pickle
import sys
import types
from typing import Any

from ..errors import JobContractError
from ..hashing import combine, function_fingerprint, hash_file, hash_value
from ..jobs.base import Job
from ..jobs.generating import DependencyInjectionJob
from ..jobs.invariants import FunctionInvariant
from ..jobs.loading import pickle_for_cache
from ..jobs.output import FileGeneratingJob
from ..plumbing.safe_files import write_file
from ..plumbing.script_functions import reduce_main_function
from ..store.cache_files import read_verified
from .future import MAGIC, Future, _walk, result_file, value_in_worker
from .result_cache import caches_of

_recorder: list | None = None  # while a call runs in a worker: the work calls it made


class WorkCallJob(FileGeneratingJob):
    """One call of a work function: runs it in a worker with the values of the
    futures it got, and pickles the result to its cache file."""

    def __new__(cls, job_id, *args, **kwargs):
        return Job.__new__(cls, job_id)

    def __init__(self, job_id: str, filename: str, work_function, args: tuple, kwargs: dict):
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
        self.call_inputs: set = set()  # ids of the jobs the call's arguments made it depend on
        self._setup([filename], self._compute, False, False)

    @property
    def call(self) -> WorkCallJob:
        """The call itself (a WorkNestJob's `call` is the call it nests)."""
        return self

    def _compute(self, filename: str) -> None:
        global _recorder
        key = content_key(self) if self._graph.result_cache is not None or _has_inputs(self) else None
        caches = caches_of(self._graph) if key else []
        for cache in caches:
            data = cache.fetch(key)
            if data is not None:
                _write_file(filename, data)
                print(f"{self.job_id}: result reused by content key {key[:16]} from {cache.directory}")
                return
        args, kwargs = _walk((self.args, self.kwargs), value_in_worker)
        _recorder = []
        try:
            value = self.work.function(*args, **kwargs)
            inner = _recorder
        finally:
            _recorder = None
        if inner and not self.work.may_nest(self.args):
            raise JobContractError(
                f"{self.job_id}: {self.work.name} called the work function {inner[0][0].name} while "
                "it ran, but was not declared to: decorate it with @ppg.work(nests=True) so its calls "
                "become jobs of the running graph (or call the plain function "
                f"{inner[0][0].name}.function(...) to compute inline)."
            )
        if inner or _holds_futures(value):
            data = MAGIC + pickle_for_cache((value, inner), self.job_id,
                                            f"the result of {self.work.name}", _dumps_nested)
            _write_file(filename, data)
            return
        data = pickle_for_cache(value, self.job_id, f"the result of {self.work.name}")
        _write_file(filename, data)
        for i, cache in enumerate(caches):  # the project's own store shares the file's inode
            cache.store(key, data, self.work.name, link_from=filename if i == 0 else None)

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant.of(self, self.work.function)]


class WorkNestJob(DependencyInjectionJob):
    """Turns the work calls a nested call made into jobs; its dependants wait for them."""

    def __new__(cls, call, *args, **kwargs):
        return Job.__new__(cls, call.job_id + " (calls)")

    def __init__(self, call: WorkCallJob):
        if self._init_once((call.job_id,)):
            return
        self.check_for_dependency_injections = True
        self.call = call
        self.callback = self._generate
        self._register()
        self.depends_on(call)

    def auto_invariants(self) -> list[Job]:
        return []  # the call's FunctionInvariant watches the code

    def _generate(self) -> list[Job]:
        data = read_verified(self.call.filenames[0], self.call.job_id, self.job_id)
        if not data.startswith(MAGIC):
            return []
        _, inner = pickle.loads(data[len(MAGIC):])
        made: dict[str, Future] = {}

        def real(item):
            if isinstance(item, Future) and isinstance(item.job, Pending):
                return made[item.job.job_id]
            return item

        for work_function, args, kwargs in inner:
            args, kwargs = _walk((args, kwargs), real)
            future = work_function(*args, **kwargs)
            made[future.job_id] = future
        return [future.job for future in made.values()]

    def fingerprint_of(self, new_jobs: list[Job]) -> int:
        filename = self.call.filenames[0]
        return hash_file(filename) if os.path.exists(filename) else combine([self.job_id])


class Pending:
    """Stands for a call made inside a running call, until its WorkNestJob makes it a job."""

    def __init__(self, job_id: str, filename: str, graph):
        self.job_id = job_id
        self.filenames = [filename]
        self._graph = graph

    @property
    def call(self) -> Pending:
        return self

    def __reduce__(self):
        return Pending, (self.job_id, self.filenames[0], None)


def record_call(work_function, job_id: str, filename: str, args: tuple, kwargs: dict, graph):
    """Inside a running call: note the call (its job is made later); return its future."""
    _recorder.append((work_function, args, kwargs))
    return Future(Pending(job_id, filename, graph))


def recording() -> bool:
    return _recorder is not None


def content_key(job: WorkCallJob) -> str | None:
    """The call's key by content: function fingerprint, argument values, Path contents and
    upstream values. None when the call depends on something the key does not see."""
    allowed = job.call_inputs | {FunctionInvariant.id_of(job.job_id)}
    if any(up.job_id not in allowed for up in job.prerequisites):
        return None
    unkeyable = []

    def by_content(item):
        if isinstance(item, Future):
            return ("value", value_hash(item.job))
        if not os.path.isfile(item):
            unkeyable.append(item)
            return None
        return ("file", str(item), hash_file(os.fspath(item)))

    parts = _walk((job.args, job.kwargs), by_content)
    if unkeyable:
        return None
    try:
        digest = hash_value((job.work.module, job.work.name, function_fingerprint(job.work.function),
                             sys.version_info[:2], parts))
    except TypeError:
        return None
    return f"{digest:016x}"










def value_hash(job) -> int:
    """The content hash of a call's value, following the inner calls of a nested result."""
    filename = result_file(job)
    data = read_verified(filename, job.job_id, job.job_id)
    if not data.startswith(MAGIC):
        return hash_file(filename)
    value, inner = pickle.loads(data[len(MAGIC):])
    found: list[int] = []
    _walk(value, lambda item: found.append(value_hash(item.job))
              if isinstance(item, Future) else item)
    return combine([hash_file(filename), *found, len(inner)])


def _has_inputs(job: WorkCallJob) -> bool:
    """Whether the call got a Path or a future: inputs whose content its id does not name.

    Other calls are only kept by content in a shared result cache: their id already
    names their arguments, and for the many tiny calls of a fan-out the lookup would
    cost more than the call.
    """
    found = []
    _walk((job.args, job.kwargs), found.append)
    return bool(found)


def _holds_futures(value: Any) -> bool:
    found = []
    _walk(value, lambda item: found.append(item) if isinstance(item, Future) else item)
    return bool(found)


def _write_file(filename: str, data: bytes) -> None:
    """Write a new file: an old one may be hard-linked into the content store, whose
    copy must not change, so a new file is renamed over it rather than overwritten."""
    os.makedirs(os.path.dirname(filename), exist_ok=True)
    write_file(filename, data)


def _dumps_nested(value, protocol: int) -> bytes:
    """cloudpickle (inner calls may use functions of the script), keeping the script's
    functions on its real globals and its classes by reference (workers share `__main__`)."""
    import io

    import cloudpickle

    main_globals = getattr(sys.modules.get("__main__"), "__dict__", {})

    class _Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj):
            if isinstance(obj, types.FunctionType) and obj.__globals__ is main_globals:
                return reduce_main_function(obj)
            if isinstance(obj, type) and obj.__module__ == "__main__" and \
                    main_globals.get(obj.__qualname__) is obj:
                return NotImplemented
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=protocol).dump(value)
    return buffer.getvalue()
