"""The store's lock file: one run at a time per store, and only live runs hold it.

Invariant: the lock is an flock on `<store>.lock`, which holds the pid of the run that
took it. Only the process that took it holds it: the descriptor is closed in every
process forked from it (workers, a job's own children), so a job that leaves a process
running cannot lock out the next run. A lock whose recorded pid is not a live process
(held by some leftover that inherited it otherwise) is not a lock: the file is replaced.
"""

from __future__ import annotations

import fcntl
import os

from ..errors import StoreError, StoreLocked
from ..plumbing.safe_files import CLOEXEC, NOFOLLOW, open_lock_file

_HELD: set[int] = set()  # lock descriptors this process holds


def _close_in_child() -> None:
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


def acquire(lock_name: str, store: str) -> int:
    """Take the lock for `store`; its descriptor. StoreError when a live run holds it."""
    for _ in range(3):
        fd = _open(lock_name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            stale = holder is not None and not pid_alive(holder)
            inode = os.fstat(fd).st_ino
            os.close(fd)
            if stale:
                _replace(lock_name, inode)
                continue
            raise StoreLocked(
                f"Another pypipegraph run is using {store} (lock {lock_name}"
                f"{', pid ' + str(holder) if holder else ''}). Wait for it to finish; "
                "two runs in one directory would overwrite each other's outputs.",
                holder,
            ) from None
        if _inode(lock_name) != os.fstat(fd).st_ino:  # replaced meanwhile by a run breaking a stale lock
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _HELD.add(fd)
        return fd
    raise StoreError(f"cannot take the lock {lock_name}: it keeps being replaced; is another run starting?")


def release(fd: int) -> None:
    _HELD.discard(fd)
    os.close(fd)


def _open(lock_name: str) -> int:
    try:
        fd = open_lock_file(lock_name)  # never through a planted link
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {lock_name}: {exc}") from exc
    os.set_inheritable(fd, False)
    return fd


def _holder(fd: int) -> int | None:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists (it may be another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _replace(lock_name: str, stale_inode: int) -> None:
    """Put a fresh lock file where the stale one was (its holder keeps the old, unlinked one)."""
    fresh = f"{lock_name}.{os.getpid()}"
    try:
        os.close(os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o644))
    except OSError as exc:
        raise StoreError(f"cannot replace the stale lock {lock_name}: {fresh}: {exc.strerror}") from exc
    if _inode(lock_name) == stale_inode:
        os.replace(fresh, lock_name)
    else:
        os.unlink(fresh)
