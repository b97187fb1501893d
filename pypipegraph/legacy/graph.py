"""pypipegraph 0.197's attributes of the graph object, read by code written for it.

Invariant: read-only views of the graph's own state; nothing here is stored twice or
decides anything. `ppg.util.global_pipegraph.was_run`, `.logger`, `.new_jobs`,
`.job_uniquifier`, `.filename_collider_check` and `.do_dump_graph` answer as in 0.197.
"""

from __future__ import annotations

import logging


class Graph197:
    """Mixed into Pipegraph: 0.197's attribute names over the graph's state."""

    @property
    def was_run(self) -> bool:
        """Whether run() was called on this graph (0.197's name for has_run)."""
        return self.has_run

    @property
    def logger(self) -> logging.Logger:
        """The "pypipegraph" logger (info and debug records of the run)."""
        return logging.getLogger("pypipegraph")

    @property
    def new_jobs(self):
        """False, except while a generating job's callback runs: the jobs it created so far,
        by id."""
        session = self.generation
        if session is None:
            return False
        return {job.job_id: job for job in session.new_jobs}

    @property
    def job_uniquifier(self) -> dict:
        """Job id -> job (0.197 kept a second dict to return the existing job of an id)."""
        return self.jobs

    @property
    def filename_collider_check(self) -> dict:
        """Output file -> the job writing it."""
        return self.outputs

    @property
    def do_dump_graph(self) -> bool:
        return self.dump_graph
