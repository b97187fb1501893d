"""A pipeline's job list inside a fresh-Python worker process (Dask, a submit command).

Invariant: a loader runs at most once per replica, before the first job that needs it, one
at a time; a loader that failed here fails every job that needs it with a message naming
where, while the master's own run of it succeeded.
"""

from __future__ import annotations

import os
import threading
import traceback

from ..errors import PyPipeGraphError


class Replica:
    """One pipeline's job list in this worker process, and which loaders ran here."""

    def __init__(self, graph, jobs: list):
        self.graph = graph
        self.jobs = jobs
        self.loaded: dict = {}  # loader index -> None (ran) or the error text (failed)
        self.lock = threading.Lock()  # loaders run one at a time


def run_loaders(replica: Replica, job, loaders: tuple,
                where: str = "on the Dask worker") -> PyPipeGraphError | None:
    """Run the loaders `job` needs that have not run in this process; the first failure
    (`where`: where this process is, for the message)."""
    for index in loaders:
        if index in replica.loaded and replica.loaded[index] is None:
            continue
        with replica.lock:
            if index not in replica.loaded:
                loader = replica.jobs[index]
                try:
                    loader.run_in_master()
                    replica.loaded[index] = None
                except Exception:  # noqa: BLE001 - reported as the dependant's failure
                    replica.loaded[index] = traceback.format_exc()
            error = replica.loaded[index]
        if error is not None:
            loader = replica.jobs[index]
            return PyPipeGraphError(
                f"{job.job_id} did not run: its loader {loader.job_id} failed {where} "
                f"(pid {os.getpid()}) although it succeeded in the master. Loaders must give the "
                f"same result everywhere (same files, no local state).\n{error}"
            )
    return None
