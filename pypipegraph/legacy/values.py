"""Invariant values as pypipegraph 0.197 computes and stores them.

Invariant: every function here returns exactly the value 0.197 stores for the same
input (so a 0.197 status file can be compared with the current state), and nothing
here reads or writes our own store. Used by the 0.197-style methods libraries call
(`FunctionInvariant._hash_function`, `_compare_new_and_old`, `get_invariant`,
`MultiFileInvariant.calc_checksums`, `find_matching_renamed`, `get_invariant`) and by `legacy_store` when a 0.197 project directory is adopted.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import io
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from typing import Any

from ..errors import NothingChanged

_PY_KEY = str(sys.version_info[:2])
# A nested code object as dis prints it (its address changes every run): 0.197 writes
# "lambda" in its place. Tabs or spaces separate the words (the rows are re-joined).
_CODE_OBJECT = re.compile(r"<code\sobject\s<?[^>]+>?\sat\s0x[a-f0-9]+[^>]+")


def function_source_197(function: Callable) -> str:
    """The function's source without its `def name` and docstring (0.197's 'source')."""
    text = inspect.getsource(function).strip()
    if text.startswith("def"):
        text = text[text.index("("):]
    doc = function.__doc__
    if doc:
        for quote in ('"""', "'''", '"', "'"):
            quoted = quote + doc + quote
            if quoted in text:
                text = text.replace(quoted, "")
    return text


def disassembly_197(code: types.CodeType, function: Callable | None) -> str:
    """dis output without line numbers/offset column, nested code objects as 'lambda'
    and the function's own qualname blanked (0.197's 'funchash')."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        dis.dis(code)
    rows = ["\t".join(row.split()[1:]) for row in buffer.getvalue().split("\n")]
    text = _CODE_OBJECT.sub("lambda", "\n".join(rows))
    qualname = getattr(function, "__qualname__", None) if function is not None else None
    if qualname:
        text = text.replace(qualname, "<func name ommited>")
    return text


def closure_text_197(function: Callable) -> str:
    """The closure values 0.197 counts: not `self`, functions or modules; dicts and sets
    sorted; reprs cut before ' at 0x' (a plain object counts by its class)."""
    closure = getattr(function, "__closure__", None)
    if not closure:
        return ""
    parts = []
    for name, cell in zip(function.__code__.co_freevars, closure, strict=True):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if name == "self" or hasattr(value, "__code__") or isinstance(value, types.ModuleType):
            continue
        if isinstance(value, dict):
            text = repr(sorted(value.items()))
        elif isinstance(value, (set, frozenset)):
            text = repr(sorted(value))
        else:
            text = repr(value)
        if "at 0x" in text:
            text = text[: text.index("at 0x")]
        parts.append("\n" + text)
    return "".join(parts)


def hash_function_197(function: Callable) -> tuple[str, str, str]:
    """(source, disassembly, closure) of a Python function, as 0.197's _hash_function."""
    source = function_source_197(function)
    return source, disassembly_197(function.__code__, function), closure_text_197(function)


def compare_function_values_197(new_source: str, new_funchash: str, new_closure: str, old: Any) -> dict:
    """The value to store for a function; raises NothingChanged(value) when `old` (any of
    0.197's three stored formats) matches on the source or this Python's byte code."""
    new = {"source": new_source, _PY_KEY: (new_funchash, new_closure)}
    if old is False or old is None:
        return new
    if isinstance(old, tuple):
        old = {_PY_KEY: (old[2], old[3])}
    elif isinstance(old, str):
        old = {"old": old}
        new["old"] = new_funchash + new_closure
    elif not isinstance(old, dict):
        raise ValueError(f"Could not understand old FunctionInvariant value of type {type(old).__name__}: {old!r:.200}")
    unchanged = any(key != "_version" and new[key] == old[key] for key in new.keys() & old.keys())
    merged = {**old, **new, "_version": 3}
    merged.pop("old", None)
    if unchanged:
        raise NothingChanged(merged)
    return merged


def function_value_197(function: Callable | None, old: Any = False) -> Any:
    """What 0.197 stores for FunctionInvariant(function) given the stored `old`."""
    if function is None:
        return None
    if not hasattr(function, "__code__"):
        return str(function)
    return compare_function_values_197(*hash_function_197(function), old)


def file_checksum_197(filename: str) -> Any:
    """md5 hex of a file; a `<file>.md5sum` beside it is used when its mtime matches the
    file's (bytes, as 0.197 reads it), else recomputed and written back."""
    md5_file = filename + ".md5sum"
    if os.path.exists(md5_file):
        mtime = int(os.stat(filename).st_mtime)
        if int(os.stat(md5_file).st_mtime) == mtime:
            with open(md5_file, "rb") as fh:
                return fh.read()
        checksum = checksum_file(filename)
        with open(md5_file, "wb") as fh:
            fh.write(checksum.encode("utf-8"))
        os.utime(md5_file, (mtime, mtime))
        return checksum
    return checksum_file(filename)


def file_value_197(filename: str) -> tuple:
    """(mtime in whole seconds, size, md5) as 0.197's file invariants store."""
    st = os.stat(filename)
    return int(st.st_mtime), st.st_size, file_checksum_197(filename)


def checksums_197(filenames: list[str], old: Any) -> list[tuple]:
    """[(filename, mtime, size, md5)] of the files as 0.197's MultiFileInvariant stores them;
    an md5 in `old` is reused when the file's mtime and size match."""
    previous = {entry[0]: entry[1:] for entry in old} if old else {}
    result = []
    for name in filenames:
        st = os.stat(name)
        known = previous.get(name)
        if known is not None and known[0] == int(st.st_mtime) and known[1] == st.st_size:
            result.append((name, known[0], known[1], known[2]))
        else:
            result.append((name,) + file_value_197(name))
    return result


def _base_names(multi_id: str) -> list[str]:
    """The base names of the files in a MultiFileInvariant's id, in the id's order."""
    return [os.path.basename(name) for name in multi_id[len("_MFC_"):].split(":")]


def renamed_checksums_197(job_id: str, filenames: list[str], all_invariant_stati: Any) -> Any:
    """0.197's rename lookup for MultiFileInvariant `job_id`: the value stored for another one
    over the same base names (files that moved), renamed to `filenames`; None when
    undecidable (base names not distinct, or another one's are a subset or superset of
    these), False when there is none."""
    mine = {os.path.basename(name): name for name in filenames}
    if len(mine) != len(filenames):
        return None
    order = [os.path.basename(name) for name in filenames]
    others = [key for key in all_invariant_stati if key.startswith("_MFC_") and key != job_id]
    for key in others:
        old = all_invariant_stati[key]
        if _base_names(key) == order and old is not False:
            return [(mine[os.path.basename(entry[0])],) + tuple(entry[1:]) for entry in old or ()]
    for key in others:
        theirs = set(_base_names(key))
        if theirs and (theirs <= set(mine) or theirs >= set(mine)):
            return None
    return False


def multi_file_value_197(checksums: list[tuple], old: Any) -> list[tuple]:
    """0.197's MultiFileInvariant value given the stored (or renamed) `old`: `checksums` when
    `old` is None or an md5 changed; NothingChanged(checksums) when `old` is False (first
    use) or no md5 changed."""
    if old is None:
        return checksums
    if old is False:
        raise NothingChanged(checksums)
    before = {entry[0]: entry[3] for entry in old}
    for name, _mtime, _size, md5 in checksums:
        if name not in before or not checksums_equal(before[name], md5):
            return checksums
    raise NothingChanged(checksums)


def checksums_equal(a: Any, b: Any) -> bool:
    """md5 values compare equal whether stored as str or as bytes (from a .md5sum file)."""
    if isinstance(a, bytes):
        a = a.decode("utf-8", "replace")
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    return a == b


class StoredValues(Mapping):
    """job id -> the 0.197-style value recorded for that job in our store (read lazily).

    Passed to a library's `_get_invariant(old, all_invariant_stati)` as the second argument.
    """

    def __init__(self, store):
        self._store = store

    def _value(self, key: str) -> Any:
        record = self._store.get(key) if self._store is not None else None
        if record is None:
            raise KeyError(key)
        extra = record.extra
        if isinstance(extra, tuple) and len(extra) == 2 and extra[0] == "v197":
            return extra[1]
        if isinstance(extra, dict) and extra and all(isinstance(v, tuple) and len(v) == 3 for v in extra.values()):
            if len(extra) == 1:  # one input file: (mtime_ns, size, xxh3) -> 0.197's triple shape
                (mtime, size, digest), = extra.values()
                return (mtime // 10**9, size, digest)
            return [(name, mtime // 10**9, size, digest) for name, (mtime, size, digest) in sorted(extra.items())]
        return False

    def __getitem__(self, key: str) -> Any:
        return self._value(key)

    def __iter__(self):
        return iter(list(self._store.keys()) if self._store is not None else [])

    def __len__(self) -> int:
        return self._store.record_count() if self._store is not None else 0


def stored_values(graph) -> StoredValues:
    """The mapping of recorded values for the graph's current run (empty outside a run)."""
    return StoredValues(getattr(graph, "store", None))


def checksum_file(filename: str) -> str:
    """Hex md5 of a file's content (the checksum 0.197 stores and libraries write)."""
    digest = hashlib.md5()
    with open(filename, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
