"""Temporary files during one run: made by temp jobs, removed once their dependants settled.

Invariant: a temp job's files are removed once every direct dependant has settled (ran, was
up to date, or failed), and kept when one of them failed, so that the next run can reuse
them (`Rebuilder.temp_reusable`). Nothing else is ever removed here.
"""

from __future__ import annotations

import os


def is_temp(job) -> bool:
    """Whether `job` makes temporary files (a temp job with files)."""
    return job.is_temp_job and bool(job.filenames)


class TempFiles:
    """The temp files of one run. `is_settled(job)` and `forget(job)` come from the
    scheduler (a forgotten temp job must run again if asked); `note(text)` tells the user."""

    def __init__(self, note, is_settled, forget):
        self.note = note
        self.is_settled = is_settled
        self.forget = forget
        self.users: dict = {}  # materialized temp job -> direct dependants not settled
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

    def remove_all(self) -> None:
        """End of the run: remove what no failed dependant needs."""
        for job in list(self.users):
            self._remove(job)

    def _remove(self, job) -> None:
        del self.users[job]
        if job in self.kept:
            self.note(f"{job.job_id}: temp file kept, a dependant failed")
            return
        for name in job.temp_filenames():
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        self.forget(job)
