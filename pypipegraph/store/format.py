"""The status store's format: its SQLite schema and how a job's record is encoded.

Invariant: this is the only module that knows how a record becomes bytes and back;
the writer (history.History) and the reader (history_reader.StoreReader) both go
through `encode_record`/`decode_record`. A record is data (MessagePack, `store_values`),
never a pickle: reading a store runs no code from it. Every record written carries its
job's kind (one of KINDS), so tools reading the store never guess a kind from a job id.
Tables are only ever added, so a store of an earlier version opens as it is; its
records (pickles) are read by a restricted unpickler that builds only plain builtin
values, and a record it refuses counts as "never ran".
"""

from __future__ import annotations

import io
import pickle
from typing import Any, NamedTuple

from .values import pack, unpack, unpack_opened

# 2: job_runs gained JOB_RUN_COLUMNS and records are MessagePack data (an older version could
# neither insert rows nor read records)
FORMAT_VERSION = 2

INVARIANT = "invariant"  # checked in the master, never run (function, parameter, file)
OUTPUT = "output"  # writes files (or always runs)
TEMP = "temp"  # lazy: temporary files, made when a dependant runs
LOADER = "loader"  # lazy: loads data into the master's memory
GENERATOR = "generator"  # creates jobs while running
KINDS = (INVARIANT, OUTPUT, TEMP, LOADER, GENERATOR)


class Record(NamedTuple):
    """What a job last ran with.

    inputs       {upstream job id: fingerprint} the job last ran (or was checked) with
    outputs      ((filename, mtime_ns, size, hash), ...) of its output files
    fingerprint  the job's own fingerprint (output hash, invariant value, ...)
    runtime      seconds the job took last time it ran
    finished     unix time it last finished
    extra        the state an invariant keeps between runs (its class alone reads it)
    kind         the job's kind (KINDS); "" in records written before kinds were stored
    """

    inputs: dict
    outputs: tuple
    fingerprint: int
    runtime: float = 0.0
    finished: float = 0.0
    extra: Any = None
    kind: str = ""


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL,
    finished REAL, outcome TEXT, jobs_run INTEGER, jobs_failed INTEGER, cwd TEXT);
CREATE TABLE IF NOT EXISTS job_runs (run_id INTEGER NOT NULL, job_id TEXT NOT NULL, started REAL,
    stopped REAL, outcome TEXT NOT NULL, reason TEXT, worker INTEGER, cores INTEGER, cpu REAL,
    rss INTEGER, host TEXT, cluster_job TEXT, exit_status INTEGER, state TEXT);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs (job_id, run_id);
CREATE TABLE IF NOT EXISTS job_logs (job_id TEXT PRIMARY KEY, run_id INTEGER, stdout TEXT,
    stderr TEXT, traceback TEXT);
CREATE TABLE IF NOT EXISTS sources (hash INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reasons (hash INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (job_id TEXT PRIMARY KEY, outcome TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graphs (hash INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS run_graphs (run_id INTEGER PRIMARY KEY, graph INTEGER, cores INTEGER,
    master_pid INTEGER);
CREATE TABLE IF NOT EXISTS earlier_logs (job_id TEXT NOT NULL, run_id INTEGER NOT NULL, stdout TEXT,
    stderr TEXT, traceback TEXT, PRIMARY KEY (job_id, run_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_memory (job_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_runs_by_run ON job_runs (run_id);
CREATE TABLE IF NOT EXISTS job_last (job_id TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;
"""
# job_last: each job's latest job_runs row (its rowid) among the runs that ended; the rows of
# a run going on (or of one whose master was killed) are found by job_runs_by_run. Filled
# from job_runs when a store of an earlier version is opened (FILL_JOB_LAST).
FILL_JOB_LAST = "INSERT OR REPLACE INTO job_last SELECT job_id, max(rowid) FROM job_runs GROUP BY job_id"

# Columns added to job_runs after its first version (in SCHEMA for new stores; History adds
# the missing ones when it opens an older store; readers of older stores see NULL): a job
# run's resource use (usage.Usage), where it ran, how it ended and the state the job set.
JOB_RUN_COLUMNS = (("cpu", "REAL"), ("rss", "INTEGER"), ("host", "TEXT"), ("cluster_job", "TEXT"),
                   ("exit_status", "INTEGER"), ("state", "TEXT"))
JOB_RUN_FIELDS = ("run_id", "job_id", "started", "stopped", "outcome", "reason", "worker", "cores",
                  *(name for name, _ in JOB_RUN_COLUMNS))


MOVED = None  # in Record.inputs: this input changed while the job ran; what it read is unknown

_ARRAY7 = 0x97  # how a packed record (a MessagePack array of 7) starts; a pickle starts with 0x80
_new = tuple.__new__


def encode_record(record: Record) -> bytes:
    """The bytes kept in the `jobs` table for `record` (its extra's values that are not
    plain data as signed pickles, see store_values)."""
    return pack(record, plain=6 if record.extra is None else 5)


def decode_record(raw, open_sealed: bool = False) -> Record | None:
    """The record of `raw`; None when it cannot be used (counts as "never ran"): it does
    not decode, or it decodes to something else than a record (`unusable` says which).

    Signed values in `extra` come back as `store_values.Sealed` (unopened), or with
    `open_sealed` verified and unpickled (an unverifiable one as `Unverified`)."""
    if raw[:1] == b"\x97":  # the common case first, without a detour
        try:
            fields = unpack(raw, open_sealed)
        except Exception:  # noqa: BLE001 - a damaged (or crafted) record is a missing one
            return None
        if type(fields) is tuple and len(fields) == 7 and _shape_problem(fields) is None:
            return _new(Record, fields)
        return None
    record = _decode(raw, open_sealed)
    return record if type(record) is Record else None


def unusable(raw) -> str | None:
    """Why the record `raw` cannot be used (None when it can): for the one warning and for
    the read commands, which show such a record as unreadable."""
    record = _decode(raw, False)
    return None if type(record) is Record else record


def _decode(raw, open_sealed: bool) -> Record | str:
    """The record of `raw`, or why there is none."""
    try:
        if raw[0] != _ARRAY7:
            fields = plain_unpickle(bytes(raw))
            if type(fields) is not tuple or not 3 <= len(fields) <= 7:
                return "it is not a record"
            fields = tuple(Record(*fields))
        else:
            fields = unpack(raw, open_sealed)
            if type(fields) is not tuple or len(fields) != 7:
                return "it is not a record"
    except Exception:  # noqa: BLE001 - a damaged (or crafted) record is a missing one
        return "it does not decode"
    return _shape_problem(fields) or _new(Record, fields)


def unusable_text(job_id: str, why: str) -> str:
    """The one warning about a job whose record cannot be used."""
    return f"the store's record of {job_id} cannot be used ({why}): it counts as never ran"


_NUMBER = (int, float)
_NUMBERS = frozenset(_NUMBER)
_STR = frozenset((str,))
_FINGERPRINTS = frozenset((int, type(MOVED)))
_OUTPUT_TYPES = frozenset(((str, int, int, int), (str, float, int, int)))


def _shape_problem(fields: tuple) -> str | None:
    """What in the decoded `fields` is not what a record holds (None: nothing): a record that
    decodes but has the wrong shape is as unusable as one that does not decode. The common
    case is checked with set operations only: every record of a run passes here."""
    inputs, outputs, fingerprint, runtime, finished, _extra, kind = fields
    try:
        if (type(inputs) is dict and type(outputs) is tuple and type(fingerprint) is int
                and type(runtime) in _NUMBERS and type(finished) in _NUMBERS and type(kind) is str
                and (not inputs or (_STR.issuperset(map(type, inputs))
                                    and _FINGERPRINTS.issuperset(map(type, inputs.values()))))
                and (not outputs or _OUTPUT_TYPES.issuperset(map(_types, outputs)))):
            return None  # an invariant's record (no inputs, no outputs) needs no walk at all
    except TypeError:  # an output entry that is not a sequence
        pass
    return _problem_in(fields)


def _types(entry) -> tuple:
    return tuple(map(type, entry))


def _problem_in(fields: tuple) -> str:
    """The words for a record `_shape_problem` refused."""
    inputs, outputs, fingerprint, runtime, finished, _extra, kind = fields
    if type(inputs) is not dict:
        return "its inputs are not a mapping"
    for key, value in inputs.items():
        if type(key) is not str or not (value is MOVED or type(value) is int):
            return "its inputs are not job ids with fingerprints"
    if type(outputs) is not tuple:
        return "its outputs are not a list"
    for entry in outputs:
        if type(entry) is not tuple or len(entry) != 4:
            return "its outputs are not (name, mtime, size, hash) entries"
        name, mtime, size, digest = entry
        if type(name) is not str or type(mtime) not in _NUMBER or type(size) is not int or type(digest) is not int:
            return "its outputs are not (name, mtime, size, hash) entries"
    if type(fingerprint) is not int:
        return "its fingerprint is not a number"
    if type(runtime) not in _NUMBER or type(finished) not in _NUMBER:
        return "its runtime is not a number"
    if type(kind) is not str:
        return "its kind is not a name"
    return "it is not a record"


def is_legacy(raw: bytes) -> bool:
    """Whether `raw` is a record of an earlier version (a pickle, read as plain data only)."""
    return raw[:1] != b"\x97"


def decode_opened(raw) -> Record | None:
    """`decode_record` with signed values opened: what a rebuilder reads (every record of a
    run comes here: the common case takes no detour)."""
    if raw[:1] == b"\x97":
        try:
            fields = unpack_opened(raw)
        except Exception:  # noqa: BLE001 - a damaged (or crafted) record is a missing one
            return None
        if type(fields) is tuple and len(fields) == 7 and _shape_problem(fields) is None:
            return _new(Record, fields)
        return None
    return decode_record(raw, open_sealed=True)


class _PlainUnpickler(pickle.Unpickler):
    """Builds builtin containers and scalars only: any class or function is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def plain_unpickle(raw: bytes) -> Any:
    """A pickle of plain builtin values (records of earlier versions); UnpicklingError
    (or another exception) for anything that would import or call something."""
    return _PlainUnpickler(io.BytesIO(raw)).load()


def record_is_invariant(job_id: str, record: Record | None) -> bool:
    """Whether the stored job is an invariant: from its kind. Jobs without a record are
    not (an invariant is never run, so it has no failed runs); records written before
    kinds were stored are guessed as before (FI/PI ids, no inputs and no outputs)."""
    if record is None:
        return False
    if record.kind:
        return record.kind == INVARIANT
    return job_id.startswith(("FI", "PI")) or (not record.outputs and not record.inputs)


def signed(digest: int) -> int:
    """SQLite integers are signed 64-bit; fingerprints are unsigned."""
    return digest - (1 << 64) if digest >= (1 << 63) else digest
