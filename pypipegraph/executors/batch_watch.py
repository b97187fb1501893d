"""Noticing a submitted batch job that ended without a word: cancelled, killed at its
walltime, lost with its node.

Invariant: a job is declared lost only on evidence, and only when the evidence still
holds `grace` seconds later (a result written on another node may take that long to show
on a shared file system). The evidence: its process is gone when it ran on this host; its
heartbeat file (touched by the job's script, not by its Python, so a long computation
holding the GIL does not stop it) has not changed for `lost_after` seconds on the
master's clock (clocks of other hosts are never compared); or the batch system's status
command (when given) no longer lists it. So a lost job is failed within about
`lost_after` * 1.25 seconds (heartbeat, status command) or a second (a process of this
host) of the first evidence, and a live one never is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

from ..plumbing.host import pid_alive

HOST = socket.gethostname()
LOCAL_GRACE = 1.0  # seconds: a script whose Python died writes its exit status at once


class _Seen:
    """What the watch saw of one job."""

    __slots__ = ("beat", "beat_changed", "status_due", "listed", "suspected")

    def __init__(self, now: float):
        self.beat = None  # the heartbeat file's mtime
        self.beat_changed = now  # when (master's clock) it last changed
        self.status_due = 0.0  # when to run the status command next
        self.listed = True  # its last answer
        self.suspected = None  # since when the evidence holds


class Watch:
    """`lost(task)` says why a submitted job counts as lost, or None. `status` is the
    status command (argument list with {cluster_id}; it exits non-zero or prints nothing
    once the batch system no longer knows the job), `fill` fills its placeholders."""

    def __init__(self, lost_after: float, status: list | None, fill):
        self.lost_after = lost_after
        self.every = lost_after / 4  # heartbeat period, status command period, grace
        self.status = status
        self.fill = fill
        self._seen: dict = {}  # task base -> _Seen

    def forget(self, task) -> None:
        self._seen.pop(task.base, None)

    def lost(self, task, now: float | None = None) -> str | None:
        now = time.time() if now is None else now
        seen = self._seen.get(task.base)
        if seen is None:
            seen = self._seen[task.base] = _Seen(now)
        evidence = self._evidence(task, seen, now)
        if evidence is None:
            seen.suspected = None
            return None
        if seen.suspected is None:
            seen.suspected = now  # look again after the grace period: a result may be on its way
            return None
        reason, grace = evidence
        return reason if now - seen.suspected >= grace else None

    def _evidence(self, task, seen: _Seen, now: float) -> tuple[str, float] | None:
        """(why, grace): the grace is short for a process of this host (its files are
        visible here at once), a quarter of `lost_after` for what other hosts write."""
        what = f"batch job {task.cluster_id}" if task.cluster_id else "its batch job"
        if task.state == "running":
            if task.host == HOST and task.pid and not _running_here(task.pid):
                return f"{what} ended without a result (its process {task.pid} on this host is gone)", LOCAL_GRACE
            beat = _mtime(task.base + ".beat")
            if beat != seen.beat:
                seen.beat, seen.beat_changed = beat, now
            elif now - seen.beat_changed > self.lost_after:
                return (f"{what} ended without a result (its heartbeat stopped {now - seen.beat_changed:.0f} s "
                        "ago: cancelled, out of walltime, or its node was lost)"), self.every
        if self.status and task.cluster_id:
            if now >= seen.status_due:
                seen.status_due = now + self.every
                seen.listed = self._listed(task)
            if not seen.listed:
                return f"{what} ended without a result (`{' '.join(self.status)}` no longer lists it)", self.every
        return None

    def _listed(self, task) -> bool:
        """Whether the status command lists the job: it exits 0 and prints something. A
        command that cannot run at all is no evidence (counts as listed)."""
        try:
            done = subprocess.run(self.fill(self.status, {"cluster_id": task.cluster_id}, "status"),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return True
        return done.returncode == 0 and bool(done.stdout.strip())


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _running_here(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie that nobody reaped does not)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
