"""The lifecycle of temporary files during one run.

Invariant: a temp job's files are removed once every direct dependant has settled (ran,
was up to date, or failed), and kept when one of them failed, so that the next run can
reuse them (when the temp job's inputs are unchanged) instead of recomputing them. It
never removes a file that is not a temp job's declared temporary file.
"""

from __future__ import annotations

import os

from .hashing import file_stat
from .planner import input_fingerprints


def is_temp(job) -> bool:
    return bool(job.filenames) and hasattr(job, "temp_filenames")


class TempFiles:
    """Counts, per materialized temp job, its direct dependants that have not settled."""

    def __init__(self, history, runlog, is_settled, forget):
        self.history = history
        self.runlog = runlog
        self.is_settled = is_settled  # job -> bool
        self.forget = forget  # temp job -> None: it must run again if asked
        self.users: dict = {}
        self.kept: set = set()

    def made(self, job, active) -> None:
        """`job`'s files exist now; count the dependants (in `active`) still to settle."""
        if is_temp(job):
            self.users[job] = sum(1 for d in job.dependants if d in active and not self.is_settled(d))

    def settled(self, job, failed: bool) -> None:
        """`job` will not need its temp prerequisites any more."""
        if not self.users:
            return
        for up in job.prerequisites:
            left = self.users.get(up)
            if left is None:
                continue
            if failed:
                self.kept.add(up)
            self.users[up] = left - 1
            if left <= 1:
                self._remove(up)

    def reusable(self, job, fingerprints: dict) -> bool:
        """Files kept from a run whose dependant failed, made from the same inputs."""
        if not is_temp(job):
            return False
        record = self.history.get(job.job_id)
        if record is None or record.inputs != input_fingerprints(job, fingerprints):
            return False
        for name, mtime, size, _digest in record.outputs:
            if file_stat(name) != (mtime, size):
                return False
        self.runlog.line(f"{job.job_id}: temp output kept from an earlier run, reused")
        return True

    def remove_all(self) -> None:
        """End of the run: remove what no failed dependant needs."""
        for job in list(self.users):
            self._remove(job)

    def _remove(self, job) -> None:
        del self.users[job]
        if job in self.kept:
            self.runlog.line(f"{job.job_id}: temp file kept, a dependant failed")
            return
        for name in job.temp_filenames():
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        self.forget(job)
