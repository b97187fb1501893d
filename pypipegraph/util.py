"""0.197's `pypipegraph.util`: the current graph and the helpers libraries call.

Invariant: no behaviour of its own and nothing of the engine imports it. The engine keeps
the current graph in `pypipegraph.state`; `util.global_pipegraph` (and `is_worker`,
`plan_mode`) read and write those very values, so `ppg.util.global_pipegraph = None`
forgets the graph as in 0.197.
"""

from __future__ import annotations

import os
import sys
import time
import types
from typing import Any

from . import state
from .jobs.invariants import flatten_jobs, job_or_filename
from .legacy.protocol import output_exists
from .legacy.store import read_status_file
from .legacy.values import checksum_file
from .plumbing.host import cpu_count, die_with_parent, memory_total
from .plumbing.modules import user_traceback

__all__ = [
    "CPUs", "assert_uniqueness_of_object", "checksum_file", "cpu_count", "die_with_parent",
    "file_exists", "flatten_jobs", "freeze", "inside_ppg", "job_or_filename", "load_invariant_stati",
    "memory_total", "output_file_exists", "stat", "user_traceback",
]

_STATE = ("global_pipegraph", "is_worker", "plan_mode")


class _UtilModule(types.ModuleType):
    """Forwards the process state's names to `pypipegraph.state`."""

    def __getattr__(self, name: str) -> Any:
        if name in _STATE:
            return getattr(state, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _STATE:
            setattr(state, name, value)
        else:
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _UtilModule


def inside_ppg() -> bool:
    """True when a pipegraph exists (useful in libraries that build jobs)."""
    return state.global_pipegraph is not None


def file_exists(filename: str) -> bool:
    return os.path.exists(filename)


def stat(filename: str) -> os.stat_result:
    """os.stat of a file, cached per graph for one second (as in 0.197, which libraries
    call it for many files at once); without a graph, a fresh stat."""
    graph = state.global_pipegraph
    if graph is None:
        return os.stat(filename)
    cache = graph.stat_cache
    now = time.time()
    hit = cache.get(filename)
    if hit is None or now - hit[1] > 1:
        hit = cache[filename] = (os.stat(filename), now)
    return hit[0]


def output_file_exists(filename: str) -> bool:
    """True when the file exists and is not empty."""
    return output_exists(filename)


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
    pipeline = pipeline if pipeline is not None else state.global_pipegraph
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
    without running code from it (see pypipegraph.legacy.store)."""
    return read_status_file(filename)
