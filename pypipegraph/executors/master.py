"""The in-master executor: runs the jobs that must change the master's own memory.

Invariant: a job run here (a loader, a job-generating job: `runs_in == "master"`) runs
synchronously in the master's process, between two scheduling steps, so no other job
starts while it runs; it reports the same Result a worker would (pid = the master's), so
the scheduler treats every finished job alike. With `capture`, what the job prints to
sys.stdout/sys.stderr is kept (its last MAX_CAPTURE characters) instead of shown. Like
every executor it knows a job only as an object with `run_in_master()`.
"""

from __future__ import annotations

import contextlib
import io
import os
import time

from ..plumbing.modules import user_traceback
from .worker import MAX_CAPTURE, Result


class InMasterExecutor:
    """`run(job, capture=False)` -> Result, at once; the value is what `run_in_master()` returned."""

    def run(self, job, capture: bool = False) -> Result:
        start = time.time()
        out, err = (io.StringIO(), io.StringIO()) if capture else (None, None)
        try:
            if capture:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    value = job.run_in_master()
            else:
                value = job.run_in_master()
        except Exception as exc:  # noqa: BLE001 - reported as the job's failure
            return Result(False, exc, user_traceback(exc), _text(out), _text(err), start, time.time(),
                          os.getpid())
        return Result(True, value, None, _text(out), _text(err), start, time.time(), os.getpid())


def _text(buffer) -> str:
    return "" if buffer is None else buffer.getvalue()[-MAX_CAPTURE:]
