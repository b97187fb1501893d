"""What the `ppg` commands that read the store share: the store opened for reading, which
jobs a filter selects, and values and tables as people read them.

Invariant: reads only (StoreReader, the lock file's pid); every text put in a table goes
through `shown`, so a job id cannot forge a row or reach the terminal raw.
"""

from __future__ import annotations

import fnmatch
import time

from ..plumbing.safe_files import shown
from ..store.format import record_is_invariant
from ..store.lock import holder
from ..store.reader import StoreReader
from . import CommandError


def selected(row, state: str, args) -> bool:
    """Whether a job passes --state (its outcome or its user-set state) and --host."""
    if args.state and state not in args.state and (row is None or row.state not in args.state):
        return False
    if args.host and (row is None or not row.host
                      or not any(fnmatch.fnmatchcase(row.host, p) for p in args.host)):
        return False
    return True


def is_invariant(job_id: str, record) -> bool:
    """Whether to hide the job without --all: its record's kind says so."""
    return record_is_invariant(job_id, record)


def latest_graph(reader: StoreReader):
    """(run id, RunGraph) of the last run whose job graph the store kept, or (None, None)."""
    for info in reader.runs(limit=1_000_000):
        graph = reader.run_setting(info.run_id).graph
        if graph is not None:
            return info.run_id, graph
    return None, None


def lock_holder(store: str) -> int | None:
    """The pid in the store's lock file if that process is alive (no lock is taken)."""
    return holder(store)


def open_reader(args) -> StoreReader:
    """The store of `--store`, read-only; StoreError (one line) when there is none."""
    return StoreReader(args.store)


def require_known(reader: StoreReader, job_id: str) -> str:
    """`job_id`, or CommandError when the store knows no such job (index look-ups only)."""
    if not reader.knows(job_id):
        raise CommandError(f"unknown job {job_id} (not in the store)")
    return job_id


def date(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size(nbytes: int | None) -> str:
    """Bytes in KiB/MiB/GiB ('' when unknown)."""
    if nbytes is None:
        return ""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def table(header: tuple, rows: list, right: set = frozenset()) -> str:
    """Aligned columns; the column indices in `right` are right-aligned."""
    rows = [tuple(shown(str(cell)) for cell in row) for row in rows]  # a job id cannot forge a row
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row) -> str:
        cells = [str(cell).rjust(w) if i in right else str(cell).ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])
