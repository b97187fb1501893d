"""Reading back files the pipeline pickled: caches, plot caches, futures' results.

Invariant: such a file is unpickled only when its content is what the store recorded for
the job that wrote it, whenever the file still carries that job's recorded size and
modification time. The rebuilder trusts an unchanged (mtime, size) without hashing, so a
file replaced behind the pipeline's back with a forged mtime would otherwise be taken as
the job's own output and its pickle run as code; here its content hash is compared with
the record first (xxh3 reads at GB/s) and a mismatch is refused, never unpickled. A file
whose (mtime, size) differ from the record was rewritten since (this run's job wrote it,
and this process holds an older copy of the record); the rebuilder decides about those.

    >>> data = read_verified("cache/counts", "cache/counts", "cache/counts_load")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import xxhash

from .. import state
from ..errors import JobContractError
from . import DEFAULT_PATH
from .reader import StoreReader


def read_verified(filename: str, producer_id: str, reader_id: str) -> bytes:
    """The bytes of `filename`, written by job `producer_id`; JobContractError naming
    `reader_id` when they are not what the store recorded for it (see the module doc)."""
    fd = os.open(filename, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        data = fh.read()
    recorded = _recorded_output(producer_id, filename)
    if recorded is not None:
        mtime, size, digest = recorded
        if (info.st_mtime_ns, info.st_size) == (mtime, size) and xxhash.xxh3_64_intdigest(data) != digest:
            raise JobContractError(
                f"{reader_id}: Unpickling error in file {filename}: refused, it is not the file "
                f"{producer_id} wrote (its size and modification time are the recorded ones, its "
                "content is not: it was replaced behind the pipeline's back). Delete it to have it "
                "recalculated."
            )
    return data


def _recorded_output(producer_id: str, filename: str) -> tuple[int, int, int] | None:
    """(mtime_ns, size, hash) the store recorded for `filename` as an output of `producer_id`."""
    graph = state.global_pipegraph
    store = getattr(graph, "store", None)
    if store is not None:
        record = store.get(producer_id)
    else:
        record = _record_from_store(producer_id)
    if record is None:
        return None
    wanted = os.path.normpath(filename)
    for name, mtime, size, digest in record.outputs:
        if os.path.normpath(name) == wanted:
            return mtime, size, digest
    return None


def _record_from_store(producer_id: str):
    """The record of `producer_id` in this directory's store, read-only (after a run)."""
    store = getattr(state.global_pipegraph, "invariant_status_filename", DEFAULT_PATH)
    if not os.path.exists(store):
        return None
    reader = StoreReader(store)
    try:
        return reader.record(producer_id)
    finally:
        reader.close()
