"""This machine as a resource coordinator: its cores and memory, and forked local workers.

Invariant: a coordinator offers a budget and an executor for it; this one never plans
more cores than `max_cores_to_use` (default: the cores this process may use).

    >>> rc = LocalSystem(max_cores_to_use=2)
    >>> rc.cores_available
    2
"""

from __future__ import annotations

from ..executors.local import LocalExecutor
from ..plumbing import host
from ..resources import CoreBudget


class LocalSystem:
    """This machine: all its cores (or `max_cores_to_use`) and its memory.

    `cores_available` may be lowered before the run.
    """

    def __init__(self, max_cores_to_use: int | None = None, interactive: bool = True):
        total = host.cpu_count()
        if max_cores_to_use is not None:
            if not isinstance(max_cores_to_use, int) or max_cores_to_use < 1:
                raise ValueError(f"max_cores_to_use must be a positive int, got {max_cores_to_use!r}")
            total = max_cores_to_use
        self.cores_available = total
        self.memory_available = host.memory_total()
        self.interactive = interactive

    def budget(self) -> CoreBudget:
        return CoreBudget(self.cores_available, self.memory_available)

    def executor(self, jobs: list, budget: CoreBudget):
        """The executor that runs this coordinator's jobs: forked local workers."""
        return LocalExecutor(jobs, budget.total)
