"""Invariants: jobs checked in the master whose fingerprint invalidates dependants.

Invariant: an invariant never runs and never depends on anything. `compute(old)`
takes its stored record (or None) and returns (fingerprint, extra); returning the old
fingerprint means "unchanged" even when the raw value moved (a touched file, an
accepted parameter change, byte code changed only by a Python upgrade). `extra` is the
state the class keeps between runs; only the class reads it (in `compute` and in
`describe_change`, which words a change for `ppg why`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from ..hashing import (
    PYTHON_VERSION,
    combine,
    describe_function,
    file_stat,
    function_fingerprint,
    function_source,
    hash_file,
    hash_value,
)
from ..store_format import plain_unpickle
from ..store_values import Unverified
from .base import Job, normalize_id, required_positional


class _Invariant(Job):
    is_invariant = True
    runs_in = "master"

    def compute(self, old) -> tuple[int, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    _checked: list | None = None  # [(file name, (mtime_ns, size)), ...] as last fingerprinted

    def kept_texts(self) -> dict[int, str]:
        """Texts (by hash) the store should keep for explaining changes later."""
        return {}

    def moved_since_check(self) -> bool:
        """Whether an input file's stat moved since `compute` fingerprinted it (a stat per
        file): a job that read it meanwhile may have read something else."""
        for name, stat in self._checked or ():
            if file_stat(name) != stat:
                return True
        return False

    def describe_change(self, old, extra, source) -> list[str]:
        """Lines saying how this invariant changed since `old` (its record) to `extra`
        (its new state); `source(digest)` gives a text kept with `kept_texts`."""
        return [f"{self.job_id} changed"]


class FunctionInvariant(_Invariant):
    """Watches a function: byte code, constants, defaults and closure values.

    Line numbers and docstrings do not count; when only the byte code changed and
    the source did not (a Python upgrade), it counts as unchanged.
    """

    id_prefix = "FI"

    def __init__(self, job_id, function: Callable):
        if function is not None and not callable(function):
            raise TypeError(f"FunctionInvariant {self.job_id!r}: {function!r} is not callable")
        fingerprint = function_fingerprint(function) if function is not None else 0
        if self._init_once(("FI", fingerprint)):
            return
        self.function = function
        self.fingerprint = fingerprint
        self._register()

    def _init_once(self, signature):
        try:
            return super()._init_once(signature)
        except ValueError:
            raise ValueError(
                f"FunctionInvariant {self.job_id!r} was defined twice with different functions "
                f"({describe_function(self.function)}). Give each function its own id. "
                "(Bound methods of different instances count as different: pass Class.method.)"
            ) from None

    def compute(self, old):
        fingerprint = self.fingerprint
        old_state = _function_state(old)
        if old_state is not None and old_state[0] == fingerprint:
            return old.fingerprint, old.extra
        source = function_source(self.function) if self.function is not None else None
        source_hash = hash_value(source) if source is not None else None
        if source is not None:
            self._kept = {source_hash: source}
        extra = (fingerprint, source_hash, PYTHON_VERSION)
        if old_state is not None and source_hash is not None:
            _old_bytecode, old_source, old_python = old_state
            if old_source == source_hash and old_python != PYTHON_VERSION:
                return old.fingerprint, extra  # only the interpreter's byte code moved
        return fingerprint, extra

    def describe_change(self, old, extra, source) -> list[str]:
        """A diff of the function's source, before and now."""
        old_state = _function_state(old)
        before = source(old_state[1]) if old_state is not None else None
        after = function_source(self.function) if self.function is not None else None
        if before is None or after is None:
            return [f"{self.job_id}: byte code changed (no source to compare)"]
        if before == after:
            return [f"{self.job_id}: its source is unchanged; something it reads changed (a helper "
                    "function, a module-level constant, or an installed package's version)"]
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "now", lineterm="")
        return [f"{self.job_id}:"] + ["    " + line for line in diff]

    def kept_texts(self) -> dict[int, str]:
        return getattr(self, "_kept", {})

    def change_description(self) -> str:
        return f"function {describe_function(self.function)} changed"


def _function_state(old) -> tuple | None:
    """(byte code fingerprint, source hash, Python version) a FunctionInvariant stored."""
    if old is None or not old.extra or len(old.extra) != 3:
        return None
    return tuple(old.extra)


class ParameterInvariant(_Invariant):
    """Parameters (any fingerprintable value); id 'PI' + job_id.

    `accept_as_unchanged_func(old_parameters)` (or `(old, new)`) may declare a change
    harmless by returning True.
    """

    id_prefix = "PI"

    def __init__(self, job_id, parameters: Any, accept_as_unchanged_func: Callable | None = None):
        try:
            fingerprint = hash_value(parameters)
        except TypeError as exc:
            raise TypeError(f"ParameterInvariant {self.job_id!r}: {exc}") from None
        if accept_as_unchanged_func is not None and not callable(accept_as_unchanged_func):
            raise TypeError(
                f"ParameterInvariant {self.job_id!r}: accept_as_unchanged_func must be callable"
            )
        if self._init_once(("PI", fingerprint)):
            return
        self.parameters = parameters
        self.fingerprint = fingerprint
        self.accept_as_unchanged_func = accept_as_unchanged_func
        self._register()

    def compute(self, old):
        """The stored state is ("repr", text), or ("value", text, parameters) when an
        accept_as_unchanged_func needs the old parameters back: kept as data, or signed
        (store_values), never unpickled unverified."""
        text = repr(self.parameters)[:10000]
        if self.accept_as_unchanged_func is None:
            extra = ("repr", text)
        else:
            extra = ("value", text, self.parameters)
        self.unverified = None
        if old is None or old.fingerprint == self.fingerprint:
            kept = old.extra if old is not None else None
            if (extra[0] == "value" and type(kept) is tuple and kept[:2] == extra[:2]
                    and len(kept) == 3 and type(kept[2]) is not Unverified):
                return self.fingerprint, kept  # the same parameters, as stored: not signed again
            return self.fingerprint, extra
        if self.accept_as_unchanged_func is not None:
            old_params = _stored_parameters(old.extra)
            if type(old_params) is Unverified:
                self.unverified = old_params.why
                return self.fingerprint, extra
            func = self.accept_as_unchanged_func
            if required_positional(func) >= 2:
                accepted = func(old_params, self.parameters)
            else:
                accepted = func(old_params)
            if accepted:
                return old.fingerprint, extra
        return self.fingerprint, extra

    def change_description(self) -> str:
        if getattr(self, "unverified", None):
            return (f"parameters {self.job_id} changed (the stored parameters could not be "
                    f"verified: {self.unverified})")
        return f"parameters {self.job_id} changed"

    def describe_change(self, old, extra, source) -> list[str]:
        """Old and new parameters (the old ones as the text stored with them)."""
        return [f"{self.job_id}: {_parameters_text(old.extra)}  ->  {repr(self.parameters)[:500]}"]


def _stored_parameters(extra):
    """The parameters a ParameterInvariant stored (for accept_as_unchanged_func), or an
    Unverified saying why they cannot be had. Stores of earlier versions kept a pickle:
    read only if it holds plain builtin values."""
    how = extra[0] if type(extra) is tuple and extra else None
    if how == "value" and len(extra) == 3:
        return extra[2]
    if how == "pickle" and len(extra) == 2 and type(extra[1]) is bytes:
        try:
            return plain_unpickle(extra[1])
        except Exception as exc:  # noqa: BLE001 - refused, never run
            return Unverified(f"an earlier version's pickle that is not plain data ({exc})")
    return Unverified("no parameters were stored with it")


def _parameters_text(extra) -> str:
    """The parameters a ParameterInvariant stored, as the text stored with them."""
    if type(extra) is not tuple or len(extra) < 2:
        return "(unknown)"
    if extra[0] in ("repr", "value"):
        return str(extra[1])[:500]
    value = _stored_parameters(extra)  # an earlier version's pickle: plain values only
    return "(unreadable)" if type(value) is Unverified else repr(value)[:500]


class FileChecksumInvariant(_Invariant):
    """An input file. Content is hashed only when mtime or size moved, so a touch
    without a change of content does not invalidate anything."""

    def __init__(self, filename):
        if self._init_once(("file",)):
            return
        self.filenames = [self.job_id]
        self._register()

    def compute(self, old):
        return _files_fingerprint(self.filenames, old, self)

    def describe_change(self, old, extra, source) -> list[str]:
        return _describe_files_change(old, extra)

    def change_description(self) -> str:
        return f"input file {self.job_id} changed"


FileInvariant = FileChecksumInvariant
RobustFileChecksumInvariant = FileChecksumInvariant
FileTimeInvariant = FileChecksumInvariant


class MultiFileInvariant(_Invariant):
    """Several input files as one invariant (id: the sorted names joined by ':')."""

    def __new__(cls, filenames, *args, **kwargs):
        return super().__new__(cls, _multi_id(filenames, cls.__name__))

    def __init__(self, filenames):
        names = sorted(normalize_id(f, "MultiFileInvariant") for f in filenames)
        if self._init_once(("files",)):
            return
        self.filenames = names
        self._register()

    def compute(self, old):
        return _files_fingerprint(self.filenames, old, self)

    def describe_change(self, old, extra, source) -> list[str]:
        return _describe_files_change(old, extra)

    def change_description(self) -> str:
        return f"input files {', '.join(self.filenames)} changed"


def _multi_id(filenames, cls_name: str) -> str:
    if isinstance(filenames, (str, bytes)):
        raise ValueError(f"{cls_name} takes a list of filenames, not a single string {filenames!r}")
    try:
        names = [normalize_id(f, cls_name) for f in filenames]
    except TypeError:
        raise
    if not names:
        raise ValueError(f"{cls_name}: the list of filenames is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"{cls_name}: filenames listed twice in {names!r}")
    return ":".join(sorted(names))


def _files_fingerprint(filenames: list[str], old, invariant) -> tuple[int, Any]:
    """Fingerprint of files, reusing the stored hash of each file whose stat is unchanged."""
    old_stats = old.extra if old is not None and isinstance(old.extra, dict) else {}
    stats = {}
    checked = invariant._checked = []
    for name in filenames:
        st = file_stat(name)
        if st is None:
            users = sorted(job.job_id for job in invariant.dependants)
            needed = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
            raise FileNotFoundError(
                f"{type(invariant).__name__} {invariant.job_id!r}: input file {name} does not exist"
                + (f" (needed by {needed})" if users else "")
                + ". Create it before the run; if a job writes it, depend on that job."
            )
        checked.append((name, st))
        previous = old_stats.get(name)
        if previous is not None and previous[0] == st[0] and previous[1] == st[1]:
            stats[name] = previous
        else:
            stats[name] = (st[0], st[1], hash_file(name))
    if len(filenames) == 1:
        fingerprint = stats[filenames[0]][2]
    else:
        fingerprint = combine((name, stats[name][2]) for name in filenames)
    return fingerprint, stats


def _describe_files_change(old, stats: dict) -> list[str]:
    """Which files are new or have another content hash than in `old` (a file invariant's record)."""
    before = old.extra if isinstance(old.extra, dict) else {}
    lines = []
    for name, (_mtime, size, digest) in stats.items():
        previous = before.get(name)
        if previous is None:
            lines.append(f"{name}: new file")
        elif previous[2] != digest:
            lines.append(f"{name}: content changed (size {previous[1]} -> {size}, "
                         f"hash {previous[2]:016x} -> {digest:016x})")
    return lines
