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
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from operator import attrgetter
from typing import NamedTuple

import xxhash

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


def snapshot(jobs, index: dict | None = None) -> bytes:
    """The graph of `jobs` as compact JSON bytes (edges to jobs outside `jobs` dropped).
    `index` maps each job to its position in `jobs` when the caller has that map already
    (the scheduler does: at 100 000 jobs a second one is 20 MiB at the run's peak)."""
    return b"".join(snapshot_chunks(jobs, index))


_BLOCK = 10000  # jobs per chunk of a snapshot
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def snapshot_chunks(jobs, index: dict | None = None) -> Iterator[bytes]:
    """`snapshot(jobs, index)` in pieces of about `_BLOCK` jobs each, so that a graph of a
    million jobs is never held whole as JSON text at the end of a run (when the master
    holds the most). It runs after every run that ran a job, so its loops stay in C where
    they can."""
    if index is None:
        index = dict(zip(jobs, range(len(jobs)), strict=True))
    type_names, kinds = _numbered([cls.__name__ for cls in map(type, jobs)])
    rule_names, rules = _numbered(list(map(_rule, jobs)))
    yield b'{"ids":'
    yield from _json_list(list(map(_job_id, block)) for block in _blocks(jobs))
    yield b',"type_names":' + _dumps(type_names).encode() + b',"types":'
    yield from _json_list(_blocks(kinds))
    yield b',"edges":'
    yield from _json_list(_edges(block, start, index) for start, block in
                          zip(range(0, len(jobs), _BLOCK), _blocks(jobs), strict=True))
    yield b',"rule_names":' + _dumps(rule_names).encode() + b',"rules":'
    yield from _json_list(_blocks(rules))
    yield b"}"


def _blocks(items: list) -> Iterator[list]:
    iterator = iter(items)
    while block := list(islice(iterator, _BLOCK)):
        yield block


def _edges(jobs: list, start: int, index: dict) -> list[int]:
    """(upstream, downstream) index pairs, flat, of the jobs numbered from `start` on."""
    edges: list[int] = []
    node = index.get
    for i, prerequisites in enumerate(map(_prerequisites, jobs), start):
        if prerequisites:
            ups = [k for k in map(node, prerequisites) if k is not None]
            if len(ups) > 1:
                ups.sort()
            for up in ups:
                edges += (up, i)
    return edges


def _json_list(parts: Iterable[list]) -> Iterator[bytes]:
    """One JSON array of the items of `parts`, as the text `json.dumps` gives."""
    yield b"["
    first = True
    for part in parts:
        if part:
            text = _dumps(part)[1:-1].encode()
            yield text if first else b"," + text
            first = False
    yield b"]"


def compress(raw: bytes) -> bytes:
    """xz at its fastest preset: at 100 000 jobs 6x smaller than zlib, and faster."""
    return lzma.compress(raw, preset=1)


def digest_and_compress(chunks: Callable[[], Iterable[bytes]], wanted: Callable[[int], bool]
                        ) -> tuple[int, bytes | None]:
    """The 64-bit xxh3 of the bytes `chunks()` gives, and their `compress`ed form when
    `wanted(digest)` (else None); `chunks` is called again to compress."""
    hasher = xxhash.xxh3_64()
    for chunk in chunks():
        hasher.update(chunk)
    digest = hasher.intdigest()
    if not wanted(digest):
        return digest, None
    compressor = lzma.LZMACompressor(preset=1)
    blob = [compressor.compress(chunk) for chunk in chunks()]
    blob.append(compressor.flush())
    return digest, b"".join(blob)


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
