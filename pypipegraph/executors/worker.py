"""The worker side of every executor: run one job, time and measure it, encode its Result.

Invariant: this is the only place that turns a job's run into the bytes an executor
sends back to the master, and the only definition of those bytes: a `Result`, pickled, or,
for a job that succeeded with a value of plain types (what output jobs return: a list of
tuples of str and int), the Result's fields marshalled behind a one-byte tag, which costs
a job's process less than half the pages pickling an object costs it (each page it writes is
copied when it was forked from a zygote). A result always reaches the master: an
exception or value that cannot be pickled is replaced by a PyPipeGraphError naming the
job. It knows a job only as an object with `job_id` and `run_in_worker()`. Every job run
here is measured (usage.py: CPU time, peak RSS, host, cluster job id, the state the job
set), at the cost of three getrusage calls.
"""

from __future__ import annotations

import marshal
import pickle
import time
from collections.abc import Callable

from .. import usage
from ..errors import JobDiedException, PyPipeGraphError
from ..plumbing.modules import user_traceback

MAX_CAPTURE = 1 << 20  # keep at most the last MiB of a job's stdout/stderr


class Result:
    """What a worker reports for one job; `usage` (the fields of a usage.Usage, as a plain
    tuple) is None when the job was not measured (it died, or ran in the master)."""

    __slots__ = ("ok", "value", "traceback", "stdout", "stderr", "start", "stop", "pid", "usage")

    def __init__(self, ok, value, tb, stdout, stderr, start, stop, pid, usage=None):
        self.ok = ok
        self.value = value
        self.traceback = tb
        self.stdout = stdout
        self.stderr = stderr
        self.start = start
        self.stop = stop
        self.pid = pid
        self.usage = usage


def run_job(job) -> tuple[bool, object, str | None]:
    """Run one job's worker part: (ok, value or exception, traceback or None)."""
    try:
        return True, job.run_in_worker(), None
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return False, JobDiedException(
            f"{job.job_id} called sys.exit({exc.code!r}); job callbacks must not exit the "
            "process: raise an exception instead", exit_code=code), None
    except BaseException as exc:  # noqa: BLE001 - every failure is reported
        return False, exc, user_traceback(exc)


def execute(job, collect: Callable[[], tuple[str, str]], pid: int,
            run: Callable = run_job, fresh: bool = False) -> bytes:
    """Run `job` (through `run`), measure it, collect its (stdout, stderr) and encode the
    Result. `fresh`: this is the main thread of a process forked for this one job."""
    measured = usage.begin(fresh)
    start = time.time()
    ok, value, tb = run(job)
    stop = time.time()
    used = usage.end(measured)
    stdout, stderr = collect()
    fields = (ok, value, tb, stdout, stderr, start, stop, pid, used)
    if ok and _plain(value):
        return _MARSHALLED + marshal.dumps(fields, _MARSHAL_VERSION)
    return encode_result(Result(*fields), job)


_MARSHALLED = b"M"  # a pickle starts with its protocol opcode (0x80), never with this
_MARSHAL_VERSION = 4  # read by every Python from 3.4 on
_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})


def _plain(value) -> bool:
    """Whether marshal carries `value` unchanged: a plain scalar, or a list or tuple of
    them or of lists and tuples of them (exact types only: marshal would turn a subclass,
    or anything with a buffer such as an array, into its base type or bytes)."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is not list and kind is not tuple:
        return False
    for item in value:
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is not list and kind is not tuple:
            return False
        for leaf in item:
            if type(leaf) not in _PLAIN:
                return False
    return True


def encode_result(result: Result, job) -> bytes:
    """Pickle a Result; an exception the master could not rebuild or print (it does not pickle,
    does not unpickle, or its str() raises), or an unpicklable value, becomes a
    PyPipeGraphError naming the job and carrying the original's message."""
    try:
        data = pickle.dumps(result, protocol=5)
        if not result.ok:
            str(result.value)  # the master prints it
            pickle.loads(data)  # e.g. an __init__ with arguments its args do not match
        return data
    except Exception as exc:  # noqa: BLE001 - whatever the user's class does
        value = result.value
        result.value = PyPipeGraphError(
            f"{job.job_id}: {type(value).__name__}: {_safe_str(value)} (the original could not be "
            f"sent to the master: {type(exc).__name__}: {_safe_str(exc)})"
        ) if not result.ok else PyPipeGraphError(f"{job.job_id}: its result could not be pickled: {exc}")
        result.ok = False
        return pickle.dumps(result, protocol=5)


def _safe_str(value) -> str:
    try:
        return str(value)
    except Exception as exc:  # noqa: BLE001 - a __str__ that raises
        return f"<str() failed: {type(exc).__name__}>"


def decode_result(payload: bytes) -> Result:
    """The Result of `execute`'s or `encode_result`'s bytes (raises what unpickling raises;
    another message a zygote sends, pickled, is returned as it was sent)."""
    if payload[:1] == _MARSHALLED:
        return Result(*marshal.loads(memoryview(payload)[1:]))
    return pickle.loads(payload)
