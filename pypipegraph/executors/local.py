"""The local executor: a pool of worker processes forked from the master.

Invariant: a worker serves one job at a time and is a copy-on-write image of the
master as it was when the worker was forked. By default a worker is a zygote (see
zygote.py): it forks a fresh child per job, so no job sees what another job did.
Jobs that opt in (`job.reuse_worker()`, `new_pipegraph(reuse_workers=True)`) run in
reusing workers instead, which run many jobs in one process: a trivial job then costs a
message round trip, not a fork. The two kinds never share a process. When the master's
state changes (a loader ran, jobs were added), `bump_generation()` marks existing
workers stale for jobs that need the new state; those get a freshly forked worker. When
the master deletes state (a cleanup), `forget_state()` retires the workers that hold it. The
executor knows nothing about planning: it starts job indices and reports raw results.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
from multiprocessing.connection import Pipe

from .. import state, usage
from ..errors import JobDiedException, PyPipeGraphError
from ..plumbing import host
from . import zygote
from .worker import MAX_CAPTURE, Result, decode_result, execute

__all__ = ["LocalExecutor", "MAX_CAPTURE", "Result"]
_INDEX = struct.Struct("<i")  # the master sends a job index; empty bytes: retire
_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class Worker:
    """One forked worker process: a zygote (`slot` set) or a reusing worker."""

    __slots__ = ("process", "conn", "generation", "job_index", "started", "slot", "doomed")
    state = "running"  # a local job never waits in a queue
    host = ""

    def __init__(self, pid, conn, generation, slot):
        self.process = pid
        self.conn = conn
        self.generation = generation
        self.job_index = None
        self.started = 0.0
        self.slot = slot  # a zygote's shared pid slot; None for a reusing worker
        self.doomed = False  # killed as a whole: never given another job

    @property
    def reuses(self) -> bool:
        return self.slot is None

    @property
    def pid(self) -> int:
        """The pid of the process running the current job (the worker's own when idle)."""
        if self.slot is not None and self.job_index is not None:
            return zygote.slot_pid(self.slot) or self.process
        return self.process


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
        self._collapsed = -1  # the generation whose memory collapse_heap() last compacted

    def bump_generation(self) -> int:
        """The master's state changed; jobs needing it must get new workers."""
        self.generation += 1
        return self.generation

    def forget_state(self, since_generation: int) -> None:
        """The master deleted state it had from `since_generation` on (a cleanup ran): the
        workers forked since then still hold it, so none of them runs another job (idle
        ones are retired now, busy ones when their job is done). Later forks lack it."""
        for worker in list(self.workers):
            if worker.generation < since_generation:
                continue
            if worker in self.idle:
                self.idle.remove(worker)
                self._retire(worker)
            else:
                worker.doomed = True
        self._collapsed = -1  # the master's heap changed: compact it again before the next fork

    def start(self, job_index: int, min_generation: int = 0) -> Worker | None:
        """Run job `job_index` on an idle worker of its kind and at least `min_generation`."""
        reuses = reuses_worker(self.job_list[job_index])
        worker = None
        for i in range(len(self.idle) - 1, -1, -1):
            candidate = self.idle[i]
            if candidate.generation >= min_generation and candidate.reuses == reuses:
                worker = self.idle.pop(i)
                break
        if worker is None:
            if len(self.workers) >= self.max_workers:
                if not self.idle:
                    return None
                self._retire(self.idle.pop(0))  # a stale (or other kind of) idle worker makes room
            worker = self._fork(reuses)
        worker.job_index = job_index
        worker.started = time.time()
        conn = worker.conn
        self.busy[conn] = worker  # before the job can start: a Ctrl-C from here on kills it and its outputs
        fd = conn.fileno()
        self._busy_fds[fd] = conn
        self._poll.register(fd, _READABLE)
        try:
            conn.send_bytes(_INDEX.pack(job_index))
        except OSError:
            pass  # it died while idle; the EOF shows up in wait()
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
                message = conn.recv_bytes()
            except (EOFError, OSError):
                result = self._death_result(worker)
            else:
                result = self._decode(worker, message)
                worker.job_index = None
                if worker.doomed:
                    self._retire(worker)
                else:
                    self.idle.append(worker)
            finished.append((worker, index, result))
        return finished, ready_extra

    def kill(self, worker: Worker) -> None:
        """Kill a busy worker's job; it shows up in wait() as died.

        A zygote's job is killed by its own pid; when the zygote has not forked it yet
        (or already reaped it), the zygote itself is killed and never reused.
        Either way the job's process group goes with it: whatever the job started.
        """
        pid = zygote.slot_pid(worker.slot) if worker.slot is not None else worker.process
        if pid:
            zygote.kill_job_process(pid)
            return
        worker.doomed = True
        try:
            os.kill(worker.process, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def states(self) -> tuple[int, None]:
        """(running, None): every job handed over runs at once here; there is no queue."""
        return len(self.busy), None

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

    def _fork(self, reuses: bool) -> Worker:
        parent_conn, child_conn = Pipe(duplex=True)
        slot = None
        if not reuses:
            slot = zygote.new_pid_slot()
            if self._collapsed != self.generation:  # once per generation: what changed since
                self._collapsed = self.generation
                zygote.collapse_heap()
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
                _worker_main(child_conn, self.job_list, self.capture_dir, slot)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child_conn.close()
        worker = Worker(pid, parent_conn, self.generation, slot)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: Worker) -> None:
        try:
            worker.conn.send_bytes(b"")
        except OSError:
            pass
        self._forget(worker)

    def _forget(self, worker: Worker) -> int | None:
        """Close our end of a worker, reap it (after it exits) and free its files; its wait status."""
        worker.conn.close()
        if worker in self.workers:
            self.workers.remove(worker)
        status = _reap(worker.process, block=True)
        for path in (*capture_paths(self.capture_dir, worker.process), result_path(self.capture_dir, worker.process)):
            _unlink(path)
        if worker.slot is not None:
            worker.slot.close()
        return status

    def _decode(self, worker: Worker, message: bytes) -> Result:
        """A worker's report: a Result, or a failure naming the job when it cannot be read."""
        job = self.job_list[worker.job_index]
        try:
            result = decode_result(message)
        except Exception as exc:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt
            return Result(False, PyPipeGraphError(
                f"{job.job_id}: the worker's report of this job could not be read ({type(exc).__name__}: "
                f"{exc})"), None, "", "", worker.started, time.time(), worker.pid)
        died = zygote.child_died(result)
        if died is None:
            return result
        pid, status = died  # the zygote lives on; it truncates the capture files before the next job
        stdout, stderr = (read_capture(path) for path in capture_paths(self.capture_dir, worker.process))
        return self._died(job, pid, status, stdout, stderr, worker.started)

    def _death_result(self, worker: Worker) -> Result:
        out_path, err_path = capture_paths(self.capture_dir, worker.process)
        stdout, stderr = read_capture(out_path), read_capture(err_path)
        pid = worker.pid  # before _forget() closes the slot
        status = self._forget(worker)
        job = self.job_list[worker.job_index]
        return self._died(job, pid, status, stdout, stderr, worker.started)

    @staticmethod
    def _died(job, pid: int, status: int | None, stdout: str, stderr: str, started: float) -> Result:
        if status is None:
            code, how = None, "vanished"
        else:
            code = os.waitstatus_to_exitcode(status)
            if code < 0:
                how = f"was killed by signal {signal.Signals(-code).name}"
            else:
                how = f"exited with code {code}" + (" without reporting a result" if code == 0 else "")
        exc = JobDiedException(f"The worker process (pid {pid}) running {job.job_id} {how}.", exit_code=code)
        return Result(False, exc, None, stdout, stderr, started, time.time(), pid)


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


def result_path(directory: str, pid: int) -> str:
    """Where zygote `pid`'s children leave their encoded Result."""
    return os.path.join(directory, f"{pid}.res")


def reuses_worker(job) -> bool:
    """Whether `job` runs in a reusing worker (its own choice, else its graph's default)."""
    choice = job.reuses_worker
    return job._graph.reuse_workers if choice is None else choice


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

    def clear(self) -> None:
        """Empty files a child (whose `written` flags we never saw) may have written to."""
        for fd in self.fds:
            if os.fstat(fd).st_size:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)

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


def _worker_main(conn, job_list, capture_dir: str, slot) -> None:  # pragma: no cover - runs in the child
    """A worker's life: a zygote when it has a pid `slot`, else a loop running jobs itself."""
    state.is_worker = True
    gc.enable()  # the master pauses collection while it schedules; jobs get it back
    host.die_with_parent()
    if slot is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master handles Ctrl-C; job processes restore it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        capture = _Capture(capture_dir)
        usage.locate()  # once here, not in every job's process
        zygote.zygote_main(conn, job_list, capture, result_path(capture_dir, os.getpid()), slot, run_isolated,
                           _job_index)
        return
    _own_process_group()
    capture = _Capture(capture_dir)
    home = os.getcwd()
    pid = host.job_process = os.getpid()
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        data = run_one(job_list[_job_index(message)], capture, pid)
        if os.getpid() != pid:
            os._exit(0)  # a forked copy of this worker (a job's helper) never reports
        if os.getcwd() != home:
            os.chdir(home)
        conn.send_bytes(data)


def _own_process_group() -> None:  # pragma: no cover - runs in a reusing worker
    """Lead a process group that ends with the worker: killed by the master as a whole, and
    killed by the worker itself when the master dies (the parent-death signal is SIGTERM)."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # not in the terminal's group: a job's programs get it back
    signal.signal(signal.SIGTERM, _kill_own_group)
    host.die_with_parent(signal.SIGTERM)


def _kill_own_group(signum, frame) -> None:  # pragma: no cover - runs in a reusing worker
    os.killpg(0, signal.SIGKILL)


def _job_index(message: bytes) -> int:
    return _INDEX.unpack(message)[0]


def run_one(job, capture: _Capture, pid: int) -> bytes:  # pragma: no cover - runs in a worker
    """Run `job` with its output captured; its encoded Result."""
    capture.reset()
    return execute(job, capture.collect, pid)


def run_isolated(job, capture: _Capture, pid: int) -> bytes:  # pragma: no cover - runs in a job process
    """run_one() in a process forked for `job` alone, whose capture files its zygote emptied."""
    return execute(job, capture.collect, pid, fresh=True)
