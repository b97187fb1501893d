"""Facts about this machine and this process, asked of the operating system.

Invariant: no engine module is imported here; every function answers from the OS alone
and has a fallback where the OS cannot say.
"""

from __future__ import annotations

import ctypes
import os
import signal


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


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; else a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
