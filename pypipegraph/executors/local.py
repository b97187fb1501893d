"""The local executor: a pool of worker processes forked from the master.

Invariant: a worker runs one job at a time and sees the master's memory as it was
when the worker was forked (copy-on-write). Workers are reused for many jobs, so a
trivial job costs a message round trip, not a fork. When the master's state changes
(a loader ran, jobs were added), `bump_generation()` marks existing workers stale for
jobs that need the new state; those get a freshly forked worker. The executor knows
nothing about planning: it starts job indices and reports raw results.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
from multiprocessing.connection import Pipe

from .. import util
from ..errors import JobDiedException
from .worker import MAX_CAPTURE, Result, execute

__all__ = ["LocalExecutor", "MAX_CAPTURE", "Result"]
_INDEX = struct.Struct("<i")  # the master sends a job index; empty bytes: retire
_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class Worker:
    __slots__ = ("pid", "conn", "generation", "job_index", "started")

    def __init__(self, pid, conn, generation):
        self.pid = pid
        self.conn = conn
        self.generation = generation
        self.job_index = None
        self.started = 0.0


class LocalExecutor:
    """Forked, reusable workers; at most `max_workers` alive at once."""

    def __init__(self, job_list: list, max_workers: int):
        self.job_list = job_list
        self.max_workers = max(1, max_workers)
        self.generation = 0
        self.workers: list[Worker] = []
        self.idle: list[Worker] = []
        self.busy: dict = {}  # conn -> Worker
        self._poll = select.poll()  # the busy workers' connections, registered while busy
        self._busy_fds: dict = {}  # fd -> conn
        self.capture_dir = tempfile.mkdtemp(prefix="ppg_capture_")

    def bump_generation(self) -> int:
        """The master's state changed; jobs needing it must get new workers."""
        self.generation += 1
        return self.generation

    def start(self, job_index: int, min_generation: int = 0) -> Worker | None:
        """Run job `job_index` on an idle worker of at least `min_generation`."""
        worker = None
        for i in range(len(self.idle) - 1, -1, -1):
            if self.idle[i].generation >= min_generation:
                worker = self.idle.pop(i)
                break
        if worker is None:
            if len(self.workers) >= self.max_workers:
                if not self.idle:
                    return None
                self._retire(self.idle.pop(0))  # a stale idle worker makes room
            worker = self._fork()
        worker.job_index = job_index
        worker.started = time.time()
        conn = worker.conn
        try:
            conn.send_bytes(_INDEX.pack(job_index))
        except OSError:
            pass  # it died while idle; the EOF shows up in wait()
        self.busy[conn] = worker
        fd = conn.fileno()
        self._busy_fds[fd] = conn
        self._poll.register(fd, _READABLE)
        return worker

    def wait(self, timeout: float | None, extra: list = ()) -> tuple[list[tuple[Worker, int, Result]], list]:
        """Block until a job finished, one of `extra` is readable, or timeout.

        Returns (finished jobs, readable objects of `extra`).
        """
        if not self.busy and not extra:
            return [], []
        finished = []
        ready_extra = []
        extra_fds = {}
        for obj in extra:
            fd = obj.fileno()
            if fd not in self._busy_fds:
                extra_fds[fd] = obj
                self._poll.register(fd, _READABLE)
        try:
            events = self._poll.poll(-1 if timeout is None else max(0, int(timeout * 1000)))
        finally:
            for fd in extra_fds:
                self._poll.unregister(fd)
        for fd, _ in events:
            conn = self._busy_fds.pop(fd, None)
            if conn is None:
                if fd in extra_fds:
                    ready_extra.append(extra_fds[fd])
                continue
            self._poll.unregister(fd)
            worker = self.busy.pop(conn)
            index = worker.job_index
            try:
                result = conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                result = self._death_result(worker)
            else:
                worker.job_index = None
                self.idle.append(worker)
            finished.append((worker, index, result))
        return finished, ready_extra

    def kill(self, worker: Worker) -> None:
        """Kill a busy worker; its job shows up in wait() as died."""
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def running(self) -> list[Worker]:
        return list(self.busy.values())

    def shutdown(self, kill: bool = False) -> None:
        for worker in list(self.workers):
            if kill and worker.job_index is not None:
                self.kill(worker)
            self._retire(worker)
        self.idle.clear()
        self.busy.clear()
        for fd in self._busy_fds:
            self._poll.unregister(fd)
        self._busy_fds.clear()
        shutil.rmtree(self.capture_dir, ignore_errors=True)

    # --- process management --------------------------------------------------

    def _fork(self) -> Worker:
        parent_conn, child_conn = Pipe(duplex=True)
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child's collector then never touches (and copies) the master's pages
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                parent_conn.close()
                for other in self.workers:
                    other.conn.close()
                _worker_main(child_conn, self.job_list, self.capture_dir)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child_conn.close()
        worker = Worker(pid, parent_conn, self.generation)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: Worker) -> None:
        try:
            worker.conn.send_bytes(b"")
        except OSError:
            pass
        worker.conn.close()
        if worker in self.workers:
            self.workers.remove(worker)
        _reap(worker.pid, block=True)

    def _death_result(self, worker: Worker) -> Result:
        worker.conn.close()
        if worker in self.workers:
            self.workers.remove(worker)
        status = _reap(worker.pid, block=True)
        if status is None:
            code, how = None, "vanished"
        else:
            code = os.waitstatus_to_exitcode(status)
            if code < 0:
                how = f"was killed by signal {signal.Signals(-code).name}"
            else:
                how = f"exited with code {code}"
        job = self.job_list[worker.job_index]
        exc = JobDiedException(
            f"The worker process (pid {worker.pid}) running {job.job_id} {how}.", exit_code=code
        )
        now = time.time()
        out_path, err_path = capture_paths(self.capture_dir, worker.pid)
        stdout, stderr = read_capture(out_path), read_capture(err_path)
        for path in (out_path, err_path):
            _unlink(path)
        return Result(False, exc, None, stdout, stderr, worker.started, now, worker.pid)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _reap(pid: int, block: bool) -> int | None:
    try:
        _, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        return status
    except ChildProcessError:
        return None


# --- inside the worker ---------------------------------------------------------


def capture_paths(directory: str, pid: int) -> tuple[str, str]:
    """Where worker `pid` captures its current job's stdout and stderr."""
    return os.path.join(directory, f"{pid}.out"), os.path.join(directory, f"{pid}.err")


class _Capture:
    """Redirects fds 1 and 2 to files the master can read (even after the worker died).

    Each job starts with empty files; files are truncated only when the previous job
    wrote something, so a silent trivial job costs no extra syscalls.
    """

    def __init__(self, directory: str):
        self.fds = [os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                    for path in capture_paths(directory, os.getpid())]
        for target, fd in zip((1, 2), self.fds, strict=True):
            os.dup2(fd, target)
        sys.stdout = open(1, "w", closefd=False, errors="replace", buffering=1)  # lines survive a crash
        sys.stderr = open(2, "w", closefd=False, errors="replace", buffering=1)
        faulthandler.enable(file=sys.stderr)  # a crash's traceback lands in the job's stderr
        self.written = [False, False]

    def reset(self) -> None:
        for i, fd in enumerate(self.fds):
            if self.written[i]:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                self.written[i] = False

    def collect(self) -> tuple[str, str]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        texts = []
        for i, fd in enumerate(self.fds):
            size = os.fstat(fd).st_size
            self.written[i] = size > 0
            start = max(0, size - MAX_CAPTURE)
            texts.append(os.pread(fd, size - start, start).decode("utf-8", "replace") if size else "")
        return texts[0], texts[1]


def read_capture(path: str) -> str:
    """The last MAX_CAPTURE bytes of a capture file ('' when there is none)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - MAX_CAPTURE))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _worker_main(conn, job_list, capture_dir: str) -> None:  # pragma: no cover - runs in the child
    util.is_worker = True
    gc.enable()  # the master pauses collection while it schedules; jobs get it back
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    util.die_with_parent()
    capture = _Capture(capture_dir)
    home = os.getcwd()
    pid = os.getpid()
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        job = job_list[_INDEX.unpack(message)[0]]
        capture.reset()
        payload = execute(job, capture.collect, pid)
        if os.getcwd() != home:
            os.chdir(home)
        conn.send_bytes(payload)
