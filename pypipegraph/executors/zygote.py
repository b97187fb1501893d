"""Fork-per-job isolation: a zygote worker that never runs a job itself.

Invariant: every isolated job runs in its own process, forked from a zygote that is a
copy-on-write image of the master (loaded data included) and that no job ever ran in,
so a job sees the master's state and nothing another job did (globals, cwd, environment,
warnings filters, sys.path, heap). The zygote reports each child's result, or its death
(the wait status), over the worker's one pipe, so the master-side machinery (poll set,
generations, death results) is the same as for reusing workers. The child's pid is
published in a shared 8-byte slot: the master shows it and kills the job by it.

Each job process leads its own process group, with the default SIGINT and SIGTERM, so
killing the job (killpg) kills everything it started; when the master dies, the zygote
kills the running job's group before it exits. Only the job's own process reports: it
writes its pid on the "done" pipe, the zygote ignores any other pid, and a forked copy of
the job's process (a helper the job forked that returned or raised) ends silently.

The loop between forks is compiled where the extension was built (_forkserver.c): the
zygote then writes none of the pages it shares with its children, and its heap, collapsed
onto 2 MiB pages once before the loop, stays on them. Before it serves, a zygote runs the
engine's part of a job's path once on a probe (no job, no user code), so that the caches
this fills are shared by its children, not written by each. Elsewhere (no compiler at
install, or PYPIPEGRAPH_PURE_PYTHON_ZYGOTE=1) the same protocol runs in Python below.

Forks stay cheap whatever the master holds: fork and exit cost one page-table entry per
resident 4 KiB page, so before forking zygotes the master asks the kernel to back its
densely used anonymous memory by 2 MiB pages (`collapse_heap`, MADV_COLLAPSE, Linux 6.1+),
which fork copies as one entry each.
"""

from __future__ import annotations

import _signal
import ctypes
import gc
import mmap
import os
import pickle
import select
import signal
import socket
import struct
import sys
import threading

from ..plumbing import host

try:
    from . import _forkserver
except ImportError:  # built without a C compiler, or not on Linux
    _forkserver = None

_PID = struct.Struct("<q")
_DONE = struct.Struct("=i")  # a job process's "done": its own pid
_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)  # a plain int: ctypes converts it without touching the enum's pages
_SIGTERM = int(signal.SIGTERM)
_SIGINT = int(signal.SIGINT)
_SIG_DFL = int(signal.SIG_DFL)  # plain ints for _signal.signal: signal.signal's enum conversions copy pages
_MADV_COLLAPSE = 25
_HUGE = 1 << 21
_DENSE = 0.75  # collapse a mapping only when this share of it is resident (a huge page fills holes)
_WORTH = 16 << 20  # from this RSS on it pays: 10 000 jobs of a 33 MiB master cost 30% less (docs/performance.md)
_GROWTH = 1.25  # collapse again only when the RSS grew by this factor since the last time
_collapse_unsupported = False
_collapsed_at = 0  # the RSS (bytes) at the last collapse
_HAS_PIDFD = hasattr(os, "pidfd_open")
PURE_PYTHON_ENV = "PYPIPEGRAPH_PURE_PYTHON_ZYGOTE"


def compiled_loop_available() -> bool:
    """Whether zygotes run the compiled fork-server loop (else the pure-Python one)."""
    return _forkserver is not None and os.environ.get(PURE_PYTHON_ENV, "") in ("", "0")


def new_pid_slot() -> mmap.mmap:
    """Shared memory (master <-> zygote) holding the pid of the zygote's running child, or 0."""
    return mmap.mmap(-1, _PID.size)


def slot_pid(slot: mmap.mmap) -> int:
    return _PID.unpack_from(slot, 0)[0]


def kill_job_process(pid: int) -> None:
    """SIGKILL the job process `pid` and everything it started (its process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)  # not (yet) a group leader
        except ProcessLookupError:
            pass


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


class _Probe:  # pragma: no cover - runs in the zygote
    """What a zygote runs through the engine's part of a job's path before it serves: no
    job, no file, no user code; a result of the shape an output job's has."""

    job_id = "(the zygote's warm-up)"

    def run_in_worker(self) -> list:
        return [("", 0, 0, 0)]


class _MasterGone(BaseException):
    """The zygote's parent-death signal arrived (pure-Python loop)."""


def _master_gone(signum, frame):  # pragma: no cover - runs in the zygote
    raise _MasterGone


class _Zygote:  # pragma: no cover - runs in the zygote
    """One spare child is always forked ahead, waiting for a job: the fork is off the job's
    path; a child says it is done (its pid) before it exits, so its exit is off it too."""

    def __init__(self, conn, job_list, capture, result_file, slot, run_one, index_of):
        self.conn, self.job_list, self.capture, self.slot = conn, job_list, capture, slot
        self.run_one, self.index_of = run_one, index_of
        self.pid = os.getpid()
        self.result_fd = os.open(result_file, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self.done_r, self.done_w = os.pipe()
        self.prctl = _libc_prctl()
        single = threading.active_count() == 1  # else fork needs Python's after-fork machinery
        self.compiled = single and compiled_loop_available()
        self.fork = _raw_fork() if single else os.fork
        self.seed, self.random = _seeder()
        self.exiting: list[int] = []  # children that reported and are exiting: reaped later
        self.spare: tuple[int, int] | None = None  # (pid, fd to send it its job)
        gc.freeze()  # children never touch the GC headers of what the zygote holds: fewer copied pages

    def serve(self) -> None:
        self._warm_up()
        if self.compiled:
            collapse_heap(force=True)  # after the last Python of the zygote: its huge pages stay
            message = _forkserver.serve(self.conn.fileno(), self.result_fd, self.done_r, self.done_w,
                                        *self.capture.fds, self.slot)
            if message is not None:
                self._child(message)  # never returns
            return
        signal.signal(signal.SIGTERM, _master_gone)
        if self.prctl is not None:
            self.prctl(_PR_SET_PDEATHSIG, _SIGTERM)
        try:
            while True:
                if self.spare is None:
                    self.spare = self._fork_spare()
                try:
                    message = self.conn.recv_bytes()
                except (EOFError, OSError):
                    return
                if not message or not self._run(message):
                    return
        except _MasterGone:
            if self.spare is not None:
                kill_job_process(self.spare[0])
        finally:
            if self.spare is not None:
                os.close(self.spare[1])  # the spare reads EOF and exits
                self.exiting.append(self.spare[0])
            for pid in self.exiting:
                _wait(pid)  # reaped before the master hears we are gone

    def _run(self, message: bytes) -> bool:
        """Run one job in the spare; False when the master is gone."""
        self.exiting = [pid for pid in self.exiting if not _reaped(pid)]
        self.capture.clear()
        (pid, job_fd), self.spare = self.spare, None
        _PID.pack_into(self.slot, 0, pid)
        try:
            os.write(job_fd, message)
            os.close(job_fd)
            self.spare = self._fork_spare()  # while the job runs
            outcome = self._wait_for(pid)
        finally:
            _PID.pack_into(self.slot, 0, 0)
        if outcome is None:
            return False
        done, status = outcome
        size = os.fstat(self.result_fd).st_size
        data = os.pread(self.result_fd, size, 0) if size else b""
        if size:
            os.ftruncate(self.result_fd, 0)
        if done and data:
            self.conn.send_bytes(data)
        else:
            self.conn.send_bytes(pickle.dumps(("died", pid, status)))
        return True

    def _wait_for(self, pid: int) -> tuple[bool, int] | None:
        """(whether child `pid` said it is done, else its wait status); None when the master
        is gone (the child's group is then killed and reaped)."""
        try:
            if not _HAS_PIDFD:
                status = _wait(pid)
                return (True, 0) if self._said_done(pid) else (False, status)
            pidfd = os.pidfd_open(pid)  # a zombie still has one; wake on "done" or on its death
            watched = [self.done_r, pidfd, self.conn]
            try:
                while True:
                    ready = select.select(watched, [], [])[0]
                    if self.done_r in ready and self._said_done(pid):
                        self.exiting.append(pid)  # still exiting: reaped later
                        return True, 0
                    if pidfd in ready:
                        if self._said_done(pid):
                            self.exiting.append(pid)
                            return True, 0
                        return False, _wait(pid)
                    if self.conn in ready:
                        if _peer_closed(self.conn.fileno()):
                            raise _MasterGone
                        watched.remove(self.conn)  # a message for after this job
            finally:
                os.close(pidfd)
        except _MasterGone:
            kill_job_process(pid)
            _wait(pid)
            return None

    def _said_done(self, pid: int) -> bool:
        """Whether `pid` wrote its pid on the done pipe; other pids (not a job) are ignored."""
        done = False
        while select.select([self.done_r], [], [], 0)[0]:
            data = os.read(self.done_r, _DONE.size)
            if len(data) < _DONE.size:
                break
            done = done or _DONE.unpack(data)[0] == pid
        return done

    def _fork_spare(self) -> tuple[int, int]:
        job_r, job_w = os.pipe()
        pid = self.fork()
        if pid < 0:
            os.close(job_r)
            os.close(job_w)
            raise OSError(ctypes.get_errno(), "fork failed")
        if pid:
            os.close(job_r)
            try:
                os.setpgid(pid, pid)  # also done by the child: whichever runs first
            except OSError:
                pass
            return pid, job_w
        code = 3
        try:
            if self.fork is not os.fork:
                self._reseed()
            _signal.signal(_SIGINT, _SIG_DFL)  # ignored in workers; a job's programs get it back
            _signal.signal(_SIGTERM, _SIG_DFL)
            os.setpgid(0, 0)
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
            self._child(message)
        finally:
            os._exit(code)

    def _reseed(self) -> None:
        """In a job process: its own random sequence, as os.fork's hook would give it."""
        random = self.random
        if random is not None:
            self.seed(random)
            if random.gauss_next is not None:
                random.gauss_next = None

    def _warm_up(self) -> None:
        """Run the engine's part of a job's path once, on a probe that is no job: the
        caches this fills (type attribute lookups, specialised bytecode) are then read by
        every job's process rather than written, and so copied, by each. Nothing is left
        behind: the result is dropped, the capture files are emptied."""
        try:
            self.run_one(_Probe(), self.capture, self.pid)
            self.index_of(b"\0\0\0\0")
            self.capture.clear()
        except Exception:  # noqa: BLE001 - a cache left cold costs pages, never a job
            pass

    def _child(self, message: bytes) -> None:
        """In a job process: run the job, leave its result, say done; never returns."""
        code = 3
        try:
            me = host.job_process = os.getpid()
            if self.compiled:
                self._reseed()
            job = self.job_list[self.index_of(message)]
            data = self.run_one(job, self.capture, me)
            if os.getpid() != me:
                os._exit(0)  # a forked copy of this process (the job's helper) never reports
            _write_all(self.result_fd, data)
            os.write(self.done_w, _DONE.pack(me))
            code = 0
        finally:
            os._exit(code)


def _peer_closed(fd: int) -> bool:
    """Whether the other end of socket `fd` is closed (readable, but nothing to read)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


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
    offset = os.pwrite(fd, data, 0)  # all of it, but for a result of gigabytes
    if offset < len(data):
        view = memoryview(data)
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


def _seeder():
    """(seed, instance): what os.fork's hooks do that a job needs, looked up once per zygote.
    `random`'s hook reseeds its shared instance; a job's process calls the instance's C seed
    directly, not the Python `Random.seed` around it, which costs the process about 35
    more copied pages for the same effect (a fresh seed from the OS, no cached gauss value).
    (None, None) when `random` was never imported."""
    random = sys.modules.get("random")
    instance = getattr(random, "_inst", None)
    if instance is None:
        return None, None
    standard = type(instance).seed is getattr(getattr(random, "Random", None), "seed", None)
    base = getattr(random, "_random", None)
    return (base.Random.seed if standard and base is not None else type(instance).seed), instance


def _libc_prctl():
    """libc's prctl, looked up once per zygote (not once per child), or None off Linux."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def collapse_heap(force: bool = False) -> int:
    """Back the densely used anonymous memory of this process by 2 MiB pages; bytes collapsed.

    Only when it pays: the RSS is at least _WORTH and (unless `force`) grew since the last collapse; mappings
    already backed by huge pages are skipped. A no-op (0) where the kernel or libc cannot
    (before Linux 6.1, THP disabled, not Linux).
    """
    global _collapse_unsupported, _collapsed_at
    if _collapse_unsupported:
        return 0
    rss = _rss()
    if rss < _WORTH or (not force and rss < _collapsed_at * _GROWTH):
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
