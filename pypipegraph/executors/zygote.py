"""Fork-per-job isolation: a zygote worker that never runs a job itself.

Invariant: every isolated job runs in its own process, forked from a zygote that is a
copy-on-write image of the master (loaded data included) and that no job ever ran in,
so a job sees the master's state and nothing another job did (globals, cwd, environment,
warnings filters, sys.path, heap). The zygote reports each child's result, or its death
(the wait status), over the worker's one pipe, so the master-side machinery (poll set,
generations, death results) is the same as for reusing workers. The child's pid is
published in a shared 8-byte slot: the master shows it and kills the job by it.

Forks stay cheap whatever the master holds: fork and exit cost one page-table entry per
resident 4 KiB page, so before forking zygotes the master asks the kernel to back its
densely used anonymous memory by 2 MiB pages (`collapse_heap`, MADV_COLLAPSE, Linux 6.1+),
which fork copies as one entry each.
"""

from __future__ import annotations

import ctypes
import gc
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading

_PID = struct.Struct("<q")
_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)  # a plain int: ctypes converts it without touching the enum's pages
_MADV_COLLAPSE = 25
_HUGE = 1 << 21
_DENSE = 0.75  # collapse a mapping only when this share of it is resident (a huge page fills holes)
_WORTH = 16 << 20  # from this RSS on it pays: 10 000 jobs of a 33 MiB master cost 30% less (docs/performance.md)
_GROWTH = 1.25  # collapse again only when the RSS grew by this factor since the last time
_collapse_unsupported = False
_collapsed_at = 0  # the RSS (bytes) at the last collapse
_HAS_PIDFD = hasattr(os, "pidfd_open")


def new_pid_slot() -> mmap.mmap:
    """Shared memory (master <-> zygote) holding the pid of the zygote's running child, or 0."""
    return mmap.mmap(-1, _PID.size)


def slot_pid(slot: mmap.mmap) -> int:
    return _PID.unpack_from(slot, 0)[0]


def child_died(message) -> tuple[int, int] | None:
    """(child pid, wait status) when `message` is a zygote's report of a child that died."""
    if type(message) is tuple and len(message) == 3 and message[0] == "died":
        return message[1], message[2]
    return None


def zygote_main(conn, job_list, capture, result_file: str, slot: mmap.mmap,  # pragma: no cover
                run_one, index_of) -> None:
    """Serve job indices from `conn`, each in a fresh child; return when the master retires us.

    `run_one(job, capture, pid) -> bytes` runs the job and encodes its result;
    `index_of(message) -> int` decodes the master's message; `capture` is the
    worker's _Capture, inherited by every child (fds 1 and 2), as is `result_file`,
    where a child leaves its encoded result; `slot` is this worker's pid slot.
    """
    _Zygote(conn, job_list, capture, result_file, slot, run_one, index_of).serve()


class _Zygote:  # pragma: no cover - runs in the zygote
    """One spare child is always forked ahead, waiting for a job: the fork is off the job's
    path; a child says it is done (one byte) before it exits, so its exit is off it too."""

    def __init__(self, conn, job_list, capture, result_file, slot, run_one, index_of):
        self.conn, self.job_list, self.capture, self.slot = conn, job_list, capture, slot
        self.run_one, self.index_of = run_one, index_of
        self.pid = os.getpid()
        self.result_fd = os.open(result_file, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.done_r, self.done_w = os.pipe()
        self.prctl = _libc_prctl()
        self.fork = _raw_fork() if threading.active_count() == 1 else os.fork
        self.exiting: list[int] = []  # children that reported and are exiting: reaped later
        self.spare: tuple[int, int] | None = None  # (pid, fd to send it its job)
        gc.freeze()  # children never touch the GC headers of what the zygote holds: fewer copied pages

    def serve(self) -> None:
        try:
            while True:
                if self.spare is None:
                    self.spare = self._fork_spare()
                try:
                    message = self.conn.recv_bytes()
                except (EOFError, OSError):
                    return
                if not message:
                    return
                self._run(message)
        finally:
            if self.spare is not None:
                os.close(self.spare[1])  # the spare reads EOF and exits
                self.exiting.append(self.spare[0])
            for pid in self.exiting:
                _wait(pid)  # reaped before the master hears we are gone

    def _run(self, message: bytes) -> None:
        self.exiting = [pid for pid in self.exiting if not _reaped(pid)]
        self.capture.clear()
        (pid, job_fd), self.spare = self.spare, None
        _PID.pack_into(self.slot, 0, pid)
        try:
            os.write(job_fd, message)
            os.close(job_fd)
            self.spare = self._fork_spare()  # while the job runs
            done, status = self._wait_for(pid)
        finally:
            _PID.pack_into(self.slot, 0, 0)
        size = os.fstat(self.result_fd).st_size
        data = os.pread(self.result_fd, size, 0) if size else b""
        if size:
            os.ftruncate(self.result_fd, 0)
        if done and data:
            self.conn.send_bytes(data)
        else:
            self.conn.send_bytes(pickle.dumps(("died", pid, status)))

    def _wait_for(self, pid: int) -> tuple[bool, int]:
        """(whether child `pid` said it is done, else its wait status)."""
        reaped = None
        if _HAS_PIDFD:  # Linux 5.3+: wake on "done" or on its death, whichever comes first
            pidfd = os.pidfd_open(pid)  # a zombie still has one
            try:
                select.select([self.done_r, pidfd], [], [])
            finally:
                os.close(pidfd)
        else:
            reaped = _wait(pid)
        if select.select([self.done_r], [], [], 0)[0]:
            os.read(self.done_r, 1)
            if reaped is None:
                self.exiting.append(pid)  # still exiting: reaped later
            return True, 0
        return False, _wait(pid) if reaped is None else reaped

    def _fork_spare(self) -> tuple[int, int]:
        job_r, job_w = os.pipe()
        pid = self.fork()
        if pid < 0:
            os.close(job_r)
            os.close(job_w)
            raise OSError(ctypes.get_errno(), "fork failed")
        if pid:
            os.close(job_r)
            return pid, job_w
        code = 3
        try:
            if self.fork is not os.fork:
                _reseed()
            if self.prctl is not None:
                self.prctl(_PR_SET_PDEATHSIG, _SIGKILL)
            if os.getppid() != self.pid:  # the zygote died before the line above
                os._exit(code)
            self.conn.close()
            os.close(job_w)
            os.close(self.done_r)
            message = os.read(job_r, 64)
            if not message:
                os._exit(0)  # retired before it got a job
            os.close(job_r)
            job = self.job_list[self.index_of(message)]
            _write_all(self.result_fd, self.run_one(job, self.capture, os.getpid()))
            os.write(self.done_w, b"!")
            code = 0
        finally:
            os._exit(code)


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _wait(pid: int) -> int:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        offset += os.pwrite(fd, view[offset:], offset)


def _raw_fork():
    """libc's fork(), called with the GIL held and without Python's at-fork hooks; else os.fork.

    Python's os.fork runs its after-fork machinery and hooks in the child (threading, logging
    and the store lock re-initialise state, random reseeds): about 150 copy-on-write page
    faults before the child's first line, 75 of which a trivial job would not touch later. A zygote needs none of it but the reseed:
    it is single-threaded (so no lock is held by another thread) and its own os.fork from
    the master already ran the hooks. Used only when the zygote has one thread.
    """
    try:
        fork = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return os.fork
    fork.argtypes, fork.restype = (), ctypes.c_int
    return fork


def _reseed() -> None:
    """What os.fork's hooks do that a child needs: its own random sequence."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed()


def _libc_prctl():
    """libc's prctl, looked up once per zygote (not once per child), or None off Linux."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def collapse_heap() -> int:
    """Back the densely used anonymous memory of this process by 2 MiB pages; bytes collapsed.

    Only when it pays: the RSS is at least _WORTH and grew since the last collapse; mappings
    already backed by huge pages are skipped. A no-op (0) where the kernel or libc cannot
    (before Linux 6.1, THP disabled, not Linux).
    """
    global _collapse_unsupported, _collapsed_at
    if _collapse_unsupported:
        return 0
    rss = _rss()
    if rss < _WORTH or rss < _collapsed_at * _GROWTH:
        return 0
    _collapsed_at = rss
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        ranges = _dense_anonymous_ranges()
    except (OSError, AttributeError):
        _collapse_unsupported = True
        return 0
    done = 0
    for start, stop in ranges:
        if madvise(start, stop - start, _MADV_COLLAPSE) == 0:
            done += stop - start
        elif ctypes.get_errno() == 22 and not done:  # EINVAL: the kernel has no MADV_COLLAPSE
            _collapse_unsupported = True
            return 0
    return done


def _dense_anonymous_ranges() -> list[tuple[int, int]]:
    """2 MiB-aligned parts of private, writable, anonymous mappings that are mostly resident."""
    ranges = []
    with open("/proc/self/smaps") as fh:
        current = None
        for line in fh:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                perms, path = parts[1], parts[5] if len(parts) > 5 else ""
                current = None
                if perms.startswith("rw") and perms[3] == "p" and path in ("", "[heap]"):
                    low, high = (int(x, 16) for x in first.split("-"))
                    start, stop = (low + _HUGE - 1) & ~(_HUGE - 1), high & ~(_HUGE - 1)
                    if stop > start:
                        current = (start, stop, high - low)
            elif first == "Rss:" and current is not None:
                start, stop, size = current
                rss = int(line.split()[1]) * 1024
                current = (start, stop, size, rss) if rss >= _DENSE * size else None
            elif first == "AnonHugePages:" and current is not None:
                start, stop, size, rss = current
                if int(line.split()[1]) * 1024 < _DENSE * rss:  # not collapsed yet
                    ranges.append((start, stop))
                current = None
    return ranges


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
