"""Where jobs' code runs. Every executor offers the same protocol to the scheduler
(docs/executors.md is the guide to writing one):

    start(job_index, min_generation) -> handle or None (None: no room now, ask again later)
    wait(timeout, extra)             -> ([(handle, job_index, Result), ...], readable extras)
    kill(handle)                     the job shows up in wait() as killed/died
    running()                        handles of started jobs (.job_index, .started, .pid)
    busy                             truthy while jobs run (len() = jobs handed over)
    bump_generation()                the master's memory changed: later jobs need new workers
    shutdown(kill=False)

A handle's `state` is "queued", "running" or "done" and its `host` is "" for this machine;
`states() -> (running, queued)` counts them (on a cluster jobs may wait in its queue; a
local executor has no queue and says None). `Executor` and `WorkerHandle` below are these
protocols as types; `InMaster` is the one for jobs run in the master.

An executor knows job indices and the job objects of the list it was given (their
`job_id` and `run_in_worker()`), never the graph, job classes, the rebuilder or the
store. Backends: `local` (forked workers), `dask` (tasks on a cluster, fed by the
master's declared `Shipment`), `submit` (a script per job, handed to a submit command),
`master` (loaders, run synchronously in the master). The worker-side runner and the
Result encoding are in `worker`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class WorkerHandle(Protocol):
    """A started job as its executor tracks it."""

    job_index: int | None
    started: float
    pid: int
    state: str  # "queued", "running" or "done"
    host: str  # "" on this machine


@runtime_checkable
class Executor(Protocol):
    """Runs jobs given by index in the job list it was made with; see the module docstring."""

    busy: Any  # sized and truthy while jobs are handed over

    def start(self, job_index: int, min_generation: int = 0) -> WorkerHandle | None: ...

    def wait(self, timeout: float | None, extra: list = ()) -> tuple[list[tuple[Any, int, Any]], list]: ...

    def kill(self, handle: Any) -> None: ...

    def running(self) -> list: ...

    def states(self) -> tuple[int, int | None]: ...  # (running, queued); None: no queue

    def bump_generation(self) -> int: ...

    def shutdown(self, kill: bool = False) -> None: ...


@runtime_checkable
class InMaster(Protocol):
    """Runs a job in the master's process, at once (loaders, job-generating jobs)."""

    def run(self, job: Any, capture: bool = False) -> Any: ...
