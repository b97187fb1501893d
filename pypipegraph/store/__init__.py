"""The status store: one SQLite file per project directory with each job's last record.

`writer.History` is the run's writer (one run at a time, under `lock`), `reader.StoreReader`
the lock-free read-only view the `ppg` commands and reports use; `format` is the schema and
the one record encoding, `values` the MessagePack values with signed Python values (`key`),
`run_graph` the job graph kept per run, `cache_files` the check of pickles against records.
"""

from typing import Protocol, runtime_checkable

from .format import Record

__all__ = ["DEFAULT_PATH", "RecordReader", "RecordStore"]

DEFAULT_PATH = ".pypipegraph_status_robust"  # the store's file in the project directory


@runtime_checkable
class RecordReader(Protocol):
    """What deciding needs of a store, read-only (`ppg why` hands the Rebuilder a reader)."""

    def get(self, key: str) -> Record | None: ...

    def record_count(self) -> int: ...

    def failures(self) -> dict[str, str]: ...

    def ran_before(self, key: str) -> bool: ...  # a run of it is kept (`ppg forget` clears it)

    def previous_run_started(self) -> float | None: ...  # the latest earlier run's start


@runtime_checkable
class RecordStore(RecordReader, Protocol):
    """What a run's Rebuilder writes: records by job id, and the sources of functions."""

    def put(self, key: str, record: Record) -> None: ...

    def delete(self, key: str) -> None: ...

    def store_source(self, digest: int, text: str) -> None: ...
