"""The in-master executor: runs the jobs that must change the master's own memory.

Invariant: a job run here (a loader, `runs_in == "master"`) runs synchronously in the
master's process, between two scheduling steps, and reports the same Result a worker
would (pid = the master's, no captured output), so the scheduler treats every finished
job alike. Like every executor it knows a job only as an object with `run_in_master()`.
"""

from __future__ import annotations

import os
import time

from .. import util
from .worker import Result


class InMasterExecutor:
    """`run(job)` -> Result, at once."""

    def run(self, job) -> Result:
        start = time.time()
        try:
            job.run_in_master()
        except Exception as exc:  # noqa: BLE001 - reported as the job's failure
            return Result(False, exc, util.user_traceback(exc), "", "", start, time.time(), os.getpid())
        return Result(True, None, None, "", "", start, time.time(), os.getpid())
