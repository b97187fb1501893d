"""SIGTERM and SIGHUP end a run the way Ctrl-C does.

Invariant: while `ending_on_signals()` is active (in the main thread), the first SIGTERM or
SIGHUP raises `Terminated`, a KeyboardInterrupt, where the master is (at the end of a
`deferred()` block when it is inside one), so the
scheduler's interrupt path runs: running jobs killed, partial outputs removed, finished
jobs' records kept, the summary printed. Further such signals are ignored until the block
ends (the cleanup is not cut short; a batch system's SIGKILL still ends it). Only signals
whose disposition is the default are taken over: one ignored by `nohup` stays ignored, a
handler of the script's own stays in charge. The previous dispositions come back when the
block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised in the master by SIGTERM or SIGHUP during a run; `.signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_deferring = 0  # > 0 inside `deferred()`
_pending: list[int] = []  # a signal that arrived inside `deferred()`


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A signal arriving inside takes effect when the block ends: the scheduler's
    bookkeeping of starting and finishing jobs is never cut in half (a job started but
    not yet counted as running would escape the cleanup)."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            raise Terminated(_pending.pop())


@contextlib.contextmanager
def undeferred() -> Iterator[None]:
    """Inside a `deferred()` block: code that may take long and can be cut anywhere (a
    loader running in the master) takes a signal at once."""
    global _deferring
    saved, _deferring = _deferring, 0
    try:
        if _pending:
            raise Terminated(_pending.pop())
        yield
    finally:
        _deferring = saved


@contextlib.contextmanager
def ending_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into `Terminated` for the duration of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; a run elsewhere keeps the defaults
        return
    fired: list[int] = []
    _pending.clear()

    def handler(signum, _frame) -> None:
        if fired:
            return  # cleaning up after the first one
        fired.append(signum)
        if _deferring:
            _pending.append(signum)  # raised when the bookkeeping in progress is complete
            return
        raise Terminated(signum)

    previous = {}
    for signum in SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, disposition in previous.items():
            signal.signal(signum, disposition)
