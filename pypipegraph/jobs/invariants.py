"""Invariants: jobs checked in the master whose fingerprint invalidates dependants.

Invariant: an invariant never runs and never depends on anything. `compute(old)`
takes its stored record (or None) and returns (fingerprint, extra); returning the old
fingerprint means "unchanged" even when the raw value moved (a touched file, an
accepted parameter change, byte code changed only by a Python upgrade).
"""

from __future__ import annotations

import pickle
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
from .base import Job, normalize_id, required_positional


class _Invariant(Job):
    is_invariant = True
    runs_in = "master"

    def compute(self, old) -> tuple[int, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def kept_texts(self) -> dict[int, str]:
        """Texts (by hash) the store should keep for explaining changes later."""
        return {}


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
        if old is not None and old.extra and old.extra[0] == fingerprint:
            return old.fingerprint, old.extra
        source = function_source(self.function) if self.function is not None else None
        source_hash = hash_value(source) if source is not None else None
        if source is not None:
            self._kept = {source_hash: source}
        extra = (fingerprint, source_hash, PYTHON_VERSION)
        if (
            old is not None
            and old.extra
            and source_hash is not None
            and old.extra[1] == source_hash
            and old.extra[2] != PYTHON_VERSION
        ):
            return old.fingerprint, extra  # only the interpreter's byte code moved
        return fingerprint, extra

    def kept_texts(self) -> dict[int, str]:
        return getattr(self, "_kept", {})

    def change_description(self) -> str:
        return f"function {describe_function(self.function)} changed"


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
        if self.accept_as_unchanged_func is not None:
            extra = ("pickle", pickle.dumps(self.parameters, protocol=4))
        else:
            extra = ("repr", repr(self.parameters)[:10000])
        if old is None or old.fingerprint == self.fingerprint:
            return self.fingerprint, extra
        if self.accept_as_unchanged_func is not None and old.extra and old.extra[0] == "pickle":
            old_params = pickle.loads(old.extra[1])
            func = self.accept_as_unchanged_func
            if required_positional(func) >= 2:
                accepted = func(old_params, self.parameters)
            else:
                accepted = func(old_params)
            if accepted:
                return old.fingerprint, extra
        return self.fingerprint, extra

    def change_description(self) -> str:
        return f"parameters {self.job_id} changed"


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
