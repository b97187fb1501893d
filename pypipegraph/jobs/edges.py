"""EdgeSet: a job's upstream or downstream jobs, kept small.

Invariant: an EdgeSet holds each job at most once and behaves like a set (`in`, `len`,
iteration, comparison, the set operators, whose results are plain sets, and the methods
that change a set in place, which 0.197's libraries call); it is a
`collections.abc.MutableSet`, though not a `set`. Most jobs
have a handful of edges: one job is held as it is, up to `_SMALL` of them sit in a
tuple (48 to 120 bytes with the EdgeSet, where a set takes 216 even when empty);
beyond that a set keeps `add` and `in` constant-time for the job that a hundred
thousand others feed. The prerequisites of an invariant, which never has any, are one
shared `NO_EDGES` that refuses to take a job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet

from ..errors import JobContractError

_SMALL = 8


class EdgeSet:
    """The prerequisites or dependants of one job (`job.prerequisites`, `job.dependants`)."""

    __slots__ = ("_items",)  # (), one job, a tuple of 2 to _SMALL jobs, or a set

    def __init__(self, jobs: Iterable = ()):
        self._items: object = ()
        for job in jobs:
            self.add(job)

    def _held(self) -> tuple | set:
        """The jobs as a tuple or a set."""
        items = self._items
        kind = type(items)
        return items if kind is tuple or kind is set else (items,)

    def add(self, job) -> None:
        items = self._items
        kind = type(items)
        if kind is set:
            items.add(job)
            return
        if kind is not tuple:  # one job
            if items is not job:
                self._items = (items, job)
            return
        if job in items:
            return
        if not items:
            self._items = job
        elif len(items) < _SMALL:
            self._items = items + (job,)
        else:
            self._items = {*items, job}

    def discard(self, job) -> None:
        items = self._items
        kind = type(items)
        if kind is set:
            items.discard(job)
        elif kind is not tuple:
            if items is job:
                self._items = ()
        elif job in items:
            left = tuple(other for other in items if other is not job)
            self._items = left[0] if len(left) == 1 else left

    def remove(self, job) -> None:
        if job not in self:
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
        kept = set(self._held()).intersection(*others)
        self._items = ()
        self.update(kept)

    def clear(self) -> None:
        self._items = ()

    def pop(self):
        if not self:
            raise KeyError("pop from an empty set of jobs")
        job = next(iter(self._held()))
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
        items = self._items
        kind = type(items)
        return job in items if kind is tuple or kind is set else items is job

    def __iter__(self) -> Iterator:
        return iter(self._held())

    def __len__(self) -> int:
        items = self._items
        kind = type(items)
        return len(items) if kind is tuple or kind is set else 1

    def __bool__(self) -> bool:
        items = self._items
        kind = type(items)
        return bool(items) if kind is tuple or kind is set else True

    def __repr__(self) -> str:
        return repr(set(self._held())) if self else "set()"

    # --- reading as a set --------------------------------------------------------

    def copy(self) -> set:
        return set(self._held())

    def __eq__(self, other) -> bool:
        if isinstance(other, (EdgeSet, set, frozenset)):
            return len(self) == len(other) and all(job in other for job in self._held())
        return NotImplemented

    __hash__ = None  # mutable, as a set

    def __le__(self, other) -> bool:
        return set(self._held()) <= _as_set(other)

    def __lt__(self, other) -> bool:
        return set(self._held()) < _as_set(other)

    def __ge__(self, other) -> bool:
        return set(self._held()) >= _as_set(other)

    def __gt__(self, other) -> bool:
        return set(self._held()) > _as_set(other)

    def __or__(self, other) -> set:
        return set(self._held()) | set(other)

    def __and__(self, other) -> set:
        return set(self._held()) & set(other)

    def __sub__(self, other) -> set:
        return set(self._held()) - set(other)

    def __xor__(self, other) -> set:
        return set(self._held()) ^ set(other)

    def __ror__(self, other) -> set:
        return set(other) | set(self._held())

    def __rand__(self, other) -> set:
        return set(other) & set(self._held())

    def __rsub__(self, other) -> set:
        return set(other) - set(self._held())

    def __rxor__(self, other) -> set:
        return set(other) ^ set(self._held())

    def union(self, *others) -> set:
        return set(self._held()).union(*others)

    def intersection(self, *others) -> set:
        return set(self._held()).intersection(*others)

    def difference(self, *others) -> set:
        return set(self._held()).difference(*others)

    def issubset(self, other) -> bool:
        return set(self._held()).issubset(other)

    def issuperset(self, other) -> bool:
        return set(self._held()).issuperset(other)

    def isdisjoint(self, other) -> bool:
        return set(self._held()).isdisjoint(other)


def _as_set(other) -> set | frozenset:
    if isinstance(other, (set, frozenset)):
        return other
    if isinstance(other, EdgeSet):
        return set(other)
    raise TypeError(f"cannot compare a set of jobs with {type(other).__name__}")


MutableSet.register(EdgeSet)


class _NoEdges(EdgeSet):
    """The one empty EdgeSet all invariants share as their prerequisites: it stays empty."""

    __slots__ = ()

    def add(self, job) -> None:
        raise JobContractError(f"invariants cannot depend on other jobs (tried to add {job!r}): "
                               "they are checked, never run.")


NO_EDGES = _NoEdges()
