"""The Dask executor: output jobs run as tasks on the workers of a Dask cluster.

Invariant: the master only plans, records and receives results; a job counts as
finished only when its task returned a Result (a worker that died, a cancelled task
or a lost scheduler never yields "done"). The job list travels once per generation
(cloudpickle, one `dumps`, so `__main__` functions share one globals dict), as a file
on the shared filesystem each worker process reads once; a task carries only its
path and indices: its job and the loaders (upstream first) it needs there. `wait()` wakes up
on a byte a done-callback writes to a pipe, so console input still interrupts it.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import select
import shutil
import sys
import time
import types
import uuid

import cloudpickle

from ..errors import JobDiedException, PyPipeGraphError
from .dask_worker import run_task
from .local import Result

SHIP_DIR = ".pypipegraph_dask"  # job lists for the workers, removed after the run
_PROBE = compile("None", "<pypipegraph>", "eval")


class ClusterLost(PyPipeGraphError):
    """The Dask scheduler went away; finished jobs are recorded, the rest run next time."""


class Task:
    """A submitted job: what `running()` reports and `kill()` takes."""

    __slots__ = ("future", "job_index", "started", "pid")

    def __init__(self, future, job_index: int):
        self.future = future
        self.job_index = job_index
        self.started = time.time()
        self.pid = 0  # the worker's pid is known only when the result comes back


class DaskExecutor:
    """Submits jobs to `client`; `resources_of(job)` gives each task's Dask resources,
    `on_shutdown()` is called after the run."""

    def __init__(self, job_list: list, client, resources_of, graph, lost_after: float = 10.0,
                 on_shutdown=None):
        self.job_list = job_list
        self.client = client
        self.resources_of = resources_of
        self.graph = graph
        self.on_shutdown = on_shutdown
        self.lost_after = lost_after
        self.token = uuid.uuid4().hex[:12]
        self.directory = os.getcwd()
        self.generation = 0
        self.ship_dir = os.path.join(self.directory, SHIP_DIR)
        self._shipped = (-1, "")  # (generation, path of the pickled job list)
        self._loaders: dict = {}  # job index -> loader indices it needs, upstream first
        self._index: dict = {}  # job -> index in job_list
        self.busy: dict = {}  # future key -> Task
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._submitted = 0
        self._disconnected_since = None
        self._lost = False  # tasks were cancelled because the scheduler went away
        self._ship()  # unpicklable jobs fail before any job runs

    def bump_generation(self) -> int:
        """Jobs were added (or a loader ran in the master): ship the job list again."""
        self.generation += 1
        return self.generation

    def start(self, job_index: int, min_generation: int = 0) -> Task:
        """Submit job `job_index`; Dask queues it until a worker has the resources free."""
        job = self.job_list[job_index]
        self._submitted += 1
        future = self.client.submit(
            run_task, self._ship(), self.token, self.generation, self.directory, job_index,
            self._loaders_of(job_index), key=f"ppg-{self.token}-{job_index}-{self._submitted}",
            resources=self.resources_of(job), pure=False, retries=0,
        )
        task = Task(future, job_index)
        self.busy[future.key] = task
        future.add_done_callback(self._on_done)
        return task

    def _on_done(self, future) -> None:  # runs in the client's thread
        self._done.put(future.key)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full: wait() wakes up anyway

    def wait(self, timeout: float | None, extra: list = ()) -> tuple[list[tuple[Task, int, Result]], list]:
        """Block until a task finished, one of `extra` is readable, or timeout."""
        if not self.busy and not extra:
            return [], []
        readable, _, _ = select.select([self._wake_r, *extra], [], [], timeout)
        ready_extra = [obj for obj in readable if obj != self._wake_r]
        if self._wake_r in readable:
            os.read(self._wake_r, 65536)
        done = []
        while True:
            try:
                key = self._done.get_nowait()
            except queue.Empty:
                break
            task = self.busy.get(key)
            if task is None:
                continue
            if task.future.status == "cancelled" and self.client.status != "running":
                self._lost = True  # the scheduler went away: the task did not finish
                continue
            del self.busy[key]
            done.append(task)
        finished = [(task, task.job_index, result) for task, result in zip(done, self._results(done),
                                                                             strict=True)]
        for task in done:
            task.future.release()  # Dask may forget the result now
        if not finished:
            self._check_scheduler()
        return finished, ready_extra

    def _results(self, tasks: list[Task]) -> list[Result]:
        """The Results of finished tasks, fetched in one round trip when all succeeded."""
        if tasks and all(task.future.status == "finished" for task in tasks):
            try:
                payloads = self.client.gather([task.future for task in tasks])
            except Exception:  # noqa: BLE001 - a result was lost: look at each on its own
                pass
            else:
                return [self._decode(task, payload) for task, payload in zip(tasks, payloads, strict=True)]
        return [self._result(task) for task in tasks]

    def _decode(self, task: Task, payload: bytes) -> Result:
        try:
            return pickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - a result the master cannot read
            return self._died(task, f"its result could not be read in the master: {type(exc).__name__}: {exc}")

    def _result(self, task: Task) -> Result:
        future = task.future
        if future.status == "finished":
            try:
                return self._decode(task, future.result())
            except Exception as exc:  # noqa: BLE001 - the result was lost with its worker
                why = f"its result was lost: {type(exc).__name__}: {exc}"
        elif future.status == "cancelled":
            why = "its Dask task was cancelled (killed, or lost by the scheduler)"
        else:
            exc = future.exception()
            if type(exc).__name__ == "KilledWorker":
                why = (f"the Dask worker running it died (Dask reran it elsewhere until its limit of "
                       f"'distributed.scheduler.allowed-failures' was reached): {exc}")
            else:
                why = f"its Dask task failed outside the job: {type(exc).__name__}: {exc}"
        return self._died(task, why)

    def _died(self, task: Task, why: str) -> Result:
        job = self.job_list[task.job_index]
        return Result(False, JobDiedException(f"{job.job_id} did not finish: {why}."), None, "", "",
                      task.started, time.time(), 0)

    def _check_scheduler(self) -> None:
        """Raise ClusterLost when the scheduler is gone for `lost_after` seconds."""
        status = getattr(self.client, "status", "running")
        if status == "running" and not self._lost:
            self._disconnected_since = None
            return
        if self._disconnected_since is None:
            self._disconnected_since = time.time()
        if self._lost or status in ("closed", "closing") or time.time() - self._disconnected_since > self.lost_after:
            raise ClusterLost(
                f"Lost the Dask scheduler {self.client.scheduler.address} (client {status}) while "
                f"{len(self.busy)} job(s) ran there. Finished jobs are recorded; run the pipeline "
                "again when the cluster is back."
            )

    def kill(self, task: Task) -> None:
        """Cancel a task; its job is reported as killed. A job already running finishes in
        its worker thread (Dask cannot stop a thread) but its result is discarded."""
        task.future.cancel()

    def running(self) -> list[Task]:
        return list(self.busy.values())

    def shutdown(self, kill: bool = False) -> None:
        """Cancel what still runs, release the shipped job list, close the pipe."""
        futures = [task.future for task in self.busy.values()]
        if futures and self.client.status == "running":
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the scheduler may be gone already
                pass
        shutil.rmtree(self.ship_dir, ignore_errors=True)
        self.busy.clear()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.on_shutdown is not None:
            self.on_shutdown()

    # --- what travels ---------------------------------------------------------

    def _ship(self) -> str:
        """The file holding the current generation's job list (written on first use).

        Workers see the master's filesystem; a file survives any worker's death."""
        if self._shipped[0] != self.generation:
            blob = dump_job_list(self.graph, self.job_list)
            os.makedirs(self.ship_dir, exist_ok=True)
            path = os.path.join(self.ship_dir, f"{self.token}-{self.generation}.pickle")
            with open(path + ".tmp", "wb") as fh:
                fh.write(blob)
            os.replace(path + ".tmp", path)
            self._shipped = (self.generation, path)
            self._loaders.clear()
        return self._shipped[1]

    def _loaders_of(self, job_index: int) -> tuple:
        loaders = self._loaders.get(job_index)
        if loaders is None:
            if len(self._index) != len(self.job_list):
                self._index = {job: i for i, job in enumerate(self.job_list)}
            loaders = self._loaders[job_index] = tuple(
                self._index[up] for up in needed_loaders(self.job_list[job_index]))
        return loaders


def needed_loaders(job) -> list:
    """The master-run loaders `job` reads from, transitively, upstream first."""
    order: list = []
    seen: set = set()

    def visit(node) -> None:
        for up in node.prerequisites:
            if up.lazy and up.runs_in == "master" and up not in seen:
                seen.add(up)
                visit(up)
                order.append(up)

    visit(job)
    return order


def dump_job_list(graph, jobs: list) -> bytes:
    """Pickle the graph and its jobs in one go; the coordinator (a Dask client) stays home."""
    rc = getattr(graph, "rc", None)

    class _Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj):
            if obj is rc:
                return (type(None), ())
            return super().reducer_override(obj)

    main = sys.modules.get("__main__")
    # pickled with the script's functions, so it shares their globals on the worker
    probe = types.FunctionType(_PROBE, main.__dict__) if main is not None else None
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((graph, jobs, probe))
    except Exception as exc:
        raise PyPipeGraphError(_unpicklable(jobs, exc)) from exc
    return buffer.getvalue()


def _unpicklable(jobs: list, exc: Exception) -> str:
    """Name the first job whose callback cannot travel to a worker."""
    for job in jobs:
        for name in ("callback", "calc_function", "plot_function", "store_function"):
            func = job.__dict__.get(name)
            if func is None:
                continue
            try:
                cloudpickle.dumps(func)
            except Exception as job_exc:  # noqa: BLE001 - the first offender is named
                return (f"{job.job_id}: its {name} cannot be pickled for the Dask workers "
                        f"({type(job_exc).__name__}: {job_exc}). Functions and the values they capture "
                        "must be picklable (cloudpickle) to run on a cluster; create unpicklable "
                        "objects inside the function.")
    return (f"The jobs could not be pickled for the Dask workers ({type(exc).__name__}: {exc}). "
            "Functions and the values they capture must be picklable (cloudpickle) to run on a cluster.")
