"""Ordering jobs upstream-first, and naming the cycle when there is none.

Invariant: `topological_order` returns every given job exactly once, each after all
of its prerequisites among the given jobs, or raises CycleError naming the jobs on
one cycle in order. networkx is imported only to describe a cycle.
"""

from __future__ import annotations

from collections import deque

from .errors import CycleError


def topological_order(jobs: list, sites: dict | None = None) -> list:
    """Kahn's order of `jobs` (upstream first); CycleError naming the cycle's jobs and,
    from `sites` ((upstream, downstream) -> (file, line)), where each edge was made."""
    members = set(jobs)
    indegree = {}
    for job in jobs:
        count = len(job.prerequisites)
        if count and not members.issuperset(job.prerequisites):
            count = sum(1 for p in job.prerequisites if p in members)
        indegree[job] = count
    queue = deque(job for job in jobs if not indegree[job])
    order = []
    while queue:
        job = queue.popleft()
        order.append(job)
        for dependant in job.dependants:
            if dependant in indegree:
                indegree[dependant] -= 1
                if not indegree[dependant]:
                    queue.append(dependant)
    if len(order) != len(jobs):
        raise _cycle_error([job for job in jobs if indegree[job]], sites or {})
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
