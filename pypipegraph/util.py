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

# Set by `ppg why/graph/accept`: run_pipegraph() prepares the graph and stops the script.
plan_mode = False


def inside_ppg() -> bool:
    """True when a pipegraph exists (useful in libraries that build jobs)."""
    return global_pipegraph is not None


def job_or_filename(value: Any) -> tuple[str, list]:
    """For a job or a filename: (filename, dependencies to add).

    A job yields its first output file; a filename yields itself and a file invariant
    (or the job that writes it, when one exists in the current graph).
    """
    from .jobs.base import Job
    from .jobs.invariants import FileInvariant

    if isinstance(value, Job):
        return value.filenames[0], [value]
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a job or a filename, got {value!r}")
    graph = global_pipegraph
    if graph is not None and value in graph.outputs:
        return value, [graph.outputs[value]]
    return value, [FileInvariant(value)]


def checksum_file(filename: str) -> str:
    """Hex xxh3-64 of a file's content."""
    from .hashing import hash_file

    return "%016x" % hash_file(filename)


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


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; else a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
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
