"""Process-wide state and small helpers users reach as `ppg.util`.

`global_pipegraph` is the current graph; jobs register with it when created.
Setting it to None forgets the graph. Nothing here imports the engine's modules.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path
from typing import Any

global_pipegraph: Any = None

# Set in forked workers so that code can tell it runs inside a job.
is_worker = False

# The pid of the process running a job in a local worker (0 elsewhere): see call_job_code().
job_process = 0

# Set by `ppg why/graph/accept`: run_pipegraph() prepares the graph and stops the script.
plan_mode = False


def call_job_code(callback, *args):
    """Call a job's callback in its worker; a copy of the job's process that the callback
    forked (a helper that returned or raised where the job would) ends here, silently,
    before the engine's code after the callback can remove outputs or report for the job."""
    try:
        result = callback(*args)
    except BaseException:
        if job_process and os.getpid() != job_process:
            os._exit(1)
        raise
    if job_process and os.getpid() != job_process:
        os._exit(0)
    return result


def inside_ppg() -> bool:
    """True when a pipegraph exists (useful in libraries that build jobs)."""
    return global_pipegraph is not None


def job_or_filename(value: Any, invariant_class: Any = None) -> tuple[Any, list]:
    """For a job or a filename: (filename, dependencies to add).

    A job yields its first output file; a filename yields itself and the job that
    writes it (when one exists in the current graph), else `invariant_class(filename)`
    (default: a file checksum invariant). None yields (None, []).
    """
    from .jobs.base import Job
    from .jobs.invariants import FileInvariant

    if value is None:
        return None, []
    if isinstance(value, Job):
        return value.filenames[0], [value]
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a job or a filename, got {value!r}")
    graph = global_pipegraph
    if graph is not None and invariant_class is None:
        writer = graph.outputs.get(value)
        if writer is None:
            from .paths import normalize_path

            writer = graph.outputs.get(normalize_path(value))
        if writer is not None:
            return value, [writer]
    return value, [(invariant_class or FileInvariant)(value)]


def checksum_file(filename: str) -> str:
    """Hex md5 of a file's content (the checksum 0.197 stores and libraries write)."""
    import hashlib

    digest = hashlib.md5()
    with open(filename, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def flatten_jobs(value: Any):
    """Yield the jobs of an arbitrarily nested iterable of jobs."""
    from .jobs.base import Job

    if isinstance(value, Job):
        yield value
        return
    for item in value:
        yield from flatten_jobs(item)


def file_exists(filename: str) -> bool:
    return os.path.exists(filename)


def stat(filename: str) -> os.stat_result:
    """os.stat of a file (0.197 cached it for a second; a fresh stat is always right)."""
    return os.stat(filename)


def output_file_exists(filename: str) -> bool:
    """True when the file exists and is not empty."""
    try:
        return os.stat(filename).st_size > 0
    except OSError:
        return False


def CPUs() -> int:  # noqa: N802 - 0.197's name
    """Cores of this machine (0.197's name for cpu_count)."""
    return cpu_count()


def freeze(obj: Any) -> Any:
    """A hashable equivalent of `obj`: dicts become sorted tuples of items, lists tuples,
    sets frozensets, DataFrames the tuple of their row hashes. Libraries hash their
    parameters with it. TypeError for anything else that is unhashable."""
    try:
        hash(obj)
        return obj
    except TypeError:
        pass
    if isinstance(obj, dict):
        return tuple(sorted((key, freeze(value)) for key, value in obj.items()))
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(item) for item in obj)
    if isinstance(obj, set):
        return frozenset(obj)
    if type(obj).__name__ == "DataFrame":
        import pandas as pd

        return tuple(freeze(x) for x in pd.util.hash_pandas_object(obj))
    raise TypeError(f"freeze(): unsupported type {type(obj).__name__!r}")


def assert_uniqueness_of_object(obj: Any, pipeline: Any = None, also_check: Any = None) -> None:
    """Only one object of a class may carry a given `.name` per graph; sets `obj.unique_id`.

    Libraries call this in every constructor so that jobs write into the object the
    user works with. ValueError for a "/" in the name or a second object of that
    class (or of a class in `also_check`) with that name.
    """
    pipeline = pipeline if pipeline is not None else global_pipegraph
    name = obj.name
    if pipeline is None:  # no graph: nothing to be unique within (0.197 crashed here)
        obj.unique_id = 0
        if "/" in name:
            raise ValueError(f"Names must not contain /: {name!r} ({type(obj).__name__})")
        return
    if "/" in name:
        raise ValueError(
            f"Names must not contain /: {name!r} ({type(obj).__name__}); the name is used "
            "as a directory name."
        )
    registry = pipeline.object_uniquifier
    seen = registry.setdefault(type(obj), {})
    others = also_check if isinstance(also_check, list) else ([also_check] if also_check else [])
    for cls in [type(obj)] + others:
        if name in registry.get(cls, ()):
            raise ValueError(
                f"Doublicate object: {cls}, {name} - a second {cls.__name__} named {name!r} "
                "was created in this pipegraph; names must be unique per class."
            )
    obj.unique_id = len(seen)
    seen[name] = True


def load_invariant_stati(filename: str) -> dict:
    """The records of a 0.197 status file (job id -> stored invariant value), read
    without running code from it (see pypipegraph.legacy_store)."""
    from .legacy_store import read_status_file

    return read_status_file(filename)


def cpu_count() -> int:
    """Cores this process may use (respects CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def memory_total() -> int:
    """Physical memory in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Have the kernel send `signum` (SIGKILL) to this process when its parent dies (Linux; else a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signum))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` from the first frame outside pypipegraph on (the user's code).

    The engine's own frames before it (worker loop, job wrappers) say nothing to the
    user; a traceback that never left the engine is kept whole.
    """
    import traceback

    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ENGINE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
