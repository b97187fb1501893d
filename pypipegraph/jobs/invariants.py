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
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import state
from ..errors import JobContractError, add_note
from ..hashing import (
    PYTHON_VERSION,
    combine,
    describe_function,
    file_stat,
    function_dependencies,
    function_fingerprint,
    function_source,
    hash_file,
    hash_value,
    uncounted_instance_values,
)
from ..legacy.values import (
    checksums_197,
    closure_text_197,
    compare_function_values_197,
    disassembly_197,
    function_value_197,
    hash_function_197,
    multi_file_value_197,
    renamed_checksums_197,
)
from ..paths import normalize_path
from ..store.values import Unverified, is_plain
from .base import Job, normalize_id, required_positional
from .invariant_records import (
    _describe_files_change,
    _function_state,
    _parameters_text,
    _stored_parameters,
    dependency_changes,
    parameters_change,
)


class _Invariant(Job):
    __slots__ = ()
    is_invariant = True
    runs_in = "master"

    def compute(self, old) -> tuple[int, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # (name, mtime_ns, size, name, ...) of the files as last fingerprinted: a flat tuple,
    # not a dict, as every file invariant of a run keeps one (see moved_since_check)
    _checked: tuple | None = None

    def kept_texts(self) -> dict[int, str]:
        """Texts (by hash) the store should keep for explaining changes later."""
        return {}

    def moved_since_check(self) -> bool:
        """Whether an input file's stat moved since `compute` fingerprinted it (a stat per
        file): a job that read it meanwhile may have read something else."""
        checked = self._checked or ()
        for i in range(0, len(checked), 3):
            if file_stat(checked[i]) != checked[i + 1:i + 3]:
                return True
        return False

    def describe_change(self, old, extra, source) -> list[str]:
        """Lines saying how this invariant changed since `old` (its record) to `extra`
        (its new state); `source(digest)` gives a text kept with `kept_texts`."""
        return [f"{self.job_id} changed"]


class FunctionInvariant(_Invariant):
    """Watches a function: byte code, constants, defaults and closure values.

    Line numbers and docstrings do not count; when only the byte code changed and
    the source did not (a Python upgrade), it counts as unchanged. The id is `job_id`
    as given (0.197: a job's own callback is `<job id>_func`). What counts in detail:
    docs/rerun-decisions.md ("Function fingerprints").
    """

    __slots__ = ("function", "fingerprint", "_kept")  # see Job

    def __init__(self, job_id, function: Callable, absolute_path=None):
        if function is not None and not callable(function):
            raise ValueError(
                f"FunctionInvariant {self.job_id!r}: function was not a callable (or None): {function!r}"
            )
        fingerprint = function_fingerprint(function) if function is not None else 0
        if self._init_once(fingerprint):  # the signature: the int kept as `fingerprint` anyway
            return
        self.function = function
        self.fingerprint = fingerprint
        self._kept = None  # texts of the last compute (a key from the start keeps __dict__ shared)
        self._register()
        warn_uncounted_instance(self.job_id, function)

    @staticmethod
    def id_of(job_id: str) -> str:
        """The id of the invariant watching job `job_id`'s own function (0.197's `<job id>_func`)."""
        return job_id + "_func"

    @classmethod
    def of(cls, job, function: Callable) -> FunctionInvariant:
        """The invariant watching `job`'s own `function` (its callback, calculation, ...)."""
        return cls(cls.id_of(job.job_id), function)

    def __str__(self) -> str:
        """As 0.197 wrote it: the id and the function's file and line (a builtin by name)."""
        function = getattr(self, "function", None)
        code = getattr(function, "__code__", None)
        if code is not None:
            return (f"{type(self).__name__} (job_id={self.job_id},id={id(self)}\n Function: "
                    f"{code.co_filename}:{code.co_firstlineno})")
        shown = function if function is not None and str(function).startswith("<built-in function") else None
        return f"{type(self).__name__} (job_id={self.job_id},id={id(self)}, Function: {shown})"

    def _init_once(self, signature):
        try:
            return super()._init_once(signature)
        except ValueError:
            raise JobContractError(
                f"FunctionInvariant {self.job_id!r} created twice with different functions "
                f"({describe_function(self.function)}). Give each function its own id."
            ) from None

    # 0.197's helpers, called directly by libraries (values as 0.197 stores them)
    @classmethod
    def _hash_function(cls, function: Callable) -> tuple[str, str, str]:
        return hash_function_197(function)

    @staticmethod
    def _compare_new_and_old(new_source: str, new_funchash: str, new_closure: str, old: Any) -> dict:
        return compare_function_values_197(new_source, new_funchash, new_closure, old)

    @staticmethod
    def extract_closure(function: Callable) -> str:
        return closure_text_197(function)

    @classmethod
    def dis_code(cls, code, function, version_info=None) -> str:
        return disassembly_197(code, function)

    def _get_invariant(self, old: Any, all_invariant_stati: Any) -> Any:
        """The value 0.197 stores for this function given the stored `old` (False the first
        time): {"source": ..., "(3, 11)": (disassembly, closure)}; raises NothingChanged(value)
        when `old` matches. The engine decides with `compute`; this is for libraries."""
        function = self.function
        if function is not None and not hasattr(function, "__code__") and not str(
                function).startswith("<built-in function"):
            raise ValueError(
                f"FunctionInvariant {self.job_id!r}: cannot compute pypipegraph 0.197's value of "
                f"{function!r}: it is neither a Python function nor a builtin."
            )
        return function_value_197(function, old)

    def compute(self, old):
        """The state kept: (fingerprint, source hash, Python version, dependencies hash); the
        source and the dependencies (function_dependencies, as JSON) are kept by hash in
        the store's texts, shared by every invariant of the same function."""
        fingerprint = self.fingerprint
        stored = old.extra if old is not None else None
        if type(stored) is tuple and len(stored) in (3, 4) and stored[0] == fingerprint:
            return old.fingerprint, stored  # unchanged (the common case, without a detour)
        old_state = _function_state(old)
        if old_state is not None and old_state[0] == fingerprint:
            return old.fingerprint, old.extra
        source = function_source(self.function) if self.function is not None else None
        source_hash = hash_value(source) if source is not None else None
        kept = self._kept = {}
        if source is not None:
            kept[source_hash] = source
        depends, texts = function_dependencies(self.function) if self.function is not None else ({}, {})
        depends_hash = 0
        if depends:
            text, depends_hash = _dependencies_text(depends)
            kept[depends_hash] = text
            kept.update(texts)
        extra = (fingerprint, source_hash, PYTHON_VERSION, depends_hash)
        if old_state is not None and source_hash is not None:
            _old_bytecode, old_source, old_python = old_state
            if old_source == source_hash and old_python != PYTHON_VERSION:
                return old.fingerprint, extra  # only the interpreter's byte code moved
        return fingerprint, extra

    def describe_change(self, old, extra, source) -> list[str]:
        """A diff of the function's source, before and now, and what changed among what it
        reads (a helper's source diff, a constant's old and new value, a package version)."""
        old_state = _function_state(old)
        before = source(old_state[1]) if old_state is not None else None
        after = function_source(self.function) if self.function is not None else None
        reads = [f"    {line}" for line in self._dependency_changes(old, extra, source, diffs=True)]
        if before is None or after is None:
            return [f"{self.job_id}: byte code changed (no source to compare)"] + reads
        if before == after:
            if reads:
                return [f"{self.job_id}: its source is unchanged; what it reads changed:"] + reads
            return [f"{self.job_id}: its source is unchanged; something it reads changed (a helper "
                    "function, a module-level constant, or an installed package's version)"]
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "now", lineterm="")
        return [f"{self.job_id}:"] + ["    " + line for line in diff] + reads

    def kept_texts(self) -> dict[int, str]:
        """The texts of the last `compute`, handed over once (the store keeps them)."""
        kept = self._kept
        self._kept = None
        return kept or {}

    def _dependency_changes(self, old, extra, source, diffs: bool) -> list[str]:
        if old is None or extra is None or len(extra) != 4 or self.function is None:
            return []
        now, texts = function_dependencies(self.function)
        return dependency_changes(old.extra, extra[3], now, lambda digest: texts.get(digest) or source(digest),
                                  source, diffs)

    def change_description(self) -> str:
        return f"function {describe_function(self.function)} changed"

    def change_summary(self, old, extra, source) -> str:
        """"function __main__.qc changed (constant PACE: 1 -> 2)": the function, and what
        changed among what it reads when its own source did not."""
        reads = self._dependency_changes(old, extra, source, diffs=False)
        if not reads:
            return self.change_description()
        shown = "; ".join(reads[:3]) + (f"; and {len(reads) - 3} more" if len(reads) > 3 else "")
        return f"{self.change_description()} ({shown})"


_texts: dict = {}  # id(dependencies) -> (dependencies, their text, its hash): one per function


def _dependencies_text(depends: dict) -> tuple[str, int]:
    kept = _texts.get(id(depends))
    if kept is None or kept[0] is not depends:
        text = json.dumps(sorted([name, *entry] for name, entry in depends.items()), separators=(",", ":"))
        if len(_texts) > 10000:
            _texts.clear()
        kept = _texts[id(depends)] = (depends, text, hash_value(text))
    return kept[1], kept[2]


class ParameterInvariant(_Invariant):
    """Parameters (any fingerprintable value); id 'PI' + job_id.

    `accept_as_unchanged_func(old_parameters)` (or `(old, new)`) may declare a change
    harmless by returning True.
    """

    id_prefix = "PI"

    _refused: TypeError | None = None  # why the parameters cannot be fingerprinted

    def __init__(self, job_id, parameters: Any, accept_as_unchanged_func: Callable | None = None):
        refused = None
        try:
            fingerprint = hash_value(parameters)
        except TypeError as exc:  # 0.197 accepted any value here and failed in the run
            fingerprint, refused = ("unfingerprintable", id(parameters)), exc
        if accept_as_unchanged_func is not None and not callable(accept_as_unchanged_func):
            raise TypeError(
                f"ParameterInvariant {self.job_id!r}: accept_as_unchanged_func must be callable"
            )
        if self._init_once(("PI", fingerprint)):
            if self.accept_as_unchanged_func is not accept_as_unchanged_func:
                raise ValueError(
                    f"ParameterInvariant {self.job_id!r} defined twice with different "
                    "accept_as_unchanged_func; pass the same function (one defined once, not a new lambda)."
                )
            return
        self.parameters = parameters
        self.fingerprint = fingerprint
        self._refused = refused
        self.accept_as_unchanged_func = accept_as_unchanged_func
        self._register()

    def compute(self, old):
        """The stored state is ("value", text, parameters) when the parameters are plain data
        (an accept_as_unchanged_func added later gets them back) or an
        accept_as_unchanged_func needs them (then other values are signed: store.values,
        never unpickled unverified); else ("repr", text). Parameters that cannot be
        fingerprinted end the run with the error pickling them raised (as in 0.197)."""
        if self._refused is not None:
            error = self._refused.__cause__ or self._refused
            add_note(error, f"ParameterInvariant {self.job_id!r}: {self._refused}")
            # 0.197 printed the id and the value it could not store (also when quiet)
            print(self.job_id, repr(self.parameters)[:500], sep="\n", flush=True)
            raise error
        text = repr(self.parameters)[:10000]
        if self.accept_as_unchanged_func is None and not is_plain(self.parameters):
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

    noun = "parameters"

    def change_summary(self, old, extra, source) -> str:
        """"parameters changed: 'min_q': 20 -> 30": what moved, the same for every job whose
        parameters moved alike (entries that did not change, a sample name, are left out)."""
        if getattr(self, "unverified", None):
            return f"{self.noun} changed (the stored ones could not be verified)"
        if old is None:
            return f"{self.noun} changed"
        return f"{self.noun} changed: {parameters_change(_parameters_text(old.extra), self.parameters)}"


class FileChecksumInvariant(_Invariant):
    """An input file. Content is hashed only when mtime or size moved, so a touch
    without a change of content does not invalidate anything."""

    __slots__ = ("filenames", "_checked")  # see Job

    def __init__(self, filename):
        if self._init_once(("file",)):
            return
        if len(self.job_id) < 3:
            raise ValueError(
                f"{type(self).__name__} {self.job_id!r}: This is probably not the filename you intend "
                "to use (file invariant ids must be at least 3 characters)."
            )
        self.filenames = [self.job_id]
        self._checked = None  # set by compute: a key from the start keeps __dict__ shared
        self._register()

    def compute(self, old):
        return _files_fingerprint(self.filenames, old, self)

    def describe_change(self, old, extra, source) -> list[str]:
        return _describe_files_change(old, extra)

    def change_description(self) -> str:
        return f"input file {self.job_id} changed"

    def change_summary(self, old, extra, source) -> str:
        return "an input file changed"

    moved_from = staticmethod(lambda old_extra, extra: _files_moved(old_extra, extra))


FileInvariant = FileChecksumInvariant
RobustFileChecksumInvariant = FileChecksumInvariant
FileTimeInvariant = FileChecksumInvariant


class MultiFileInvariant(_Invariant):
    """Several input files as one invariant (id: '_MFC_' + the sorted names joined by ':').

    Refuses a str, a non-iterable, duplicates, an empty list and missing files.
    """

    def __new__(cls, filenames, *args, **kwargs):
        if isinstance(filenames, (str, bytes)):
            raise TypeError(
                f"{cls.__name__} takes a list (or at least an iterable) of filenames, not the "
                f"single string {filenames!r}"
            )
        if not hasattr(filenames, "__iter__"):
            raise TypeError(f"{cls.__name__}: filenames was not iterable ({filenames!r}); pass a list of filenames")
        return super().__new__(cls, legacy_multi_id(filenames, cls.__name__))

    def __init__(self, filenames):
        names = sorted(normalize_id(f, "MultiFileInvariant") for f in filenames)
        if self._init_once(("files", tuple(names))):
            return
        missing = [name for name in names if not os.path.exists(name)]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: File did not exist: {', '.join(missing)}. Input files must "
                "exist when the invariant is defined."
            )
        self.filenames = names
        self._checked = None
        self._register()

    # 0.197's protocol, called directly by libraries (values as 0.197 stores them)
    def calc_checksums(self, old: Any) -> list[tuple]:
        """[(filename, mtime, size, md5)] as 0.197 stores; md5 reused when mtime and size match `old`."""
        return checksums_197(self.filenames, old)

    def find_matching_renamed(self, all_invariant_stati: Any) -> Any:
        """The stored value of a MultiFileInvariant over the same base names (files that
        moved), renamed to this one's paths; None when undecidable, False when there is none."""
        return renamed_checksums_197(self.job_id, self.filenames, all_invariant_stati)

    def _get_invariant(self, old: Any, all_invariant_stati: Any) -> Any:
        """0.197's value: the checksum list. Raises NothingChanged(checksums) the first time
        and when no md5 changed, returns the list when one did; with no `old`, a renamed
        invariant's value is looked for first."""
        if not old:
            old = self.find_matching_renamed(all_invariant_stati)
        return multi_file_value_197(self.calc_checksums(old), old)

    def compute(self, old):
        return _files_fingerprint(self.filenames, old, self)

    def describe_change(self, old, extra, source) -> list[str]:
        return _describe_files_change(old, extra)

    def change_description(self) -> str:
        return f"input files {', '.join(self.filenames)} changed"

    def change_summary(self, old, extra, source) -> str:
        return "input files changed"

    moved_from = staticmethod(lambda old_extra, extra: _files_moved(old_extra, extra))


def legacy_multi_id(filenames, cls_name: str = "MultiFileInvariant") -> str:
    """0.197's id of a MultiFileInvariant: '_MFC_' + the sorted names joined by ':'."""
    names = list(filenames)
    if len(set(map(str, names))) != len(names):
        raise ValueError(f"{cls_name}: Duplicated filenames in {names!r}; list each file once")
    if not names:
        raise ValueError(f"{cls_name}: filenames was empty; list at least one file")
    return "_MFC_" + _multi_id(names, cls_name)


def warn_uncounted_instance(job_id: str, function: Callable) -> None:
    """Warn once per class when a bound method's instance holds plain values that its
    fingerprint does not count (0.197's rule: the instance is ignored)."""
    if getattr(function, "__self__", None) is None:
        return  # not a bound method: no instance
    import warnings

    names = uncounted_instance_values(function)
    owner_type = type(getattr(function, "__self__", None))
    if not names or owner_type in _warned_classes:
        return
    _warned_classes.add(owner_type)
    warnings.warn(
        f"{job_id}: the callback is a bound method of {owner_type.__qualname__}; its attributes "
        f"{', '.join(names[:5])} do not count for reruns (the instance is not fingerprinted). "
        "Declare them with job.depends_on_params(...) if changing them must rerun the job.",
        UncountedValuesWarning,
        stacklevel=4,
    )


class UncountedValuesWarning(UserWarning):
    """A callback's instance holds values that do not make its job rerun."""


_warned_classes: set = set()


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
    invariant._checked = tuple(item for name in filenames for item in (name, *stats[name][:2]))
    if len(filenames) == 1:
        fingerprint = stats[filenames[0]][2]
    else:
        fingerprint = combine((name, stats[name][2]) for name in filenames)
    return fingerprint, stats


def _files_moved(old_stats: Any, stats: Any) -> bool:
    """Whether another file invariant's recorded state (`old_stats`) holds the same files,
    moved: other paths, the same basenames, sizes and content hashes (0.197's robust rule)."""
    if not isinstance(old_stats, dict) or not isinstance(stats, dict) or set(old_stats) == set(stats):
        return False

    def files(state: dict) -> list:
        return sorted((os.path.basename(name), entry[1], entry[2]) for name, entry in state.items())

    if len({os.path.basename(name) for name in stats}) != len(stats):
        return False  # base names not distinct: which file went where is unknown (as 0.197)
    return files(old_stats) == files(stats)


def job_or_filename(value: Any, invariant_class: Any = None) -> tuple[Any, list]:
    """For a job or a filename: (filename, dependencies to add).

    A job yields its first output file; a filename yields itself and the job that
    writes it (when one exists in the current graph), else `invariant_class(filename)`
    (default: a file checksum invariant). None yields (None, []).
    """
    if value is None:
        return None, []
    if isinstance(value, Job):
        return value.filenames[0], [value]
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a job or a filename, got {value!r}")
    graph = state.global_pipegraph
    if graph is not None and invariant_class is None:
        writer = graph.outputs.get(value)
        if writer is None:
            writer = graph.outputs.get(normalize_path(value))
        if writer is not None:
            return value, [writer]
    return value, [(invariant_class or FileInvariant)(value)]


def flatten_jobs(value: Any):
    """Yield the jobs of an arbitrarily nested iterable of jobs."""
    if isinstance(value, Job):
        yield value
        return
    for item in value:
        yield from flatten_jobs(item)
