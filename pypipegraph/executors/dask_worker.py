"""What runs inside a Dask worker process for the Dask executor.

Invariant: a worker process unpickles a pipeline's job list once per (run token,
generation) and keeps it, so job objects keep their identity between tasks (an
AttributeLoadingJob sets an attribute a later job reads). A loader runs at most once
per replica, before the first job that needs it. Jobs of one pipeline share the
process's working directory (the master's); jobs of pipelines in other directories
wait until the directory is free, so one never runs in another's directory. A task
announces its start (run token, task key, host, pid, time) as a Dask event on
STARTED_TOPIC once it holds its worker's resources, so the master can tell running jobs
from queued ones.
"""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
import time

import xxhash

from .. import state
from ..cluster.shipment import load_job_list
from ..errors import PyPipeGraphError
from .replica import Replica, run_loaders
from .worker import MAX_CAPTURE, execute, run_job

STARTED_TOPIC = "pypipegraph-started"
_KEEP_RUNS = 4  # pipelines (run tokens) a worker process keeps the job lists of


_replicas: dict = {}  # (token, generation) -> Replica
_replicas_lock = threading.Lock()


def _replica(token: str, generation: int, path: str, digest: int) -> Replica:
    key = (token, generation)
    with _replicas_lock:
        replica = _replicas.get(key)
        if replica is None:
            with open(path, "rb") as fh:
                blob = fh.read()
            if xxhash.xxh3_64_intdigest(blob) != digest:
                raise PyPipeGraphError(
                    f"{path} is not the job list the pipeline wrote (its content changed "
                    "after it was written); refusing to unpickle it"
                )
            graph, jobs, _probe = load_job_list(blob)
            replica = _replicas[key] = Replica(graph, jobs)
            for old in [k for k in _replicas if k[0] == token and k[1] < generation]:
                del _replicas[old]  # tasks still running keep their own reference
            tokens = list(dict.fromkeys(k[0] for k in _replicas))
            for stale in tokens[:-_KEEP_RUNS]:
                for old in [k for k in _replicas if k[0] == stale]:
                    del _replicas[old]
        return replica


class _DirectoryGate:
    """Jobs run concurrently only with jobs of the same working directory."""

    def __init__(self):
        self.cond = threading.Condition()
        self.directory = None
        self.inside = 0
        self.waiting = 0

    def enter(self, directory: str) -> None:
        """Wait for the directory; while another directory waits, newcomers wait too (turns)."""
        with self.cond:
            if self.inside and (self.directory != directory or self.waiting):
                self.waiting += 1
                while self.inside and (self.directory != directory or self.waiting > 1):
                    self.cond.wait()
                self.waiting -= 1
            if _cwd() != directory:
                os.chdir(directory)
            self.directory = directory
            self.inside += 1

    def leave(self) -> None:
        with self.cond:
            self.inside -= 1
            if _cwd() != self.directory:
                try:
                    os.chdir(self.directory)  # a job's chdir is undone
                except OSError:
                    pass  # the directory is gone; the next job changes into its own
            self.cond.notify_all()


_gate = _DirectoryGate()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except FileNotFoundError:  # the last pipeline's directory was removed
        return None


class _ThreadStream(io.TextIOBase):
    """sys.stdout/sys.stderr of the worker: a job thread's writes go to its own buffer."""

    def __init__(self, original):
        self.original = original
        self.local = threading.local()

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", None)
        if buffer is None:
            return self.original.write(text)
        if buffer.tell() > 4 * MAX_CAPTURE:
            tail = buffer.getvalue()[-MAX_CAPTURE:]
            buffer.seek(0)
            buffer.truncate()
            buffer.write(tail)
        return buffer.write(text)

    def flush(self) -> None:
        if getattr(self.local, "buffer", None) is None:
            self.original.flush()

    def capture(self) -> None:
        self.local.buffer = io.StringIO()

    def collect(self) -> str:
        text = self.local.buffer.getvalue()[-MAX_CAPTURE:]
        self.local.buffer = None
        return text


def _streams() -> tuple[_ThreadStream, _ThreadStream]:
    with _replicas_lock:
        if not isinstance(sys.stdout, _ThreadStream):
            sys.stdout = _ThreadStream(sys.stdout)
        if not isinstance(sys.stderr, _ThreadStream):
            sys.stderr = _ThreadStream(sys.stderr)
    return sys.stdout, sys.stderr


def run_task(path: str, digest: int, token: str, generation: int, directory: str, job_index: int,
             loaders: tuple, key: str = "") -> bytes:
    """The Dask task: run missing loaders here, then job `job_index`; a pickled Result."""
    _announce(token, key)
    replica = _replica(token, generation, path, digest)
    job = replica.jobs[job_index]
    out, err = _streams()
    out.capture()
    err.capture()
    _gate.enter(directory)

    def run(job) -> tuple:
        try:
            state.is_worker = True
            state.global_pipegraph = replica.graph  # generated jobs register with the replica
            failure = run_loaders(replica, job, loaders)
            if failure is not None:
                return False, failure, None
            return run_job(job)  # generating jobs run in the master, never here
        finally:
            _gate.leave()

    return execute(job, lambda: (out.collect(), err.collect()), os.getpid(), run)


def _announce(token: str, key: str) -> None:
    """Tell the master this task started here (best effort: outside a worker, say nothing)."""
    try:
        from distributed import get_worker

        get_worker().log_event(STARTED_TOPIC, [token, key, socket.gethostname(), os.getpid(), time.time()])
    except Exception:  # noqa: BLE001 - no worker (a test calling run_task) or no scheduler
        pass
