"""Taking over a project directory built by pypipegraph 0.197.

Invariant: a 0.197 status file is read with an unpickler that only builds plain data
(the builtin containers, numbers, strings, bytes, paths): nothing in it can run code.
It is never written. Adoption happens only into an empty store of ours, and a job is
adopted only when 0.197 would not rerun it: its outputs exist and every invariant
upstream of it still has the value 0.197 recorded (functions, parameters, file
checksums, files that merely moved). Everything else runs as if new.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from typing import Any

from ..errors import NothingChanged, PyPipeGraphError
from ..hashing import file_stat
from ..jobs.base import Job
from ..jobs.invariants import (
    FileChecksumInvariant,
    FunctionInvariant,
    MultiFileInvariant,
    ParameterInvariant,
    legacy_multi_id,
)
from .values import checksums_equal, file_checksum_197, function_value_197

_SAFE = {
    ("builtins", name)
    for name in ("tuple", "list", "dict", "set", "frozenset", "str", "bytes", "bytearray", "int",
                 "float", "complex", "bool", "range", "slice")
} | {("collections", "OrderedDict"), ("pathlib", "PosixPath"), ("pathlib", "Path"),
     ("pathlib", "PurePosixPath"), ("_codecs", "encode"), ("copy_reg", "_reconstructor"),
     ("datetime", "datetime"), ("datetime", "date")}


class _Unreadable:
    """Stands for a value whose type 0.197 could write but we refuse to build."""

    def __init__(self, what: str):
        self.what = what

    def __eq__(self, other):
        return False

    __hash__ = None

    def __repr__(self):
        return f"<unreadable {self.what}>"


class _Refused(pickle.UnpicklingError):
    """A class or function the data-only unpickler does not build."""


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE:
            return super().find_class(module, name)
        raise _Refused(f"{module}.{name}")


def read_status_file(filename: str, issues: dict | None = None) -> dict:
    """job id -> stored value of a 0.197 status file (a sequence of pickled key, value).

    A value of a type outside plain data becomes an `_Unreadable` (compares unequal, so
    its job reruns). As in 0.197, a value that cannot be unpickled is noted in `issues`
    (key -> exception; the run reruns its dependants and then raises ppg.RuntimeError),
    and a key that cannot be unpickled, or a damaged value that cannot be skipped, raises
    PyPipeGraphError: nothing runs.
    """
    result: dict = {}
    with open(filename, "rb") as fh:
        data = fh.read()
    stream = io.BytesIO(data)
    while True:
        try:
            key = _DataOnly(stream).load()
        except EOFError:
            break
        except Exception as exc:  # noqa: BLE001 - any damage: the file cannot be trusted
            raise _damaged(filename, f"a key could not be unpickled ({exc})") from None
        start = stream.tell()
        try:
            value = _DataOnly(stream).load()
        except EOFError:
            break
        except Exception as exc:  # noqa: BLE001 - noted, its dependants rerun
            value = _Unreadable(str(exc))
            if not isinstance(exc, _Refused) and issues is not None:
                issues[key] = exc
            stream.seek(start)
            if not _skip_one_pickle(stream):
                raise _damaged(filename, f"the value of {key!r} could not be unpickled nor "
                                         f"skipped ({exc})") from None
        if isinstance(key, str):
            result[key] = value
    return result


def _damaged(filename: str, what: str) -> PyPipeGraphError:
    return PyPipeGraphError(
        f"Could not read pypipegraph 0.197's status file {filename}: {what}. Nothing was run. "
        "Move the file away to start without it (the jobs whose outputs exist are then judged "
        "by this version's rules)."
    )


def _skip_one_pickle(stream: io.BytesIO) -> bool:
    """Move past one pickle without building it (pickletools only parses)."""
    import pickletools

    try:
        for opcode, _arg, _pos in pickletools.genops(stream):
            if opcode.name == "STOP":
                return True
    except Exception:
        return False
    return False


def is_legacy_pickle(path: str) -> bool:
    """True for a 0.197-style status file (pickles), False for our SQLite store or nothing."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head[:1] == b"\x80" and not head.startswith(b"SQLite format 3")


LEGACY_SUFFIX = ".ppg197"


def legacy_status_file(store_path: str) -> str | None:
    """The 0.197 status file to adopt from, making room for our store when needed.

    0.197 wrote `.pypipegraph_status_robust` (our store's name) when the script was
    started by a path, else `.ppg_status_<script>`. A pickle at our store's path is moved
    aside unchanged to `<store>.ppg197` (one line says so); the other is left where it is.
    """
    if is_legacy_pickle(store_path):
        aside = store_path + LEGACY_SUFFIX
        os.replace(store_path, aside)
        print(f"pypipegraph: {store_path} was written by pypipegraph 0.197; moved it to {aside} "
              "(unchanged) to put this version's store in its place.")
        return aside
    candidates = [store_path + LEGACY_SUFFIX]
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script:
        candidates.append(os.path.join(os.path.dirname(store_path) or ".", ".ppg_status_" + script))
    for candidate in candidates:
        if is_legacy_pickle(candidate):
            return candidate
    return None


def adopt_legacy_status(graph, jobs: list, store, rebuilder) -> int:
    """Have `rebuilder` record the jobs 0.197 would consider up to date; how many outputs.

    Only into an empty store, and only when a 0.197 status file is present.
    """
    if store.record_count():
        return 0
    source = getattr(graph, "legacy_status_source", None)
    if source is None:
        return 0
    issues = graph.invariant_loading_issues
    adopted = up_to_date_197(jobs, read_status_file(source, issues))
    n_out = rebuilder.adopt(jobs, adopted)
    print(f"pypipegraph: adopted {n_out} up-to-date job(s) and {len(adopted) - n_out} invariant(s) "
          f"and loader(s) from pypipegraph 0.197's {source} (left unchanged); the rest runs.")
    return n_out


def up_to_date_197(jobs: list, old: dict) -> set:
    """The jobs (in topological order) 0.197 would not rerun, given its stored values."""
    fresh: set = set()
    for job in jobs:
        if job.is_invariant:
            ok = _invariant_holds(job, old)
        elif getattr(job, "generates_jobs", False) or getattr(job, "is_final", False) or job.always_runs:
            ok = False
        elif job.lazy:
            ok = all(up in fresh for up in job.prerequisites)
        else:
            # 0.197 keeps no record of an output job itself: done = outputs present and
            # nothing upstream (its own function invariant included) changed
            ok = (
                all(up in fresh for up in job.prerequisites)
                and all(_output_present(job, name) for name in job.output_names())
            )
        if ok:
            fresh.add(job)
    return fresh


def _output_present(job, name: str) -> bool:
    st = file_stat(name)
    return st is not None and (st[1] > 0 or job.empty_ok)


def _invariant_holds(job, old: dict) -> bool:  # noqa: C901 - one case per invariant kind
    try:
        if "compute" in type(job).__dict__ or type(job).compute is Job._compute_via_get_invariant:
            if type(job).compute is Job._compute_via_get_invariant:
                stored = old.get(job.job_id, False)
                try:
                    value = job.get_invariant(stored, old)
                except NothingChanged:
                    return job.job_id in old
                return job.job_id in old and value == stored
        if isinstance(job, FunctionInvariant):
            if job.job_id not in old:
                return False
            try:
                function_value_197(job.function, old[job.job_id])
            except NothingChanged:
                return True
            return False
        if isinstance(job, ParameterInvariant):
            if job.job_id not in old:
                return False
            stored = old[job.job_id]
            accept = job.accept_as_unchanged_func
            return stored == job.parameters or bool(accept is not None and accept(stored))
        if isinstance(job, MultiFileInvariant):
            return _files_hold(job.filenames, old.get(legacy_multi_id(job.filenames)), old)
        if isinstance(job, FileChecksumInvariant):
            value = old.get(job.job_id)
            return _files_hold([job.job_id], [(job.job_id,) + tuple(value)] if isinstance(value, tuple)
                               and len(value) == 3 else None, old)
    except Exception:  # noqa: BLE001 - anything odd: not adopted, the job reruns
        return False
    return False


def _files_hold(filenames: list, stored: Any, old: dict) -> bool:
    """Every file has the checksum recorded for it (here, or under its basename elsewhere:
    a file that moved with unchanged content)."""
    by_name = {entry[0]: entry for entry in stored} if isinstance(stored, list) else {}
    for name in filenames:
        if not os.path.exists(name):
            return False
        checksum = file_checksum_197(name)
        entry = by_name.get(name)
        if entry is not None:
            if not checksums_equal(entry[3], checksum):
                return False
            continue
        if not _moved_match(name, checksum, old):
            return False
    return True


def _moved_match(name: str, checksum: Any, old: dict) -> bool:
    base = os.path.basename(name)
    size = os.stat(name).st_size
    for key, value in old.items():
        if os.path.basename(key) == base and isinstance(value, tuple) and len(value) == 3:
            if value[1] == size and checksums_equal(value[2], checksum):
                return True
    return False


