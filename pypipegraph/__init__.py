"""pypipegraph: a make-style incremental job graph for Python.

Build a graph of jobs, call `run()`; only what changed since last time runs, in
parallel on forked workers, and finished work is never lost.

    import pypipegraph as ppg
    ppg.new_pipegraph()
    ppg.FileGeneratingJob("hello.txt", lambda of: open(of, "w").write("hi") and None)
    ppg.run_pipegraph()
"""

from . import resource_coordinators, util
from .dask_coordinator import DaskCoordinator
from .errors import (
    CycleError,
    JobContractError,
    JobDiedException,
    NothingChanged,
    PyPipeGraphError,
    PyPipelineGraphError,
    RunInterrupted,
    RuntimeError,
    StoreError,
    StoreLocked,
)
from .events import Listener
from .futures import Future, work
from .graph import Pipegraph, new_pipegraph, run_pipegraph
from .jobqueue_coordinator import JobqueueCoordinator
from .jobs.base import Job, JobList
from .jobs.command import CommandFailed, CommandInvariant, CommandJob
from .jobs.generating import DependencyInjectionJob, FinalJob, JobGeneratingJob
from .jobs.invariants import (
    FileChecksumInvariant,
    FileInvariant,
    FileTimeInvariant,
    FunctionInvariant,
    MultiFileInvariant,
    ParameterInvariant,
    RobustFileChecksumInvariant,
)
from .jobs.loading import (
    AttributeLoadingJob,
    CachedAttributeLoadingJob,
    CachedDataLoadingJob,
    DataLoadingJob,
)
from .jobs.output import (
    FileGeneratingJob,
    MultiFileGeneratingJob,
    MultiTempFileGeneratingJob,
    TempFileGeneratingJob,
    TempFilePlusGeneratingJob,
)
from .jobs.plots import PlotJob
from .report import write_report
from .resources import LocalSystem, ResourceError
from .submit_coordinator import SubmitCoordinator
from .util import inside_ppg

__version__ = "0.1.0"

new = new_pipegraph
run = run_pipegraph

__all__ = [
    "AttributeLoadingJob",
    "CachedAttributeLoadingJob",
    "CachedDataLoadingJob",
    "CommandFailed",
    "CommandInvariant",
    "CommandJob",
    "DataLoadingJob",
    "DependencyInjectionJob",
    "FinalJob",
    "Future",
    "JobGeneratingJob",
    "MultiTempFileGeneratingJob",
    "TempFileGeneratingJob",
    "TempFilePlusGeneratingJob",
    "CycleError",
    "DaskCoordinator",
    "JobqueueCoordinator",
    "SubmitCoordinator",
    "FileChecksumInvariant",
    "FileGeneratingJob",
    "FileInvariant",
    "FileTimeInvariant",
    "FunctionInvariant",
    "Job",
    "JobContractError",
    "JobDiedException",
    "JobList",
    "Listener",
    "LocalSystem",
    "MultiFileGeneratingJob",
    "MultiFileInvariant",
    "NothingChanged",
    "ParameterInvariant",
    "PlotJob",
    "Pipegraph",
    "PyPipeGraphError",
    "PyPipelineGraphError",
    "ResourceError",
    "RobustFileChecksumInvariant",
    "RunInterrupted",
    "RuntimeError",
    "StoreError",
    "StoreLocked",
    "__version__",
    "inside_ppg",
    "new",
    "new_pipegraph",
    "resource_coordinators",
    "run",
    "run_pipegraph",
    "util",
    "work",
    "write_report",
]
