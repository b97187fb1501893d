"""What a job used and where it ran, measured in the process that ran it.

Invariant: measuring never fails or slows a job beyond three getrusage calls and one
write to /proc/self/clear_refs: the worker takes `begin()` before the job and `end()` after
it, and the Usage travels back in the job's Result. The numbers are those of the job,
not of the process around it:

  cpu        seconds of user + system time the job took: its process (on Dask, where jobs
             run in worker threads, its thread) plus the child processes it waited for
             (children are counted per process: on Dask, those of two jobs running at
             once in one worker may be counted to either)
  rss        bytes of memory the job itself used: how far its process's resident memory
             rose above what it held when the job began (at its peak), or the peak of
             its largest child process when that was larger (a command job's program).
             A worker forked from a master holding 200 MiB of loaded data starts with
             those pages resident; they are not the job's and do not count. On Linux the
             process's peak is reset when the job begins (/proc/self/clear_refs), so a
             reused worker measures each job on its own; elsewhere, and for jobs run in
             threads (Dask), the rise of the process's lifetime peak counts (it
             undercounts a job that needs less than an earlier one did, never overcounts)
  rss_added  the same figure (kept as its own field: what the next run's estimate is)
  host       the machine's name; cluster_job the batch system's job id in the worker's
             environment (SLURM_JOB_ID, PBS_JOBID, JOB_ID, LSB_JOBID), else None
  state      what the job passed to `ppg.set_state()` last, else None

The memory a job used last time (`MEMORY_NOTED` bytes or more) is the default
`memory_needed` of its next run when the user set none, capped at what the machine (or
the largest Dask worker) has, so an estimate never makes a job unschedulable.
"""

from __future__ import annotations

import math
import os
import resource
import socket
import sys
import threading
from typing import NamedTuple

CLUSTER_ENV = ("SLURM_JOB_ID", "PBS_JOBID", "JOB_ID", "LSB_JOBID")
MEMORY_NOTED = 16 << 20  # jobs adding less than this keep no memory estimate
MAX_STATE = 200  # characters of a user-defined state

_RSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)
_SELF, _CHILDREN, _getrusage = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN, resource.getrusage
_states: dict[int, str] = {}  # thread id -> the state its job set (Dask runs jobs in threads)
_where: tuple | None = None  # (host, cluster job id) of this process
_children = (0, 0.0, 0)  # (pid, cpu, maxrss) of this process's waited-for children after its last job


class Usage(NamedTuple):
    """One job's resource use and place (see the module docstring)."""

    cpu: float
    rss: int
    rss_added: int
    host: str
    cluster_job: str | None
    state: str | None


def set_state(state: str) -> None:
    """Inside a running job: label its run with a state of your own ("aligned", "qc
    passed"); `ppg status` shows it and filters on it (`--state aligned`). The last call
    wins; a job that sets none has none."""
    if not isinstance(state, str) or not state.strip():
        raise ValueError(f"ppg.set_state() takes a non-empty str, e.g. 'aligned'; got {state!r}")
    if len(state) > MAX_STATE or "\n" in state:
        raise ValueError(f"ppg.set_state(): a state is one line of at most {MAX_STATE} characters; "
                         f"got {state[:60]!r}...")
    _states[threading.get_ident()] = state.strip()


def begin(fresh: bool = False) -> tuple[int, float, int]:
    """Before the job: (who is measured, its cpu seconds, its peak rss units). In a
    process's main thread on Linux the peak is first reset to the resident size now, so
    the job's rise above it is its own. `fresh`: this is the main thread of a process
    forked for this one job, whose peak is already its own (a forked process's peak starts
    at its size at the fork), so nothing is reset and no thread is looked up."""
    if _states:
        _states.pop(threading.get_ident(), None)
    who = _SELF
    if not fresh:
        if _RUSAGE_THREAD is not None and threading.current_thread() is not threading.main_thread():
            who = _RUSAGE_THREAD
        elif _can_reset[0]:
            _reset_peak()
    ru = _getrusage(who)
    return who, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def end(before: tuple[int, float, int]) -> tuple:
    """After the job: its Usage's fields as a plain tuple (what travels in the Result: a
    tuple pickles in half the time of a named one), from the numbers `begin()` took."""
    global _children
    who, cpu0, rss0 = before
    ru = _getrusage(who)
    rss1 = ru.ru_maxrss  # also for RUSAGE_THREAD: Linux reports the process's peak
    kids = _getrusage(_CHILDREN)
    pid = os.getpid()
    kids_cpu = kids.ru_utime + kids.ru_stime
    last_pid, last_cpu, last_rss = _children
    if last_pid != pid:  # a fresh process: its children's counters started at zero
        last_cpu, last_rss = 0.0, 0
    _children = (pid, kids_cpu, kids.ru_maxrss)
    kid_peak = kids.ru_maxrss if kids.ru_maxrss > last_rss else 0  # a child of this job set it
    cpu = ru.ru_utime + ru.ru_stime - cpu0 + kids_cpu - last_cpu
    used = max(rss1 - rss0, kid_peak, 0) * _RSS_UNIT
    state = _states.pop(threading.get_ident(), None) if _states else None
    host, cluster = _where or _locate()
    return (cpu, used, used, host, cluster, state)


_can_reset = [sys.platform.startswith("linux")]


def _reset_peak() -> None:
    """Reset this process's peak resident set (what getrusage reports) to its current
    one (Linux 4.0 and later); never again in this process once that failed."""
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
        try:
            os.write(fd, b"5")
        finally:
            os.close(fd)
    except OSError:
        _can_reset[0] = False


def locate() -> tuple:
    """(host name, cluster job id) of this process, looked up once: a process that forks
    a process per job calls this first, so that no job's process looks them up again."""
    return _where or _locate()


def _locate() -> tuple:
    global _where
    cluster = next((os.environ[name] for name in CLUSTER_ENV if os.environ.get(name)), None)
    _where = (socket.gethostname(), cluster)
    return _where


def memory_cap(budget) -> int:
    """The most memory one job can be given: the largest Dask worker's, else the machine's
    (0 when unknown: no estimates then)."""
    cap = getattr(budget, "worker_memory", 0) or getattr(budget, "memory", 0) or 0
    return int(cap) if math.isfinite(cap) else 0  # unbounded (a submit command's cluster): unknown


def apply_memory_estimates(jobs: dict, estimates: dict, budget) -> int:
    """Give jobs ({job id: job}) without a `memory_needed` of their own the memory they
    added last time (capped at `memory_cap(budget)`); returns how many got one."""
    cap = memory_cap(budget)
    if not estimates or cap <= 0:
        return 0
    given = 0
    for job_id, estimate in estimates.items():
        job = jobs.get(job_id)
        if job is not None and estimate and job.memory_needed == -1:
            job.memory_needed = min(int(estimate), cap)
            given += 1
    return given
