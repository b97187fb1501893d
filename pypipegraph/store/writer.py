"""The status store's writer: what each job last ran with and produced, in one SQLite file.

Invariant: the store knows keys and records (schema and encoding in store_format), never
job classes. It is written as
jobs finish (commits batched at most `COMMIT_INTERVAL` apart), so a killed master
loses at most the last fraction of a second. A file that is not a readable store (an
empty one included: a new store is built aside and linked into place complete) is
refused with a `StoreError` naming it; it is never replaced or deleted. Every SQLite
error met opening, starting or writing the store becomes such a `StoreError`. A store
deleted during the run is written again at its path from the open connection (one
warning); one replaced by another file is not written into. One run at a
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
import sys
import time

from ..errors import StoreError, StoreLocked
from ..hashing import hash_bytes
from ..plumbing.notices import warn
from ..plumbing.safe_files import from_store, printable, store_key
from ..usage import MEMORY_NOTED
from . import format as store_format
from . import lock as store_lock
from .format import FORMAT_VERSION, SCHEMA, Record, decode_opened, encode_record, is_legacy, unusable_text
from .format import signed as _signed
from .run_graph import digest_and_compress

__all__ = ["COMMIT_INTERVAL", "FORMAT_VERSION", "History", "Record", "StoreError", "StoreLocked"]

COMMIT_INTERVAL = 0.2
KEEP_RUNS = 50  # runs whose per-job rows are kept for `ppg history` and reports
KEEP_GRAPHS = 10  # runs whose job graph (for reports) is kept; older runs' graphs are dropped
_IN_FILE = object()  # in `_raw`: the record is in the store's file only


class History:
    """The SQLite status store of one directory (`.pypipegraph_status_robust`)."""

    COMMIT_INTERVAL = COMMIT_INTERVAL

    def __init__(self, filename: str, same_key=None):
        self.filename = filename
        # same_key(key) -> an equal str the caller holds anyway (the job's own id), so that
        # the records read at open do not keep a second copy of every id
        self._same_key = same_key
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        # job id -> its encoded record, read at open or put since, until it was read once or
        # committed; then _IN_FILE: a run rarely asks for a record twice, and a million
        # records' bytes need not stay in memory for the whole run
        self._raw: dict[str, bytes | object] = {}
        self._pending: dict[str, bytes | None] = {}
        self._pending_rows: list[tuple] = []
        self._pending_logs: list[tuple] = []
        self._pending_sources: dict[int, str] = {}
        self._reasons: dict[str, int] = {}  # reason text -> its key in `reasons` (this run)
        self._pending_reasons: dict[int, str] = {}
        self._failures: dict[str, str] = {}  # job id -> "failed"/"killed": its last run did not finish
        self._pending_failures: dict[str, str | None] = {}
        self._logged: set[str] = set()
        self.unusable: dict[str, str] = {}  # job id -> why its record cannot be used (warned once)
        self.memory: dict[str, int] = {}  # job id -> bytes it added last time (usage.MEMORY_NOTED or more)
        self._pending_memory: dict[str, int | None] = {}
        self._last_commit = 0.0
        self._file_fd: int | None = None  # the store file, to notice it was deleted
        self.run_id: int | None = None
        self.graph_jobs: int | None = None  # jobs in the graph kept for this run (None: none kept yet)

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
        if not os.path.exists(self.filename):
            self._create()
        conn = None
        try:
            conn = sqlite3.connect(self.filename, isolation_level=None, check_same_thread=False)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "jobs" not in tables:
                raise StoreError(self._not_a_store())
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            if "job_last" not in tables:  # a store of an earlier version: index its job runs once
                conn.execute(store_format.FILL_JOB_LAST)
            row = conn.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            elif int(row[0]) > FORMAT_VERSION:
                raise StoreError(
                    f"{self.filename} was written by a newer pypipegraph (store format {row[0]}, "
                    f"this version reads up to {FORMAT_VERSION}). Upgrade pypipegraph."
                )
            _add_job_run_columns(conn)
            if row is not None and int(row[0]) < FORMAT_VERSION:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION),))
            self.memory = _by_id(conn.execute("SELECT job_id, bytes FROM job_memory"))
            self._raw = _by_id(conn.execute("SELECT job_id, record FROM jobs"), self._same_key)
            self._logged = set(_by_id(conn.execute("SELECT job_id, 1 FROM job_logs")))
            self._failures = _by_id(conn.execute("SELECT job_id, outcome FROM failures"))
            self._file_fd = os.open(self.filename, os.O_RDONLY | os.O_CLOEXEC)
        except StoreError:
            if conn is not None:
                conn.close()
            raise
        except (sqlite3.Error, OSError, ValueError) as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc) from exc
        self._conn = conn
        self._last_commit = time.monotonic()

    def _not_a_store(self) -> str:
        if os.path.getsize(self.filename) == 0:
            return (f"{self.filename} is empty (0 bytes), not a pypipegraph status store. It was "
                    "left untouched; move it away to start from scratch (every job will run "
                    "again), or restore it from a backup.")
        return (f"{self.filename} is an SQLite file but not a pypipegraph status store. "
                "Move it away or pass another invariant_status_filename.")

    def _create(self, source: sqlite3.Connection | None = None) -> None:
        """Make a new store at `filename` from a complete file (a copy of `source`, or empty):
        a killed run never leaves a half-made store, and a 0-byte file is never ours.
        `source` is closed once copied, before the copy appears at the path."""
        temp = self.filename + ".new"
        _remove(temp, temp + "-wal", temp + "-shm", temp + "-journal")  # a killed run's (we hold the lock)
        try:
            conn = sqlite3.connect(temp, isolation_level=None)
            try:
                if source is not None:
                    source.backup(conn)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SCHEMA)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('format_version', ?)",
                             (str(FORMAT_VERSION),))
            finally:
                conn.close()
            if source is not None:
                source.close()  # removes its -wal/-shm by name; what is left is stale
                _remove(self.filename + "-wal", self.filename + "-shm")
            try:
                os.link(temp, self.filename)
            except FileExistsError:
                if source is not None:  # another file was put in its place: do not write into it
                    kept = f"{self.filename}.{os.getpid()}.recovered"
                    os.replace(temp, kept)
                    raise StoreError(
                        f"the status store {self.filename} was replaced by another file during the "
                        f"run; this run's records were saved to {kept}. Move {self.filename} away "
                        f"and rename {kept} to {self.filename} to keep them.") from None
                # else made meanwhile (by hand): opened and checked as any other
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc, mid_run=source is not None) from exc

    def _error(self, exc: Exception, mid_run: bool = False) -> StoreError:
        """The StoreError for an SQLite (or OS) error met opening (or, `mid_run`, writing) the store."""
        if _cannot_write(exc) and mid_run:
            return StoreError(
                f"cannot write the status store {self.filename} ({exc}); the run stops here. "
                "Finished jobs recorded before this stay recorded; free disk space (or make it "
                "writable) and run again.")
        if _cannot_write(exc):
            return StoreError(
                f"cannot write the status store {self.filename} ({exc}): is the directory or "
                "the file read-only, or the disk full? Nothing was run.")
        return StoreError(
            f"{self.filename} is not a readable pypipegraph status store ({exc}). "
            "It was left untouched; move it away to start from scratch (every job will "
            "run again), or restore it from a backup."
        )

    def close(self) -> None:
        """Commit what is pending, release the lock."""
        try:
            if self._conn is not None:
                self.flush(force=True)
                self._conn.close()
        finally:
            self._conn = None
            if self._file_fd is not None:
                os.close(self._file_fd)  # after SQLite's: closing an fd drops the process's locks
                self._file_fd = None
            self._unlock()

    def __enter__(self) -> History:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- records -------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        """The record of job `key`, decoded from the bytes read at open or put, else read
        from the file (see `_raw`). Records are not kept decoded: 100 000 decoded records
        would hold more than twice the memory of their bytes."""
        raw = self._raw.get(key)
        if raw is None:
            return None
        if raw is _IN_FILE:
            raw = self._read(key)
            if raw is None:
                return None
        elif key not in self._pending:
            self._raw[key] = _IN_FILE
        record = decode_opened(raw)
        if record is None:  # an unusable record counts as "never ran", said once per job
            if key not in self.unusable:
                self.unusable[key] = why = store_format.unusable(raw) or "it does not verify"
                warn(unusable_text(key, why))
            return None
        if is_legacy(raw):  # a pickle of an earlier version: kept as data from now on
            self.put(key, record)
        return record

    def _read(self, key: str) -> bytes | None:
        """The record of `key` as committed to the file."""
        try:
            row = self._conn.execute("SELECT record FROM jobs WHERE job_id = ?", (store_key(key),)).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc, mid_run=True) from exc
        return None if row is None else row[0]

    def unreadable(self, key: str) -> str | None:
        """Why the job's record cannot be used (None: it can, or there is none)."""
        return self.unusable.get(key)

    def put(self, key: str, record: Record) -> None:
        raw = encode_record(record)
        self._raw[key] = raw
        self._pending[key] = raw

    def delete(self, key: str) -> None:
        self._raw.pop(key, None)
        self._pending[key] = None

    def failures(self) -> dict[str, str]:
        """job id -> "failed"/"killed": jobs whose last run did not finish."""
        return self._failures

    def record_count(self) -> int:
        """How many jobs have a record."""
        return len(self._raw)

    def keys(self):
        return self._raw.keys()

    # --- runs and their jobs ---------------------------------------------------

    def begin_run(self) -> int:
        """Record the start of a run; returns its run id. StoreError (nothing ran) when the
        store cannot take it: read-only, or damaged where opening did not look."""
        try:
            cursor = self._conn.execute(
                "INSERT INTO runs (started, cwd) VALUES (?, ?)", (time.time(), printable(os.getcwd()))
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        self.run_id = cursor.lastrowid
        self.graph_jobs = None
        return self.run_id

    def end_run(self, outcome: str, jobs_run: int, jobs_failed: int) -> None:
        if self._conn is None or self.run_id is None:
            return
        self.flush(force=True, check_present=True)
        try:
            self._conn.execute(
                "UPDATE runs SET finished=?, outcome=?, jobs_run=?, jobs_failed=? WHERE run_id=?",
                (time.time(), outcome, jobs_run, jobs_failed, self.run_id),
            )
            self._conn.execute("INSERT OR REPLACE INTO job_last SELECT job_id, max(rowid) FROM job_runs "
                               "WHERE run_id = ? GROUP BY job_id", (self.run_id,))
            self._conn.execute(
                "DELETE FROM job_runs WHERE run_id <= ?", (self.run_id - KEEP_RUNS,)
            )
            self._conn.execute("DELETE FROM earlier_logs WHERE run_id <= ?", (self.run_id - KEEP_RUNS,))
            if self.run_id % 10 == 0:  # reasons no kept row refers to; a scan, so not every run
                self._conn.execute("DELETE FROM reasons WHERE hash NOT IN (SELECT reason FROM job_runs)")
        except sqlite3.Error as exc:
            raise self._error(exc, mid_run=True) from exc

    def job_ran(self, job_id: str, started: float, stopped: float, outcome: str, reason: str,
                worker: int | None, cores: int, stdout: str = "", stderr: str = "",
                traceback: str | None = None, usage=None, exit_status: int | None = None) -> None:
        """Note one job's run (and keep its output as the job's last log; the log it
        replaces moves to `earlier_logs`). `usage` is the run's usage.Usage, or its fields as
        a plain tuple (or None).

        The reason is kept once per distinct text (`reasons`): a full rerun of 100 000
        jobs stores "never ran" once, not 100 000 times.
        """
        key = self._reasons.get(reason)
        if key is None:
            key = self._reasons[reason] = _signed(hash_bytes(reason.encode("utf-8", "surrogatepass")))
            self._pending_reasons[key] = printable(reason)
        if usage is None:
            self._pending_rows.append((self.run_id, store_key(job_id), started, stopped, outcome, key, worker,
                                       cores, None, None, None, None, exit_status, None))
        else:
            cpu, rss, rss_added, host, cluster_job, state = usage
            self._pending_rows.append((self.run_id, store_key(job_id), started, stopped, outcome, key, worker,
                                       cores, cpu, rss, host, cluster_job, exit_status, state))
            if outcome == "done":
                self._note_memory(job_id, rss_added)
        if outcome != "done":
            self._failures[job_id] = self._pending_failures[job_id] = outcome
        elif job_id in self._failures:
            del self._failures[job_id]
            self._pending_failures[job_id] = None
        if stdout or stderr or traceback:
            self._pending_logs.append((job_id, self.run_id, printable(stdout), printable(stderr),
                                       traceback and printable(traceback)))
            self._logged.add(job_id)
        elif job_id in self._logged:
            self._pending_logs.append((job_id, None, None, None, None))
            self._logged.discard(job_id)

    def _note_memory(self, job_id: str, added: int) -> None:
        """Keep the memory a job added as its next run's estimate; small amounts are dropped."""
        if added >= MEMORY_NOTED:
            self.memory[job_id] = self._pending_memory[job_id] = added
        elif job_id in self.memory:
            del self.memory[job_id]
            self._pending_memory[job_id] = None

    def previous_run_started(self) -> float | None:
        """When the latest run before this one started (None: this is the first)."""
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("SELECT max(started) FROM runs WHERE run_id < ?",
                                     (self.run_id if self.run_id is not None else 1 << 62,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def ran_before(self, job_id: str) -> bool:
        """Whether the store remembers a run of `job_id` (the rows of its last KEEP_RUNS runs)."""
        if self._conn is None:
            return False
        try:
            row = self._conn.execute("SELECT 1 FROM job_runs WHERE job_id = ? LIMIT 1",
                                     (store_key(job_id),)).fetchone()
        except sqlite3.Error:
            return False
        return row is not None

    def forget_failure(self, job_id: str) -> bool:
        """Drop the mark of a job whose last run failed (`ppg forget --state failed`)."""
        if job_id not in self._failures:
            return False
        del self._failures[job_id]
        self._pending_failures[job_id] = None
        return True

    def record_graph(self, raw, cores: int, jobs: int | None = None) -> None:
        """Keep the run's job graph (`run_graph.snapshot` bytes, or a callable giving them in
        chunks: `snapshot_chunks`) and core count for reports.

        A graph is stored once by content hash; graphs only runs older than KEEP_GRAPHS
        refer to are dropped. Best effort: a failure to write is logged, never raised.
        """
        if self._conn is None or self.run_id is None:
            return
        self.graph_jobs = jobs
        chunks = (lambda: (raw,)) if isinstance(raw, bytes) else raw
        conn = self._conn
        try:
            def new(digest: int) -> bool:
                return conn.execute("SELECT 1 FROM graphs WHERE hash = ?", (_signed(digest),)).fetchone() is None

            digest, blob = digest_and_compress(chunks, new)  # before the transaction: it calls the jobs' code
            digest = _signed(digest)
            with _transaction(conn):
                if blob is not None:
                    conn.execute("INSERT OR IGNORE INTO graphs VALUES (?, ?)", (digest, blob))
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
        return bool(self._pending or self._pending_rows or self._pending_logs or self._pending_failures)

    def flush(self, force: bool = False, check_present: bool = False) -> None:
        """Commit pending records if forced or COMMIT_INTERVAL has passed; then make the
        store again if it was deleted meanwhile (`_recreate_if_gone`)."""
        if self._conn is None or not (self.has_pending() or check_present):
            return
        now = time.monotonic()
        if not force and now - self._last_commit < COMMIT_INTERVAL:
            return
        if self.has_pending():
            self._commit()
        self._recreate_if_gone()
        self._last_commit = now

    def _commit(self) -> None:
        pending, self._pending = self._pending, {}
        rows, self._pending_rows = self._pending_rows, []
        logs, self._pending_logs = self._pending_logs, []
        sources, self._pending_sources = self._pending_sources, {}
        reasons, self._pending_reasons = self._pending_reasons, {}
        failures, self._pending_failures = self._pending_failures, {}
        memory, self._pending_memory = self._pending_memory, {}
        puts = [(store_key(k), v) for k, v in pending.items() if v is not None]
        deletes = [(store_key(k),) for k, v in pending.items() if v is None]
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
                                     [(store_key(k), v) for k, v in failures.items() if v is not None])
                    conn.executemany("DELETE FROM failures WHERE job_id = ?",
                                     [(store_key(k),) for k, v in failures.items() if v is None])
                if rows:
                    conn.executemany(_INSERT_JOB_RUN, rows)
                if memory:
                    conn.executemany("INSERT OR REPLACE INTO job_memory VALUES (?, ?)",
                                     [(store_key(k), v) for k, v in memory.items() if v is not None])
                    conn.executemany("DELETE FROM job_memory WHERE job_id = ?",
                                     [(store_key(k),) for k, v in memory.items() if v is None])
                for job_id, run_id, stdout, stderr, tb in logs:
                    job_id = store_key(job_id)
                    conn.execute(_KEEP_EARLIER_LOG, (job_id, run_id))
                    if run_id is None:
                        conn.execute("DELETE FROM job_logs WHERE job_id = ?", (job_id,))
                    else:
                        conn.execute("INSERT OR REPLACE INTO job_logs VALUES (?, ?, ?, ?, ?)",
                                     (job_id, run_id, stdout, stderr, tb))
                if sources:
                    conn.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?)",
                                     [(_signed(k), v) for k, v in sources.items()])
            raw = self._raw
            for key, value in pending.items():
                if value is not None and raw.get(key) is value:
                    raw[key] = _IN_FILE  # committed: read back from the file if asked again
        except sqlite3.Error as exc:
            self._pending = {**pending, **self._pending}
            self._pending_rows = rows + self._pending_rows
            self._pending_logs = logs + self._pending_logs
            self._pending_sources = {**sources, **self._pending_sources}
            self._pending_reasons = {**reasons, **self._pending_reasons}
            self._pending_failures = {**failures, **self._pending_failures}
            self._pending_memory = {**memory, **self._pending_memory}
            raise self._error(exc, mid_run=True) from exc

    def _recreate_if_gone(self) -> None:
        """The store file was deleted (or moved away) during the run: copy everything this
        run knows (the whole store as the open connection still sees it, this run's
        commits included) to a new store at its path, with one warning. Costs one fstat
        and one stat."""
        try:
            gone = os.fstat(self._file_fd).st_nlink == 0 or not os.path.samestat(
                os.fstat(self._file_fd), os.stat(self.filename))
        except FileNotFoundError:
            gone = True
        if not gone:
            return
        old, self._conn = self._conn, None
        self._create(source=old)
        os.close(self._file_fd)  # after SQLite closed its own (see close)
        self._file_fd = None
        try:
            conn = sqlite3.connect(self.filename, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._file_fd = os.open(self.filename, os.O_RDONLY | os.O_CLOEXEC)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc, mid_run=True) from exc
        self._conn = conn
        message = (f"the status store {self.filename} was deleted during the run; wrote what "
                   f"this run knows ({len(self._raw)} job records) to a new one")
        logging.getLogger("pypipegraph").warning(message)
        print(f"pypipegraph: warning: {message}", file=sys.stderr, flush=True)


def _by_id(rows, same_key=None) -> dict:
    """{job id: value} of (job id, value) rows; ids kept as bytes (not UTF-8, see
    safe_files.store_key) come back as the str they were. With `same_key`, each id is
    replaced by the equal string it returns."""
    if same_key is not None:
        return {same_key(from_store(key) if type(key) is bytes else key): value for key, value in rows}
    found = dict(rows)
    if bytes in set(map(type, found)):
        return {from_store(key): value for key, value in found.items()}
    return found


def _remove(*names: str) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


_INSERT_JOB_RUN = (f"INSERT INTO job_runs ({', '.join(store_format.JOB_RUN_FIELDS)}) "
                   f"VALUES ({', '.join('?' * len(store_format.JOB_RUN_FIELDS))})")
# before a job's last log is replaced (or dropped), it moves to earlier_logs (`ppg log --run N`)
_KEEP_EARLIER_LOG = ("INSERT OR REPLACE INTO earlier_logs SELECT job_id, run_id, stdout, stderr, traceback "
                     "FROM job_logs WHERE job_id = ? AND run_id IS NOT ?")


def _add_job_run_columns(conn: sqlite3.Connection) -> None:
    """Add the JOB_RUN_COLUMNS a store of an earlier version lacks (they read as NULL)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(job_runs)")}
    for name, kind in store_format.JOB_RUN_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE job_runs ADD COLUMN {name} {kind}")


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


_WRITE_ERRORS = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM")


def _cannot_write(exc: Exception) -> bool:
    """Whether `exc` says the store cannot be written (as opposed to: is damaged)."""
    if isinstance(exc, OSError):
        return True
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return name.startswith(_WRITE_ERRORS)
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "unable to open", "disk is full"))
