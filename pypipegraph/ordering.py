"""Ordering jobs upstream-first, and naming the cycle when there is none.

Invariant: `topological_order` returns every given job exactly once, each after all
of its prerequisites among the given jobs, or raises CycleError naming the jobs on
one cycle in order. networkx is imported only to describe a cycle.
"""

from __future__ import annotations

from collections import deque
from operator import attrgetter

from .errors import CycleError

_prerequisites = attrgetter("prerequisites")


def topological_order(jobs: list, sites: dict | None = None) -> list:
    """Kahn's order of `jobs` (upstream first); CycleError naming the cycle's jobs and,
    from `sites` ((upstream, downstream) -> (file, line)), where each edge was made."""
    # Most graphs are ordered whole: every prerequisite is among `jobs`, and counting
    # edges needs no membership test. When the order comes out short, either a job has a
    # prerequisite outside `jobs` (counted again, exactly) or there is a cycle.
    order = _kahn(jobs, dict(zip(jobs, map(len, map(_prerequisites, jobs)), strict=True)))
    if len(order) == len(jobs):
        return order
    members = set(jobs)
    indegree = {job: sum(1 for p in job.prerequisites if p in members) for job in jobs}
    order = _kahn(jobs, indegree)
    if len(order) != len(jobs):
        raise _cycle_error([job for job in jobs if indegree[job]], sites or {})
    return order


def _kahn(jobs: list, indegree: dict) -> list:
    """`jobs` upstream first, given each one's count of prerequisites (consumed); jobs on
    or behind a cycle (or behind an uncounted prerequisite) are left out."""
    queue = deque(job for job, count in indegree.items() if not count)
    order = []
    append, popleft, push = order.append, queue.popleft, queue.append
    while queue:
        job = popleft()
        append(job)
        for dependant in job.dependants:
            count = indegree.get(dependant)
            if count is not None:
                indegree[dependant] = count = count - 1
                if not count:
                    push(dependant)
    return order


def _cycle_error(stuck: list, sites: dict) -> CycleError:
    import networkx as nx

    graph = nx.DiGraph()
    stuck_set = set(stuck)
    by_id = {job.job_id: job for job in stuck}
    for job in stuck:
        for up in job.prerequisites:
            if up in stuck_set:
                graph.add_edge(up.job_id, job.job_id)
    cycle = [edge[0] for edge in nx.find_cycle(graph)]
    path = " -> ".join(cycle + [cycle[0]])
    lines = []
    for i, upstream in enumerate(cycle):
        downstream = cycle[(i + 1) % len(cycle)]
        site = sites.get((by_id[upstream], by_id[downstream]))
        where = f"{site[0]}:{site[1]}" if site else "made by pypipegraph"
        lines.append(f"  {downstream} depends on {upstream}  ({where})")
    return CycleError(
        f"The job graph has a cycle: {path}. Each arrow means 'is needed by'; "
        "remove one of these dependencies:\n" + "\n".join(lines),
        cycle,
    )
