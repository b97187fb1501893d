"""What a job used and where it ran, measured in the process that ran it.

Invariant: measuring never fails or slows a job beyond three getrusage calls: the
worker takes `begin()` before the job and `end()` after it, and the Usage travels back
in the job's Result. The numbers are those of the process that ran the job:

  cpu        seconds of user + system time the job took: its process (on Dask, where jobs
             run in worker threads, its thread) plus the child processes it waited for
             (children are counted per process: on Dask, those of two jobs running at
             once in one worker may be counted to either)
  rss        bytes: the peak resident set of that process, or of its largest child
             process when that was larger (a command job's program)
  rss_added  bytes by which the job raised that peak: what the job needed beyond the
             memory the process already had (in a process forked for the job: the job's
             own need; in a reused process it undercounts, never overcounts)
  host       the machine's name; cluster_job the batch system's job id in the worker's
             environment (SLURM_JOB_ID, PBS_JOBID, JOB_ID, LSB_JOBID), else None
  state      what the job passed to `ppg.set_state()` last, else None

The memory a job added last time (`MEMORY_NOTED` bytes or more) is the default
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


def begin() -> tuple[int, float, int]:
    """Before the job: (who is measured, its cpu seconds, its peak rss units)."""
    if _states:
        _states.pop(threading.get_ident(), None)
    who = resource.RUSAGE_SELF
    if _RUSAGE_THREAD is not None and threading.current_thread() is not threading.main_thread():
        who = _RUSAGE_THREAD
    ru = resource.getrusage(who)
    return who, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def end(before: tuple[int, float, int]) -> tuple:
    """After the job: its Usage's fields as a plain tuple (what travels in the Result: a
    tuple pickles in half the time of a named one), from the numbers `begin()` took."""
    global _children
    who, cpu0, rss0 = before
    ru = resource.getrusage(who)
    rss1 = ru.ru_maxrss  # also for RUSAGE_THREAD: Linux reports the process's peak
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid = os.getpid()
    kids_cpu = kids.ru_utime + kids.ru_stime
    last_pid, last_cpu, last_rss = _children
    if last_pid != pid:  # a fresh process: its children's counters started at zero
        last_cpu, last_rss = 0.0, 0
    _children = (pid, kids_cpu, kids.ru_maxrss)
    kid_peak = kids.ru_maxrss if kids.ru_maxrss > last_rss else 0  # a child of this job set it
    cpu = ru.ru_utime + ru.ru_stime - cpu0 + kids_cpu - last_cpu
    state = _states.pop(threading.get_ident(), None) if _states else None
    host, cluster = _where or _locate()
    return (cpu, max(rss1, kid_peak) * _RSS_UNIT, max(rss1 - rss0, kid_peak, 0) * _RSS_UNIT, host,
            cluster, state)


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
