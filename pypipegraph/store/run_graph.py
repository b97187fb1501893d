"""The job graph of one run as plain data: what the store keeps for reports.

Invariant: a snapshot is a pure function of the jobs' ids, class names, rules and edges,
so two runs of the same graph give identical bytes (and the store keeps them once, by
content hash). It reads only those attributes of a job; it knows no job class. Graphs
kept before rules were recorded read back with `rules` None.

    >>> raw = snapshot(jobs); graph = decode(compress(raw))        # doctest: +SKIP
    >>> graph.ids[graph.edges[0][0]]                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import lzma
import zlib
from operator import attrgetter
from typing import NamedTuple

_job_id = attrgetter("job_id")
_rule = attrgetter("rule")
_prerequisites = attrgetter("prerequisites")


def _numbered(values: list[str]) -> tuple[list[str], list[int]]:
    """The distinct values in order of first appearance, and each value's number."""
    number = {value: k for k, value in enumerate(dict.fromkeys(values))}
    return list(number), list(map(number.__getitem__, values))


class RunGraph(NamedTuple):
    """The graph of a run: job ids, their class names, (upstream, downstream) index pairs,
    and each job's rule (None in graphs kept by earlier versions)."""

    ids: list[str]
    types: list[str]
    edges: list[tuple[int, int]]
    rules: list[str] | None = None


def snapshot(jobs) -> bytes:
    """The graph of `jobs` as compact JSON bytes (edges to jobs outside `jobs` dropped).
    It runs after every run that ran a job, so its loops stay in C where they can."""
    index = dict(zip(jobs, range(len(jobs)), strict=True))
    type_names, kinds = _numbered([cls.__name__ for cls in map(type, jobs)])
    rule_names, rules = _numbered(list(map(_rule, jobs)))
    edges: list[int] = []
    node = index.get
    for i, prerequisites in enumerate(map(_prerequisites, jobs)):
        if prerequisites:
            ups = [k for k in map(node, prerequisites) if k is not None]
            if len(ups) > 1:
                ups.sort()
            for up in ups:
                edges += (up, i)
    data = {"ids": list(map(_job_id, jobs)), "type_names": type_names, "types": kinds,
            "edges": edges, "rule_names": rule_names, "rules": rules}
    return json.dumps(data, separators=(",", ":")).encode()


def compress(raw: bytes) -> bytes:
    """xz at its fastest preset: at 100 000 jobs 6x smaller than zlib, and faster."""
    return lzma.compress(raw, preset=1)


def _decompress(blob: bytes) -> bytes:
    return lzma.decompress(blob) if blob[:6] == b"\xfd7zXZ\x00" else zlib.decompress(blob)


def decode(blob: bytes) -> RunGraph:
    """A RunGraph from compressed snapshot bytes; ValueError when they are damaged."""
    try:
        data = json.loads(_decompress(blob))
        names = data["type_names"]
        flat = data["edges"]
        rules = data.get("rules")
        return RunGraph(data["ids"], [names[k] for k in data["types"]],
                        list(zip(flat[0::2], flat[1::2], strict=True)),
                        None if rules is None else [data["rule_names"][k] for k in rules])
    except (zlib.error, lzma.LZMAError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"damaged job graph in the store ({exc})") from exc
