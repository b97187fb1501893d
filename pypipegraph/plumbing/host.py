"""Facts about this machine and this process, asked of the operating system.

Invariant: no engine module is imported here; every function answers from the OS alone
and has a fallback where the OS cannot say. `job_process` is the pid of the process
running a job in a local worker (0 elsewhere), set by the worker: only that process
reports for the job (`call_job_code`).
"""

from __future__ import annotations

import ctypes
import os
import signal

job_process = 0


def cpu_count() -> int:
    """Cores this process may use (respects CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def memory_total() -> int:
    """Physical memory in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Have the kernel send `signum` (SIGKILL) to this process when its parent dies (Linux; else a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signum))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def call_job_code(callback, *args):
    """Call a job's callback in its worker; a copy of the job's process that the callback
    forked (a helper that returned or raised where the job would) ends here, silently,
    before the engine's code after the callback can remove outputs or report for the job."""
    try:
        result = callback(*args)
    except BaseException:
        if job_process and os.getpid() != job_process:
            os._exit(1)
        raise
    if job_process and os.getpid() != job_process:
        os._exit(0)
    return result


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists (it may be another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
