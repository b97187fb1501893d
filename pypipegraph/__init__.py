"""pypipegraph: a make-style incremental job graph for Python.

Build a graph of jobs, call `run()`; only what changed since last time runs, in
parallel on forked workers, and finished work is never lost.

    import pypipegraph as ppg
    ppg.new_pipegraph()
    ppg.FileGeneratingJob("hello.txt", lambda of: open(of, "w").write("hi") and None)
    ppg.run_pipegraph()
"""

from . import ppg_exceptions, resource_coordinators, util
from .cluster.dask import DaskCoordinator
from .cluster.jobqueue import JobqueueCoordinator
from .cluster.local import LocalSystem
from .cluster.submit import SubmitCoordinator
from .errors import (
    CycleError,
    JobContractError,
    JobDiedException,
    NothingChanged,
    PyPipeGraphError,
    PyPipelineGraphError,
    RunInterrupted,
    RuntimeError,
    RuntimeException,
    StoreError,
    StoreLocked,
)
from .events import Listener
from .futures import Future, work
from .futures.result_cache import ResultCache
from .graph import Pipegraph, new_pipegraph, run_pipegraph
from .job import NotebookJob
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
from .resources import ResourceError
from .usage import set_state
from .util import assert_uniqueness_of_object, inside_ppg
from .views.report import write_report

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
