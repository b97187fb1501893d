"""Reading the status store without a run: what the `ppg` command shows.

Invariant: opens the store read-only and takes no lock, so it works beside a running
pipeline and can never change or corrupt the store. A missing or unreadable store is
a StoreError naming the file. Records are decoded as data (store_format); nothing read
here is unpickled unless this user's key signed it.

    >>> reader = StoreReader(".pypipegraph_status_robust")   # doctest: +SKIP
    >>> reader.record("out/a.txt").runtime                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import sqlite3
from typing import NamedTuple
from urllib.parse import quote

from ..errors import StoreError
from ..plumbing.safe_files import from_store, store_key
from .format import JOB_RUN_COLUMNS, Record, decode_opened, decode_record, unusable
from .format import signed as _signed
from .run_graph import RunGraph, decode


class JobRun(NamedTuple):
    """One job's run, from the `job_runs` table. `worker` is the pid that ran it; the
    fields after `cores` are None in rows of stores written before they were kept: `cpu`
    seconds, peak `rss` bytes, `host`, `cluster_job` id, `exit_status` (0 done, the
    program's or process's exit code, 1 for an exception) and the `state` the job set."""

    run_id: int
    job_id: str
    started: float
    stopped: float
    outcome: str
    reason: str
    worker: int | None
    cores: int
    cpu: float | None = None
    rss: int | None = None
    host: str | None = None
    cluster_job: str | None = None
    exit_status: int | None = None
    state: str | None = None

    @property
    def runtime(self) -> float:
        """Wall seconds of the run."""
        return max(0.0, (self.stopped or self.started) - self.started)


class RunInfo(NamedTuple):
    run_id: int
    started: float
    finished: float | None
    outcome: str | None
    jobs_run: int | None
    jobs_failed: int | None


class RunSetting(NamedTuple):
    """What the store keeps of a run's setting (for reports); graph None when not kept."""

    graph: RunGraph | None
    cores: int | None
    master_pid: int | None


class StoreReader:
    """Read-only view of a store file."""

    def __init__(self, filename: str):
        self.filename = filename
        self._failures: dict | None = None
        self._unusable: dict | None = None
        self._runs_sql: str | None = None
        if not os.path.exists(filename):
            raise StoreError(
                f"no status store {filename} here: run the pipeline first (or pass --store)"
            )
        # Without a -wal file (no run active, last one checkpointed) open it immutable, so
        # that reading creates no -wal/-shm files beside it; with one, read through it.
        mode = "mode=ro" if os.path.exists(filename + "-wal") else "mode=ro&immutable=1"
        try:
            self.conn = sqlite3.connect(f"file:{quote(os.path.abspath(filename))}?{mode}", uri=True)
            self.conn.execute("SELECT count(*) FROM jobs").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{filename} is not a readable pypipegraph status store ({exc})") from exc

    def close(self) -> None:
        self.conn.close()

    def _query(self, sql: str, params: tuple = ()) -> list:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # a table an older store does not have yet

    def _job_runs_sql(self) -> str:
        """SELECT of job_runs rows with their reason texts (kept once each in `reasons`);
        columns an older store lacks read as NULL."""
        if self._runs_sql is None:
            has_reasons = self._query("SELECT 1 FROM sqlite_master WHERE name = 'reasons'")
            reason = "COALESCE(r.text, j.reason)" if has_reasons else "j.reason"
            join = " LEFT JOIN reasons r ON r.hash = j.reason" if has_reasons else ""
            have = {row[1] for row in self._query("PRAGMA table_info(job_runs)")}
            added = "".join(f", j.{name}" if name in have else ", NULL" for name, _ in JOB_RUN_COLUMNS)
            self._runs_sql = ("SELECT j.run_id, j.job_id, j.started, j.stopped, j.outcome, " + reason
                              + ", j.worker, j.cores" + added + " FROM job_runs j" + join)
        return self._runs_sql

    def has_table(self, name: str) -> bool:
        """Whether the store has table `name` (stores of earlier versions lack some)."""
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def previous_run_started(self) -> float | None:
        """When the latest run kept started (None: none ran yet)."""
        rows = self._query("SELECT max(started) FROM runs")
        return rows[0][0] if rows else None

    def ran_before(self, job_id: str) -> bool:
        """Whether the store remembers a run of `job_id` (as History.ran_before)."""
        return bool(self._query("SELECT 1 FROM job_runs WHERE job_id = ? LIMIT 1", (store_key(job_id),)))

    def failures(self) -> dict[str, str]:
        """{job id: "failed" or "killed"} of jobs whose last run did not finish (and that
        `ppg forget` did not reset since)."""
        if self._failures is None:
            self._failures = {from_store(k): v for k, v in self._query("SELECT job_id, outcome FROM failures")}
        return self._failures

    def record_count(self) -> int:
        """How many jobs have a record."""
        rows = self._query("SELECT COUNT(*) FROM jobs")
        return rows[0][0] if rows else 0

    def records(self) -> dict[str, Record]:
        """Every job's record (unusable ones skipped: `unusable_records` lists them)."""
        result = {}
        self._unusable = {}
        for job_id, raw in self._query("SELECT job_id, record FROM jobs"):
            record = decode_record(raw)
            if record is not None:
                result[from_store(job_id)] = record
            else:  # damaged, or of the wrong shape: counts as "never ran"
                self._unusable[from_store(job_id)] = unusable(raw) or "it does not decode"
        return result

    def unusable_records(self) -> dict[str, str]:
        """{job id: why} of records that cannot be used (the job runs next time)."""
        if self._unusable is None:
            self.records()
        return self._unusable

    def unreadable(self, job_id: str) -> str | None:
        """Why the job's record cannot be used (None: it can, or there is none)."""
        rows = self._query("SELECT record FROM jobs WHERE job_id = ?", (store_key(job_id),))
        return unusable(rows[0][0]) if rows else None

    def record(self, job_id: str) -> Record | None:
        """The job's record as stored (signed Python values left unopened)."""
        rows = self._query("SELECT record FROM jobs WHERE job_id = ?", (store_key(job_id),))
        return decode_record(rows[0][0]) if rows else None

    def get(self, job_id: str) -> Record | None:
        """The store protocol the rebuilder reads through (`ppg why`): signed values
        opened when this user's key verifies them (store_format.decode_opened)."""
        rows = self._query("SELECT record FROM jobs WHERE job_id = ?", (store_key(job_id),))
        return decode_opened(rows[0][0]) if rows else None

    def record_ids(self) -> set[str]:
        """The ids of the jobs with a record (nothing decoded)."""
        ids = {row[0] for row in self._query("SELECT job_id FROM jobs")}
        return {from_store(key) for key in ids} if any(type(key) is bytes for key in ids) else ids

    def last_run_fields(self) -> dict[str, tuple]:
        """{job id: (run id, runtime, peak rss)} of each job's last kept run: `last_runs`
        without building every row."""
        rss = "j.rss" if any(row[1] == "rss" for row in self._query("PRAGMA table_info(job_runs)")) else "NULL"
        rows = self._query("SELECT j.job_id, j.run_id, max(0, coalesce(j.stopped, j.started) - j.started), "
                           f"{rss} FROM job_runs j" + self._last_where())
        return {job_id if type(job_id) is str else from_store(job_id): (run_id, runtime, peak)
                for job_id, run_id, runtime, peak in rows}

    def _last_where(self) -> str:
        """The WHERE clause picking each job's last job_runs row, in row order (the latest last)."""
        if self.has_table("job_last"):  # an index of each job's last row; a run going on read by run id
            return (" WHERE j.rowid IN (SELECT row FROM job_last) OR j.run_id IN "
                    "(SELECT run_id FROM runs WHERE outcome IS NULL) ORDER BY j.rowid")
        return " WHERE j.rowid IN (SELECT max(rowid) FROM job_runs GROUP BY job_id) ORDER BY j.rowid"

    def knows(self, job_id: str) -> bool:
        """Whether the store has a record or a kept run of `job_id` (two index look-ups)."""
        key = store_key(job_id)
        return bool(self._query("SELECT 1 FROM jobs WHERE job_id = ?", (key,))
                    or self._query("SELECT 1 FROM job_runs WHERE job_id = ? LIMIT 1", (key,)))

    def failure_messages(self) -> dict[str, str]:
        """{job id: the last line of its last failure's traceback} of the jobs whose last
        run failed or was killed."""
        rows = self._query("SELECT l.job_id, l.traceback FROM job_logs l JOIN failures f ON f.job_id = l.job_id "
                           "WHERE l.traceback IS NOT NULL")
        return {from_store(job_id): last_line(text) for job_id, text in rows}

    def runs(self, limit: int = 50) -> list[RunInfo]:
        rows = self._query(
            "SELECT run_id, started, finished, outcome, jobs_run, jobs_failed FROM runs "
            "ORDER BY run_id DESC LIMIT ?", (limit,))
        return [RunInfo(*row) for row in rows]

    def job_runs(self, job_id: str | None = None, run_id: int | None = None) -> list[JobRun]:
        """Runs of one job (oldest first), or all job runs of one run."""
        sql = self._job_runs_sql()
        if job_id is not None:
            rows = self._query(sql + " WHERE j.job_id = ? ORDER BY j.run_id", (store_key(job_id),))
        elif run_id is not None:
            rows = self._query(sql + " WHERE j.run_id = ? ORDER BY j.started", (run_id,))
        else:
            rows = self._query(sql + " ORDER BY j.run_id, j.started")
        return [_job_run(row) for row in rows]

    def last_runs(self) -> dict[str, JobRun]:
        """Each job's most recent run."""
        rows = self._query(self._job_runs_sql() + self._last_where())
        return {run.job_id: run for run in map(_job_run, rows)}  # in row order: the latest wins

    def job_log(self, job_id: str, run_id: int | None = None) -> tuple[int, str, str, str | None] | None:
        """(run id, stdout, stderr, traceback) of the job's last run (or of run `run_id`),
        if it printed anything or failed then."""
        rows = self._query("SELECT run_id, stdout, stderr, traceback FROM job_logs WHERE job_id = ?",
                           (store_key(job_id),))
        if run_id is None or (rows and rows[0][0] == run_id):
            return rows[0] if rows else None
        rows = self._query("SELECT run_id, stdout, stderr, traceback FROM earlier_logs "
                           "WHERE job_id = ? AND run_id = ?", (store_key(job_id), run_id))
        return rows[0] if rows else None

    def source(self, digest: int | None) -> str | None:
        """A function's source text by its hash (see History.store_source)."""
        if digest is None:
            return None
        rows = self._query("SELECT text FROM sources WHERE hash = ?", (_signed(digest),))
        return rows[0][0] if rows else None

    def run_setting(self, run_id: int) -> RunSetting:
        """The run's job graph, core count and master pid, as far as the store kept them."""
        rows = self._query(
            "SELECT g.data, r.cores, r.master_pid FROM run_graphs r "
            "LEFT JOIN graphs g ON g.hash = r.graph WHERE r.run_id = ?", (run_id,))
        if not rows:
            return RunSetting(None, None, None)
        blob, cores, master_pid = rows[0]
        try:
            graph = decode(blob) if blob is not None else None
        except ValueError:
            graph = None  # a damaged graph: the report shows the rest
        return RunSetting(graph, cores, master_pid)

    def run_logs(self, run_id: int) -> dict[str, tuple[str, str, str | None]]:
        """{job id: (stdout, stderr, traceback)} of the jobs that printed something or failed
        in run `run_id`: their last log, or the earlier log kept of that run (the last 50 runs)."""
        rows = self._query(
            "SELECT job_id, stdout, stderr, traceback FROM earlier_logs WHERE run_id = ?", (run_id,))
        rows += self._query(
            "SELECT job_id, stdout, stderr, traceback FROM job_logs WHERE run_id = ?", (run_id,))
        return {from_store(row[0]): tuple(row[1:]) for row in rows}

    def run_cwd(self, run_id: int) -> str | None:
        rows = self._query("SELECT cwd FROM runs WHERE run_id = ?", (run_id,))
        return rows[0][0] if rows else None


def last_line(text: str | None) -> str:
    """The last non-empty line of a traceback (`ValueError: bad read`), '' for none."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _job_run(row) -> JobRun:
    """A job_runs row; a job id kept as bytes (safe_files.store_key) comes back as its str."""
    return JobRun(row[0], from_store(row[1]), *row[2:])
