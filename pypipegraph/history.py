"""The status store's writer: what each job last ran with and produced, in one SQLite file.

Invariant: the store knows keys and records (schema and encoding in store_format), never
job classes. It is written as
jobs finish (commits batched at most `COMMIT_INTERVAL` apart), so a killed master
loses at most the last fraction of a second. A file that is not a readable store is
refused with a `StoreError` naming it; it is never replaced or deleted. One run at a
time holds the store's lock file (`StoreLocked` for a second one). Each run's job graph (opaque `run_graph` bytes, for
reports) is kept once per distinct content; tables are only ever added, so a store of
an earlier version opens as it is.

    >>> store = History(".pypipegraph_status_robust")   # doctest: +SKIP
    >>> store.open(); store.get("out/a.txt"); store.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time

from . import store_lock
from .errors import StoreError, StoreLocked
from .hashing import hash_bytes
from .run_graph import compress
from .store_format import FORMAT_VERSION, SCHEMA, Record, decode_record, encode_record
from .store_format import signed as _signed

__all__ = ["COMMIT_INTERVAL", "FORMAT_VERSION", "History", "Record", "StoreError", "StoreLocked"]

COMMIT_INTERVAL = 0.2
KEEP_RUNS = 50  # runs whose per-job rows are kept for `ppg history` and reports
KEEP_GRAPHS = 10  # runs whose job graph (for reports) is kept; older runs' graphs are dropped


class History:
    """The SQLite status store of one directory (`.pypipegraph_status_robust`)."""

    COMMIT_INTERVAL = COMMIT_INTERVAL

    def __init__(self, filename: str):
        self.filename = filename
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._raw: dict[str, bytes] = {}
        self._cache: dict[str, Record] = {}
        self._pending: dict[str, bytes | None] = {}
        self._pending_rows: list[tuple] = []
        self._pending_logs: list[tuple] = []
        self._pending_sources: dict[int, str] = {}
        self._reasons: dict[str, int] = {}  # reason text -> its key in `reasons` (this run)
        self._pending_reasons: dict[int, str] = {}
        self.failures: dict[str, str] = {}  # job id -> "failed"/"killed": its last run did not finish
        self._pending_failures: dict[str, str | None] = {}
        self._logged: set[str] = set()
        self._last_commit = 0.0
        self.run_id: int | None = None

    # --- lifecycle -----------------------------------------------------------

    def open(self) -> History:
        """Lock, open and read the store; StoreError when it is unusable."""
        self._lock()
        try:
            self._connect()
        except BaseException:
            self._unlock()
            raise
        return self

    def _lock(self) -> None:
        self._lock_fd = store_lock.acquire(self.filename + ".lock", self.filename)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            store_lock.release(self._lock_fd)
            self._lock_fd = None

    def _connect(self) -> None:
        existed = os.path.exists(self.filename)
        try:
            conn = sqlite3.connect(self.filename, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the status store {self.filename}: {exc}") from exc
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if existed and tables and "jobs" not in tables:
                raise StoreError(
                    f"{self.filename} is an SQLite file but not a pypipegraph status store. "
                    "Move it away or pass another invariant_status_filename."
                )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            elif int(row[0]) > FORMAT_VERSION:
                raise StoreError(
                    f"{self.filename} was written by a newer pypipegraph (store format {row[0]}, "
                    f"this version reads up to {FORMAT_VERSION}). Upgrade pypipegraph."
                )
            self._raw = dict(conn.execute("SELECT job_id, record FROM jobs"))
            self._logged = {row[0] for row in conn.execute("SELECT job_id FROM job_logs")}
            self.failures = dict(conn.execute("SELECT job_id, outcome FROM failures"))
        except StoreError:
            conn.close()
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            if _cannot_write(exc):
                raise StoreError(
                    f"cannot write the status store {self.filename} ({exc}): is the directory or "
                    "the file read-only, or the disk full? Nothing was run."
                ) from exc
            raise StoreError(
                f"{self.filename} is not a readable pypipegraph status store ({exc}). "
                "It was left untouched; move it away to start from scratch (every job will "
                "run again), or restore it from a backup."
            ) from exc
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(
                f"{self.filename} is not a readable pypipegraph status store ({exc}). "
                "It was left untouched; move it away to start from scratch (every job will "
                "run again), or restore it from a backup."
            ) from exc
        self._conn = conn
        self._last_commit = time.monotonic()

    def close(self) -> None:
        """Commit what is pending, release the lock."""
        try:
            if self._conn is not None:
                self.flush(force=True)
                self._conn.close()
        finally:
            self._conn = None
            self._unlock()

    def __enter__(self) -> History:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- records -------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        record = self._cache.get(key)
        if record is not None:
            return record
        raw = self._raw.get(key)
        if raw is None:
            return None
        record = decode_record(raw)
        if record is None:
            return None  # an unreadable record counts as "never ran"
        self._cache[key] = record
        return record

    def put(self, key: str, record: Record) -> None:
        raw = encode_record(record)
        self._raw[key] = raw
        self._cache[key] = record
        self._pending[key] = raw

    def delete(self, key: str) -> None:
        self._raw.pop(key, None)
        self._cache.pop(key, None)
        self._pending[key] = None

    def record_count(self) -> int:
        """How many jobs have a record."""
        return len(self._raw)

    def keys(self):
        return self._raw.keys()

    # --- runs and their jobs ---------------------------------------------------

    def begin_run(self) -> int:
        """Record the start of a run; returns its run id."""
        cursor = self._conn.execute(
            "INSERT INTO runs (started, cwd) VALUES (?, ?)", (time.time(), os.getcwd())
        )
        self.run_id = cursor.lastrowid
        return self.run_id

    def end_run(self, outcome: str, jobs_run: int, jobs_failed: int) -> None:
        if self._conn is None or self.run_id is None:
            return
        self.flush(force=True)
        self._conn.execute(
            "UPDATE runs SET finished=?, outcome=?, jobs_run=?, jobs_failed=? WHERE run_id=?",
            (time.time(), outcome, jobs_run, jobs_failed, self.run_id),
        )
        self._conn.execute(
            "DELETE FROM job_runs WHERE run_id <= ?", (self.run_id - KEEP_RUNS,)
        )
        if self.run_id % 10 == 0:  # reasons no kept row refers to; a scan, so not every run
            self._conn.execute("DELETE FROM reasons WHERE hash NOT IN (SELECT reason FROM job_runs)")

    def job_ran(self, job_id: str, started: float, stopped: float, outcome: str, reason: str,
                worker: int | None, cores: int, stdout: str = "", stderr: str = "",
                traceback: str | None = None) -> None:
        """Note one job's run (and keep its output as the job's last log).

        The reason is kept once per distinct text (`reasons`): a full rerun of 100 000
        jobs stores "never ran" once, not 100 000 times.
        """
        key = self._reasons.get(reason)
        if key is None:
            key = self._reasons[reason] = _signed(hash_bytes(reason.encode("utf-8", "surrogatepass")))
            self._pending_reasons[key] = reason
        self._pending_rows.append(
            (self.run_id, job_id, started, stopped, outcome, key, worker, cores)
        )
        if outcome != "done":
            self.failures[job_id] = self._pending_failures[job_id] = outcome
        elif job_id in self.failures:
            del self.failures[job_id]
            self._pending_failures[job_id] = None
        if stdout or stderr or traceback:
            self._pending_logs.append((job_id, self.run_id, stdout, stderr, traceback))
            self._logged.add(job_id)
        elif job_id in self._logged:
            self._pending_logs.append((job_id, None, None, None, None))
            self._logged.discard(job_id)

    def record_graph(self, raw: bytes, cores: int) -> None:
        """Keep the run's job graph (`run_graph.snapshot` bytes) and core count for reports.

        A graph is stored once by content hash; graphs only runs older than KEEP_GRAPHS
        refer to are dropped. Best effort: a failure to write is logged, never raised.
        """
        if self._conn is None or self.run_id is None:
            return
        digest = _signed(hash_bytes(raw))
        conn = self._conn
        try:
            with _transaction(conn):
                if conn.execute("SELECT 1 FROM graphs WHERE hash = ?", (digest,)).fetchone() is None:
                    conn.execute("INSERT INTO graphs VALUES (?, ?)", (digest, compress(raw)))
                conn.execute("INSERT OR REPLACE INTO run_graphs VALUES (?, ?, ?, ?)",
                             (self.run_id, digest, cores, os.getpid()))
                conn.execute("UPDATE run_graphs SET graph = NULL WHERE run_id <= ?",
                             (self.run_id - KEEP_GRAPHS,))
                conn.execute("DELETE FROM run_graphs WHERE run_id <= ?", (self.run_id - KEEP_RUNS,))
                conn.execute("DELETE FROM graphs WHERE hash NOT IN "
                             "(SELECT graph FROM run_graphs WHERE graph IS NOT NULL)")
        except sqlite3.Error as exc:
            logging.getLogger("pypipegraph").warning(
                "could not keep the job graph of run %s in %s: %s", self.run_id, self.filename, exc)

    def store_source(self, digest: int, text: str) -> None:
        """Keep a function's source text (by hash) for `ppg why` diffs."""
        self._pending_sources[digest] = text

    def has_pending(self) -> bool:
        return bool(self._pending or self._pending_rows or self._pending_logs)

    def flush(self, force: bool = False) -> None:
        """Commit pending records if forced or COMMIT_INTERVAL has passed."""
        if self._conn is None or not self.has_pending():
            return
        now = time.monotonic()
        if not force and now - self._last_commit < COMMIT_INTERVAL:
            return
        pending, self._pending = self._pending, {}
        rows, self._pending_rows = self._pending_rows, []
        logs, self._pending_logs = self._pending_logs, []
        sources, self._pending_sources = self._pending_sources, {}
        reasons, self._pending_reasons = self._pending_reasons, {}
        failures, self._pending_failures = self._pending_failures, {}
        puts = [(k, v) for k, v in pending.items() if v is not None]
        deletes = [(k,) for k, v in pending.items() if v is None]
        conn = self._conn
        try:
            with _transaction(conn):
                if puts:
                    conn.executemany("INSERT OR REPLACE INTO jobs VALUES (?, ?)", puts)
                if deletes:
                    conn.executemany("DELETE FROM jobs WHERE job_id = ?", deletes)
                if reasons:
                    conn.executemany("INSERT OR IGNORE INTO reasons VALUES (?, ?)", reasons.items())
                if failures:
                    conn.executemany("INSERT OR REPLACE INTO failures VALUES (?, ?)",
                                     [(k, v) for k, v in failures.items() if v is not None])
                    conn.executemany("DELETE FROM failures WHERE job_id = ?",
                                     [(k,) for k, v in failures.items() if v is None])
                if rows:
                    conn.executemany("INSERT INTO job_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                for job_id, run_id, stdout, stderr, tb in logs:
                    if run_id is None:
                        conn.execute("DELETE FROM job_logs WHERE job_id = ?", (job_id,))
                    else:
                        conn.execute("INSERT OR REPLACE INTO job_logs VALUES (?, ?, ?, ?, ?)",
                                     (job_id, run_id, stdout, stderr, tb))
                if sources:
                    conn.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?)",
                                     [(_signed(k), v) for k, v in sources.items()])
        except sqlite3.Error as exc:
            self._pending = {**pending, **self._pending}
            self._pending_rows = rows + self._pending_rows
            self._pending_logs = logs + self._pending_logs
            self._pending_sources = {**sources, **self._pending_sources}
            self._pending_reasons = {**reasons, **self._pending_reasons}
            self._pending_failures = {**failures, **self._pending_failures}
            raise StoreError(
                f"cannot write the status store {self.filename} ({exc}); the run stops here. "
                "Finished jobs recorded before this stay recorded; free disk space (or make it "
                "writable) and run again."
            ) from exc
        self._last_commit = now


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection):
    """BEGIN ... COMMIT; on an SQLite error, roll back and re-raise it."""
    conn.execute("BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except sqlite3.Error:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        raise


def _cannot_write(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "unable to open", "disk", "full"))
