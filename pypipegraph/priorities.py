"""The ready queue: which runnable job starts next.

Invariant: among the jobs ready to run, a higher `job.priority` starts first; among
equal priorities, the job with the longer critical path (its own recorded runtime
plus the longest chain of recorded runtimes downstream of it) starts first; ties keep
the order in which jobs became ready. Critical-path lengths are computed lazily, only
for jobs that become ready and what lies downstream of them, each once per run, so a
no-op run pays nothing and a cold run without store pays one pass over the graph.

    >>> queue = ReadyQueue(store, critical_path=True)
    >>> queue.push(job); queue.pop() is job
    True
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class ReadyQueue:
    """A priority queue of runnable jobs (see the module invariant)."""

    def __init__(self, store, critical_path: bool = True):
        self.store = store
        self.critical_path = critical_path
        self.heap: list = []
        self.seq = 0
        self.lengths: dict = {}  # job -> critical-path length in seconds

    def push(self, job) -> None:
        length = self.length(job) if self.critical_path else 0.0
        self.seq += 1
        heapq.heappush(self.heap, (-job.priority, -length, self.seq, job))

    def pop(self):
        return heapq.heappop(self.heap)[3]

    def pop_entry(self) -> tuple:
        """The next (key..., job) entry; `restore()` puts it back in the same place."""
        return heapq.heappop(self.heap)

    def restore(self, entries: list) -> None:
        for entry in entries:
            heapq.heappush(self.heap, entry)

    def __bool__(self) -> bool:
        return bool(self.heap)

    def __len__(self) -> int:
        return len(self.heap)

    def __iter__(self) -> Iterator:
        return (entry[3] for entry in self.heap)

    def length(self, job) -> float:
        """Recorded runtime of `job` plus the longest recorded chain below it."""
        lengths = self.lengths
        known = lengths.get(job)
        if known is not None:
            return known
        stack = [(job, False)]
        while stack:  # iterative post-order: chains of 100 000 jobs must not recurse
            current, expanded = stack.pop()
            if current in lengths:
                continue
            if not expanded:
                stack.append((current, True))
                stack.extend((d, False) for d in current.dependants if d not in lengths)
                continue
            below = max((lengths.get(d, 0.0) for d in current.dependants), default=0.0)
            lengths[current] = self._runtime(current) + below
        return lengths[job]

    def _runtime(self, job) -> float:
        record = self.store.get(job.job_id)
        return record.runtime if record is not None else 0.0
