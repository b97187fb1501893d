"""Budgets: how many cores, how much memory and which named resources jobs may hold.

Invariant: the scheduler never starts a job the budget cannot fit; the sum of cores
held by running jobs never exceeds `cores_available`. A job that could never fit is
reported (ResourceError) instead of waiting forever.

    >>> budget = CoreBudget(cores=2, memory=8 << 30)
    >>> budget.total
    2
"""

from __future__ import annotations

import math

from .errors import PyPipeGraphError


class ResourceError(PyPipeGraphError):
    """A job asks for more than the machine (or coordinator) has."""


class CoreBudget:
    """Counts cores held by running jobs; -1 jobs run alone, -2 jobs beside 1-core jobs."""

    def __init__(self, cores: int, memory: int):
        self.total = max(1, int(cores))
        self.parallelism = self.total  # jobs of one core that can run at once (ETA, reports)
        self.memory = memory
        self.free = self.total
        self.big_running = 0  # jobs with cores_needed -1 or -2
        self._held: dict = {}

    def cores_for(self, job) -> int:
        """Cores the job occupies; ResourceError when it can never fit."""
        wanted = job.cores_needed
        if wanted in (-1, -2):
            cores = self.total if wanted == -1 else 1
        else:
            cores = wanted
        if job.memory_needed > 0:
            per_core = self.memory / self.total
            cores = max(cores, math.ceil(job.memory_needed / per_core))
            if job.memory_needed > self.memory:
                raise ResourceError(
                    f"{job.job_id} needs {job.memory_needed} bytes of memory, the machine has "
                    f"{self.memory}. Lower memory_needed."
                )
        if cores > self.total:
            raise ResourceError(
                f"{job.job_id} needs {cores} cores, only {self.total} are available. "
                "Lower cores_needed (or use -1 for 'all cores')."
            )
        return cores

    def try_acquire(self, job) -> bool:
        cores = self.cores_for(job)
        big = job.cores_needed in (-1, -2)
        if cores > self.free or (big and self.big_running) or (
            self.big_running and cores > 1 and not big
        ):
            return False
        self.free -= cores
        self.big_running += big
        self._held[job] = (cores, big)
        return True

    def held(self, job) -> int:
        """Cores `job` holds now (0 when it holds none)."""
        held = self._held.get(job)
        return held[0] if held else 0

    def release(self, job) -> None:
        held = self._held.pop(job, None)
        if held is not None:
            self.free += held[0]
            self.big_running -= held[1]


class NamedResources:
    """Counted resources the graph declares (`new_pipegraph(resources={"db": 4})`).

    A job holds the units it `needs()` while it runs; the units held never exceed the
    declared count. `check()` refuses unknown names and requests larger than the
    capacity before any job runs.

        >>> pool = NamedResources({"db": 2})
    """

    def __init__(self, capacity: dict | None):
        self.capacity = validate_capacity(capacity)
        self.free = dict(self.capacity)

    def check(self, job) -> None:
        """ResourceError when `job` needs a resource that is not declared or too small."""
        for name, units in job.resource_needs.items():
            have = self.capacity.get(name)
            if have is None:
                declared = ", ".join(sorted(self.capacity)) or "none"
                raise ResourceError(
                    f"{job.job_id} needs {units} unit(s) of resource {name!r}, which the graph does "
                    f"not declare (declared: {declared}). Declare it: "
                    f"ppg.new_pipegraph(resources={{{name!r}: N}})."
                )
            if units > have:
                raise ResourceError(
                    f"{job.job_id} needs {units} unit(s) of resource {name!r}, but only {have} "
                    f"exist; it could never run. Lower the request or raise the count in "
                    f"new_pipegraph(resources=...)."
                )

    def try_acquire(self, job) -> bool:
        needs = job.resource_needs
        if not needs:
            return True
        free = self.free
        if any(free[name] < units for name, units in needs.items()):
            return False
        for name, units in needs.items():
            free[name] -= units
        return True

    def release(self, job) -> None:
        for name, units in job.resource_needs.items():
            self.free[name] += units


def validate_capacity(capacity: dict | None) -> dict:
    """{name: count} as declared to new_pipegraph(resources=...); ValueError when malformed."""
    if capacity is None:
        return {}
    if not isinstance(capacity, dict):
        raise ValueError(
            f"resources must be a dict of name -> count, e.g. {{'db_connections': 4}}; got "
            f"{type(capacity).__name__}"
        )
    for name, count in capacity.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"resources: names must be non-empty strings; got {name!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"resources: the count of {name!r} must be a positive int; got {count!r}")
    return dict(capacity)
