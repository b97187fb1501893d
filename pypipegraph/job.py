"""The job classes under pypipegraph 0.197's module name (`pypipegraph.job`).

Invariant: re-exports only (the classes live in pypipegraph.jobs.*), plus what 0.197 code
imports from here: `function_to_str`, `was_inited_before`, `NotebookJob` and the invariant
base `_InvariantJob`.
"""

from __future__ import annotations

from collections.abc import Callable

from .jobs.base import Job, JobList
from .jobs.generating import DependencyInjectionJob, FinalJob, JobGeneratingJob
from .jobs.invariants import (
    FileChecksumInvariant,
    FileInvariant,
    FileTimeInvariant,
    FunctionInvariant,
    MultiFileInvariant,
    ParameterInvariant,
    RobustFileChecksumInvariant,
    _Invariant,
)
from .jobs.loading import (
    AttributeLoadingJob,
    CachedAttributeLoadingJob,
    CachedDataLoadingJob,
    DataLoadingJob,
    MemMappedDataLoadingJob,
)
from .jobs.output import (
    FileGeneratingJob,
    MultiFileGeneratingJob,
    MultiTempFileGeneratingJob,
    TempFileGeneratingJob,
    TempFilePlusGeneratingJob,
)
from .jobs.plots import CombinedPlotJob, PlotJob


class _InvariantJob(_Invariant):
    """0.197's base class of invariants: it cannot have dependencies (JobContractError); a
    subclass gives its value with `_get_invariant(old, all_invariant_stati)`."""

    compute = Job._compute_via_get_invariant


def function_to_str(func: Callable | None) -> str:
    """'<file> <first line>' of a function (its name for builtins), for messages."""
    if func is None:
        return "None 0"
    code = getattr(func, "__code__", None)
    if code is None:
        return str(func)
    return f"{code.co_filename} {code.co_firstlineno}"


def was_inited_before(obj: object, cls: type) -> bool:
    """Whether `cls.__init__` already ran on `obj`, marking it as run now (0.197's helper).

    A job class calls it first in its constructor: creating a job whose id exists returns
    the existing object, and `__init__` runs on it again. Only for `obj` exactly of `cls`
    (a subclass's constructor asks for its own class); False otherwise.
    """
    if type(obj) is not cls:
        return False
    before = "_was_inited" in obj.__dict__
    obj._was_inited = True
    return before


def NotebookJob(notebook_filename, auto_detect_dependencies: bool = True):  # noqa: N802 - 0.197's name
    """Not supported: 0.197's NotebookJob drove a notebook tool that no longer exists."""
    raise NotImplementedError(
        f"NotebookJob({notebook_filename!r}) is not supported: pypipegraph 0.197's version ran the "
        "notebook through a conversion tool that is no longer available. Run the notebook from a "
        "FileGeneratingJob instead, e.g. with `jupyter nbconvert --execute --to html` via subprocess."
    )


__all__ = [
    "AttributeLoadingJob", "CachedAttributeLoadingJob", "CachedDataLoadingJob", "CombinedPlotJob",
    "DataLoadingJob", "DependencyInjectionJob", "FileChecksumInvariant", "FileGeneratingJob",
    "FileInvariant", "FileTimeInvariant", "FinalJob", "FunctionInvariant", "Job", "JobGeneratingJob",
    "JobList", "MemMappedDataLoadingJob", "MultiFileGeneratingJob", "MultiFileInvariant",
    "MultiTempFileGeneratingJob", "NotebookJob", "ParameterInvariant", "PlotJob",
    "RobustFileChecksumInvariant", "TempFileGeneratingJob", "TempFilePlusGeneratingJob",
    "function_to_str", "was_inited_before",
]
