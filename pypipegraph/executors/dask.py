"""The Dask executor: output jobs run as tasks on the workers of a Dask cluster.

Invariant: the master only plans, records and receives results; a job counts as
finished only when its task returned a Result (a worker that died, a cancelled task
or a lost scheduler never yields "done"). The job list travels once per generation
(cloudpickle, one `dumps`, so `__main__` functions share one globals dict), as a file
on the shared filesystem each worker process reads once; a task carries only its
path and indices: its job and the loaders (upstream first) it needs there. `wait()` wakes up
on a byte a done-callback writes to a pipe, so console input still interrupts it.
A submitted task counts as queued until its start event (dask_worker.STARTED_TOPIC)
arrived: only then is it running, on the host and pid the event names. Each job goes
to the client `route(job)` names (one client per cluster; most runs have one).
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import threading
import time
import uuid

import xxhash

from ..errors import JobDiedException, PyPipeGraphError
from ..plumbing.safe_files import write_file
from .dask_worker import STARTED_TOPIC, run_task
from .worker import Result, decode_result

SHIP_DIR = ".pypipegraph_dask"  # job lists for the workers, removed after the run


class ClusterLost(PyPipeGraphError):
    """The Dask scheduler went away; finished jobs are recorded, the rest run next time."""


class Task:
    """A submitted job: what `running()` reports and `kill()` takes. Its `state` is
    "queued" until the worker announced its start (then `started`, `host` and `pid` are
    the worker's), "running", and "done" once its future finished (before wait() took it)."""

    __slots__ = ("future", "job_index", "started", "pid", "host", "state", "client")

    def __init__(self, future, job_index: int, client):
        self.future = future
        self.job_index = job_index
        self.started = time.time()  # submission; the worker's start once it ran
        self.pid = 0
        self.host = ""
        self.state = "queued"
        self.client = client


class DaskExecutor:
    """Submits each job to the client `route(job)` returns (a `distributed.Client`: the
    same one for every job, or one per cluster). What travels is declared by the caller:
    `dump()` gives the bytes a worker unpickles (the job list of the current generation), `loaders_of(i)`
    the indices of the loaders job `i` needs there (upstream first), `resources_of(job)`
    each task's Dask resources; `on_shutdown()` is called after the run."""

    def __init__(self, job_list: list, route, resources_of, dump, loaders_of,
                 lost_after: float = 10.0, on_shutdown=None):
        self.job_list = job_list
        self.route = route
        self.clients: list = []  # the clients jobs went to, each subscribed to start events
        self._lock = threading.Lock()  # start events arrive on the clients' threads
        self.resources_of = resources_of
        self.dump = dump
        self.loaders_of = loaders_of
        self.on_shutdown = on_shutdown
        self.lost_after = lost_after
        self.token = uuid.uuid4().hex[:12]
        self.directory = os.getcwd()
        self.generation = 0
        self.ship_dir = os.path.join(self.directory, SHIP_DIR)
        self._shipped = (-1, "", 0)  # (generation, path of the pickled job list, its xxh3 digest)
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
        client = self._client(job)
        self._submitted += 1
        key = f"ppg-{self.token}-{job_index}-{self._submitted}"
        future = client.submit(
            run_task, *self._ship(), self.token, self.generation, self.directory, job_index,
            self.loaders_of(job_index), key, key=key, resources=self.resources_of(job), pure=False,
            retries=0,
        )
        task = Task(future, job_index, client)
        with self._lock:
            self.busy[key] = task
        future.add_done_callback(self._on_done)
        return task

    def _client(self, job):
        client = self.route(job)
        if not any(client is known for known in self.clients):
            client.subscribe_topic(STARTED_TOPIC, self._on_started)  # before its first task
            self.clients.append(client)
        return client

    def _on_started(self, event) -> None:  # runs in a client's thread
        token, key, host, pid, started = event[1]
        if token != self.token:
            return  # another pipeline on the same scheduler
        with self._lock:
            task = self.busy.get(key)
            if task is not None and task.state == "queued":
                task.started, task.host, task.pid, task.state = started, host, pid, "running"

    def states(self) -> tuple[int, int]:
        """(running, queued): jobs a worker runs now, jobs submitted that none started yet."""
        with self._lock:
            states = [task.state for task in self.busy.values()]
        return states.count("running"), states.count("queued")

    def _on_done(self, future) -> None:  # runs in the client's thread
        with self._lock:
            task = self.busy.get(future.key)
            if task is not None:
                task.state = "done"
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
            if task.future.status == "cancelled" and task.client.status != "running":
                self._lost = True  # the scheduler went away: the task did not finish
                continue
            with self._lock:
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
        if tasks and all(task.future.status == "finished" and task.client is tasks[0].client
                         for task in tasks):
            try:
                payloads = tasks[0].client.gather([task.future for task in tasks])
            except Exception:  # noqa: BLE001 - a result was lost: look at each on its own
                pass
            else:
                return [self._decode(task, payload) for task, payload in zip(tasks, payloads, strict=True)]
        return [self._result(task) for task in tasks]

    def _decode(self, task: Task, payload: bytes) -> Result:
        try:
            return decode_result(payload)
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
                      task.started, time.time(), task.pid)

    def _check_scheduler(self) -> None:
        """Raise ClusterLost when a scheduler is gone for `lost_after` seconds."""
        client = next((c for c in self.clients if c.status != "running"), None)
        status = "running" if client is None else client.status
        client = client or (self.clients[0] if self.clients else None)
        if status == "running" and not self._lost:
            self._disconnected_since = None
            return
        if self._disconnected_since is None:
            self._disconnected_since = time.time()
        if self._lost or status in ("closed", "closing") or time.time() - self._disconnected_since > self.lost_after:
            raise ClusterLost(
                f"Lost the Dask scheduler {client.scheduler.address} (client {status}) while "
                f"{len(self.busy)} job(s) ran there. Finished jobs are recorded; run the pipeline "
                "again when the cluster is back."
            )

    def kill(self, task: Task) -> None:
        """Cancel a task; its job is reported as killed. A job already running finishes in
        its worker thread (Dask cannot stop a thread) but its result is discarded."""
        task.future.cancel()

    def running(self) -> list[Task]:
        """Every submitted job not yet returned by wait(), whatever its `state`."""
        with self._lock:
            return list(self.busy.values())

    def shutdown(self, kill: bool = False) -> None:
        """Cancel what still runs, release the shipped job list, close the pipe."""
        for client in self.clients:
            futures = [task.future for task in self.busy.values() if task.client is client]
            try:
                if futures and client.status == "running":
                    client.cancel(futures)
                client.unsubscribe_topic(STARTED_TOPIC)
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

    def _ship(self) -> tuple[str, int]:
        """The file holding the current generation's job list (written on first use) and
        the digest a worker checks before unpickling it (the file lies in a directory
        others may write to; the digest travels with the task, not through the file).

        Workers see the master's filesystem; a file survives any worker's death."""
        if self._shipped[0] != self.generation:
            blob = self.dump()
            os.makedirs(self.ship_dir, exist_ok=True)
            path = os.path.join(self.ship_dir, f"{self.token}-{self.generation}.pickle")
            write_file(path, blob)
            self._shipped = (self.generation, path, xxhash.xxh3_64_intdigest(blob))
        return self._shipped[1:]
