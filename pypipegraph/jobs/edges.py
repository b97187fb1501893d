"""EdgeSet: a job's upstream or downstream jobs, kept small.

Invariant: an EdgeSet holds each job at most once and behaves like a set (`in`, `len`,
iteration, comparison, the set operators, whose results are plain sets, and the methods
that change a set in place, which 0.197's libraries call); it is a
`collections.abc.MutableSet`, though not a `set`. Most jobs
have a handful of edges: up to `_SMALL` of them sit in a tuple (about 100 bytes with
the EdgeSet, where a set takes 216 even when empty); beyond that a set keeps `add` and
`in` constant-time for the job that a hundred thousand others feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet

_SMALL = 8


class EdgeSet:
    """The prerequisites or dependants of one job (`job.prerequisites`, `job.dependants`)."""

    __slots__ = ("_items",)

    def __init__(self, jobs: Iterable = ()):
        self._items: tuple | set = ()
        for job in jobs:
            self.add(job)

    def add(self, job) -> None:
        items = self._items
        if type(items) is tuple:
            if job in items:
                return
            if len(items) < _SMALL:
                self._items = items + (job,)
                return
            items = self._items = set(items)
        items.add(job)

    def discard(self, job) -> None:
        items = self._items
        if type(items) is tuple:
            if job in items:
                self._items = tuple(other for other in items if other is not job)
        else:
            items.discard(job)

    def remove(self, job) -> None:
        if job not in self._items:
            raise KeyError(job)
        self.discard(job)

    def update(self, *others: Iterable) -> None:
        for other in others:
            for job in other:
                self.add(job)

    def difference_update(self, *others: Iterable) -> None:
        for other in others:
            for job in list(other):
                self.discard(job)

    def intersection_update(self, *others: Iterable) -> None:
        kept = set(self._items).intersection(*others)
        self._items = ()
        self.update(kept)

    def clear(self) -> None:
        self._items = ()

    def pop(self):
        if not self._items:
            raise KeyError("pop from an empty set of jobs")
        job = next(iter(self._items))
        self.discard(job)
        return job

    def __ior__(self, other: Iterable) -> EdgeSet:
        self.update(other)
        return self

    def __isub__(self, other: Iterable) -> EdgeSet:
        self.difference_update(other)
        return self

    def __iand__(self, other: Iterable) -> EdgeSet:
        self.intersection_update(other)
        return self

    def __contains__(self, job) -> bool:
        return job in self._items

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __repr__(self) -> str:
        return repr(set(self._items)) if self._items else "set()"

    # --- reading as a set --------------------------------------------------------

    def copy(self) -> set:
        return set(self._items)

    def __eq__(self, other) -> bool:
        if isinstance(other, (EdgeSet, set, frozenset)):
            return len(self) == len(other) and all(job in other for job in self._items)
        return NotImplemented

    __hash__ = None  # mutable, as a set

    def __le__(self, other) -> bool:
        return set(self._items) <= _as_set(other)

    def __lt__(self, other) -> bool:
        return set(self._items) < _as_set(other)

    def __ge__(self, other) -> bool:
        return set(self._items) >= _as_set(other)

    def __gt__(self, other) -> bool:
        return set(self._items) > _as_set(other)

    def __or__(self, other) -> set:
        return set(self._items) | set(other)

    def __and__(self, other) -> set:
        return set(self._items) & set(other)

    def __sub__(self, other) -> set:
        return set(self._items) - set(other)

    def __xor__(self, other) -> set:
        return set(self._items) ^ set(other)

    def __ror__(self, other) -> set:
        return set(other) | set(self._items)

    def __rand__(self, other) -> set:
        return set(other) & set(self._items)

    def __rsub__(self, other) -> set:
        return set(other) - set(self._items)

    def __rxor__(self, other) -> set:
        return set(other) ^ set(self._items)

    def union(self, *others) -> set:
        return set(self._items).union(*others)

    def intersection(self, *others) -> set:
        return set(self._items).intersection(*others)

    def difference(self, *others) -> set:
        return set(self._items).difference(*others)

    def issubset(self, other) -> bool:
        return set(self._items).issubset(other)

    def issuperset(self, other) -> bool:
        return set(self._items).issuperset(other)

    def isdisjoint(self, other) -> bool:
        return set(self._items).isdisjoint(other)


def _as_set(other) -> set | frozenset:
    if isinstance(other, (set, frozenset)):
        return other
    if isinstance(other, EdgeSet):
        return set(other)
    raise TypeError(f"cannot compare a set of jobs with {type(other).__name__}")


MutableSet.register(EdgeSet)
