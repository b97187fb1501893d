"""pypipegraph: a make-style incremental job graph for Python.

Build a graph of jobs, call `run()`; only what changed since last time runs, in
parallel on forked workers, and finished work is never lost.

    import pypipegraph as ppg
    ppg.new_pipegraph()
    ppg.FileGeneratingJob("hello.txt", lambda of: open(of, "w").write("hi") and None)
    ppg.run_pipegraph()
"""

from . import ppg_exceptions, resource_coordinators, util
from .dask_coordinator import DaskCoordinator
from .errors import (
    CycleError,
    JobContractError,
    JobDiedException,
    NothingChanged,
    PyPipeGraphError,
    PyPipelineGraphError,
    RunInterrupted,
    RunTerminated,
    RuntimeError,
    RuntimeException,
    StoreError,
    StoreLocked,
)
from .events import Listener
from .futures import Future, work
from .graph import Pipegraph, new_pipegraph, run_pipegraph
from .job import NotebookJob
from .jobqueue_coordinator import JobqueueCoordinator
from .jobs.base import Job, JobList
from .jobs.command import CommandFailed, CommandInvariant, CommandJob
from .jobs.filesets import FileSetJob
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
from .report import write_report
from .resources import LocalSystem, ResourceError
from .result_cache import ResultCache
from .submit_coordinator import SubmitCoordinator
from .usage import set_state
from .util import assert_uniqueness_of_object, inside_ppg

__version__ = "0.1.0"

new = new_pipegraph
run = run_pipegraph

__all__ = [
    "AttributeLoadingJob",
    "CachedAttributeLoadingJob",
    "CachedDataLoadingJob",
    "CommandFailed",
    "CommandInvariant",
    "CombinedPlotJob",
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
    "MemMappedDataLoadingJob",
    "MultiFileGeneratingJob",
    "MultiFileInvariant",
    "FileSetJob",
    "NothingChanged",
    "NotebookJob",
    "ParameterInvariant",
    "PlotJob",
    "Pipegraph",
    "PyPipeGraphError",
    "PyPipelineGraphError",
    "ResourceError",
    "ResultCache",
    "RobustFileChecksumInvariant",
    "RunInterrupted",
    "RunTerminated",
    "RuntimeError",
    "RuntimeException",
    "StoreError",
    "StoreLocked",
    "__version__",
    "assert_uniqueness_of_object",
    "inside_ppg",
    "new",
    "new_pipegraph",
    "ppg_exceptions",
    "resource_coordinators",
    "run",
    "run_pipegraph",
    "set_state",
    "util",
    "work",
    "write_report",
]
