"""Output jobs: callbacks that run in a forked worker and write files.

Invariant: an output job's fingerprint is the hash of its output files, computed
where the job ran. A failed output job leaves no partial output behind (removed, or
renamed `<file>.broken`), and never deletes files it does not declare.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import JobContractError, add_notes
from ..hashing import describe_function, file_stat, hash_file
from ..legacy.protocol import check_nothing_returned
from ..paths import return_to
from ..plumbing.host import call_job_code
from .base import Job, required_positional
from .invariants import FunctionInvariant, _multi_id


class FileGeneratingJob(Job):
    """Runs `function` in a worker to create `output_filename` (which is the job id).

    The callback takes no argument, or the output filename when it has a parameter
    without a default. It runs when the output is missing, empty (unless
    `empty_ok`), or any input changed.
    """

    __slots__ = ("filenames", "callback", "_pass_outputs", "rename_broken", "empty_ok")  # see Job

    def __init__(self, output_filename, function: Callable, rename_broken: bool = False,
                 empty_ok: bool = False):
        self._setup([self.job_id], function, rename_broken, empty_ok)

    def _setup(self, filenames: list[str], function, rename_broken, empty_ok) -> None:
        kind = type(self).__name__
        if not callable(function):
            raise ValueError(f"{kind} {self.job_id!r}: function was not a callable (got {function!r})")
        code = getattr(function, "__code__", function)
        if self._init_once(_signature(code, bool(rename_broken), bool(empty_ok), filenames, self.job_id)):
            self._check_same_function(self.callback, function)
            return
        arity = required_positional(function)
        if arity > 1:
            raise TypeError(
                f"{kind} {self.job_id!r}: the callback {describe_function(function)} takes "
                f"{arity} required arguments; it must take none or one (the output filename(s))."
            )
        self.filenames = filenames
        self.callback = function
        self._pass_outputs = arity == 1
        self.rename_broken = bool(rename_broken)
        self.empty_ok = bool(empty_ok)
        self._graph.claim_outputs(self)
        self._register()

    def auto_invariants(self) -> list[Job]:
        if self._ignore_code_changes:
            return []
        return [FunctionInvariant.of(self, self.callback)]

    def _callback_argument(self):
        return self.filenames[0]

    def run_in_worker(self) -> list[tuple[str, int, int, int]]:
        """Delete the old outputs, `run()`, return (name, mtime_ns, size, hash) per output.
        Runs in the worker. (`invalidated(reason)` was called in the master, by the rebuilder.)"""
        try:
            self.remove_old_outputs()
            check_nothing_returned(self.run())
        except BaseException as exc:
            add_notes(exc, self.remove_partial_outputs())
            if isinstance(exc, FileNotFoundError):
                hint_missing_directory(exc, self.filenames)
            raise
        return outputs_state(self.filenames)

    def invalidated(self, reason: str = "") -> None:
        """0.197's hook: the job is out of date; its outputs are removed."""
        Job.invalidated(self, reason)
        self.remove_old_outputs()

    def remove_old_outputs(self) -> None:
        """Before a rerun: the outputs go, so a callback that appends starts from nothing.
        (A missing output is asked about, not unlinked: the exception a failed unlink raises
        costs a job's fresh process more copied pages than the job's own work.)"""
        for name in self.filenames:
            if not os.access(name, os.F_OK, follow_symlinks=False):
                continue
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                raise JobContractError(
                    f"{type(self).__name__} {self.job_id!r}: the output {name} is a directory; "
                    "output jobs write files. Move the directory away (the pipeline does not delete it)."
                ) from None

    def run(self) -> None:
        """Call the callback (its return value is ignored) and check that every output
        exists, and is not empty unless `empty_ok`."""
        home = os.getcwd()
        try:
            if self._pass_outputs:
                call_job_code(self.callback, self._callback_argument())
            else:
                call_job_code(self.callback)
        finally:
            return_to(home)  # a callback's chdir: the outputs are still the project's files
        missing = [name for name in self.filenames if not os.path.exists(name)]
        if missing:
            raise JobContractError(
                f"{type(self).__name__} {self.job_id!r} did not create its file(s) "
                f"{', '.join(missing)}. The callback must write every declared output."
            )
        if not self.empty_ok:
            empty = [name for name in self.filenames if os.path.getsize(name) == 0]
            if empty:
                raise JobContractError(
                    f"{type(self).__name__} {self.job_id!r} did not create its file(s) "
                    f"{', '.join(empty)} with content: the output is empty. Pass empty_ok=True "
                    "when an empty file is a valid result."
                )

    def remove_partial_outputs(self) -> list[str]:
        """Remove (or rename to .broken) whatever outputs exist after a failure; what could
        not be done, in words. A partial output never stays under its own name: one that
        cannot be renamed is removed. A directory in an output's place is not the job's
        output and is left alone."""
        problems = []
        for name in self.filenames:
            if not os.path.lexists(name) or (os.path.isdir(name) and not os.path.islink(name)):
                continue  # a dangling link is a partial output too
            if self.rename_broken:
                try:
                    os.replace(name, name + ".broken")
                    continue
                except OSError as exc:
                    why = "it is a directory" if os.path.isdir(name + ".broken") else exc.strerror
                    problems.append(f"the partial output {name} could not be renamed to {name}.broken "
                                    f"({why}), so it was removed")
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                problems.append(f"the partial output {name} could not be removed ({exc.strerror})")
        return problems


_signatures: dict = {}  # (id of the code, flags) -> one signature tuple every such job shares


def _signature(code, rename_broken: bool, empty_ok: bool, filenames: list[str], job_id: str) -> tuple:
    """What defines an output job (a redefinition must repeat it). A job whose only output
    is its id (most of them) shares the tuple with every job of the same callback code."""
    if len(filenames) != 1 or filenames[0] != job_id:
        return code, rename_broken, empty_ok, tuple(filenames)
    key = id(code), rename_broken, empty_ok
    shared = _signatures.get(key)
    if shared is None or shared[0] is not code:
        shared = _signatures[key] = (code, rename_broken, empty_ok, ())
    return shared


def hint_missing_directory(exc: FileNotFoundError, filenames: list[str]) -> None:
    """An output's directory does not exist: say so in the error (0.197 did not create
    output directories either; the job fails, now with what to do)."""
    missing = sorted({d for d in (os.path.dirname(name) for name in filenames) if d and not os.path.isdir(d)})
    if missing and exc.strerror and len(exc.args) == 2 and "does not exist" not in exc.strerror:
        exc.strerror += (f" (the output directory {', '.join(missing)} does not exist; pypipegraph does not "
                         "create output directories: create it before ppg.run_pipegraph(), e.g. "
                         f"os.makedirs({missing[0]!r}, exist_ok=True))")
        exc.args = (exc.errno, exc.strerror)  # what travels to the master when pickled


class MultiFileGeneratingJob(FileGeneratingJob):
    """Like FileGeneratingJob with several outputs (id: the sorted names joined by ':').

    The callback receives the list of filenames when it has a required parameter.
    """

    def __new__(cls, filenames, *args, **kwargs):
        return Job.__new__(cls, _output_id(filenames, cls.__name__))

    def __init__(self, filenames, function: Callable, rename_broken: bool = False,
                 empty_ok: bool = False, empty_files_ok: bool | None = None):
        if empty_files_ok is not None:
            empty_ok = empty_files_ok
        names = [str(f) for f in filenames]
        self._setup(names, function, rename_broken, empty_ok)

    def _callback_argument(self):
        return list(self.filenames)


def _output_id(filenames, cls_name: str) -> str:
    if isinstance(filenames, (str, bytes)):
        raise ValueError(
            f"{cls_name} takes a list of filenames, not the single string {filenames!r}; "
            "use FileGeneratingJob for one file."
        )
    if not hasattr(filenames, "__iter__"):
        raise TypeError("filenames was not iterable")  # 0.197's words; the id is unknown here
    return _multi_id(list(filenames), cls_name)


def outputs_state(filenames: list[str]) -> list[tuple[str, int, int, int]]:
    """(name, mtime_ns, size, content hash) of each file."""
    state = []
    for name in filenames:
        mtime, size = file_stat(name)
        state.append((name, mtime, size, hash_file(name)))
    return state


def remove_temp_files(job) -> None:
    """0.197's cleanup() of a temp job: remove its temporary files. The run removes them
    itself (temp_files.TempFiles); this is what `do_cleanup_if_was_never_run` calls."""
    for name in job.temp_filenames():
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


remove_temp_files.engine_cleanup = True  # the scheduler leaves temp files to TempFiles


class TempFileGeneratingJob(FileGeneratingJob):
    """A file that only its direct dependants need.

    Runs only when a dependant has to run; the file is removed once every direct
    dependant finished, and kept when one of them failed (so a rerun does not
    recompute it). Its fingerprint is that of its inputs.
    """

    lazy = True
    is_temp_job = True
    cleanup = remove_temp_files

    def temp_filenames(self) -> list[str]:
        return self.filenames


class MultiTempFileGeneratingJob(MultiFileGeneratingJob):
    """Several temporary files (see TempFileGeneratingJob)."""

    lazy = True
    is_temp_job = True
    cleanup = remove_temp_files

    def temp_filenames(self) -> list[str]:
        return self.filenames


class TempFilePlusGeneratingJob(FileGeneratingJob):
    """A temporary file plus a file that is kept (e.g. a log of how the temp file was made).

    The callback receives no argument, or the temp filename.
    """

    lazy = True
    is_temp_job = True
    cleanup = remove_temp_files

    def __init__(self, temp_filename, keep_filename, function: Callable, rename_broken: bool = False):
        keep = str(keep_filename)
        if keep == self.job_id:
            raise ValueError(f"TempFilePlusGeneratingJob {self.job_id!r}: keep_filename must differ from the temp file")
        self.keep_filename = keep
        self._setup([self.job_id, keep], function, rename_broken, False)

    def temp_filenames(self) -> list[str]:
        return [self.job_id]

    def change_description(self) -> str:
        if not os.path.exists(self.keep_filename):  # it reruns, and so do its dependants (0.197)
            return f"{self.job_id}: its kept file {self.keep_filename} is missing"
        return Job.change_description(self)

    def change_summary(self, old, extra, source) -> str:
        if not os.path.exists(self.keep_filename):
            return f"an input from {self.rule}: its kept file is missing"
        return Job.change_summary(self, old, extra, source)

    def remove_old_outputs(self) -> None:
        """Only the temp file is removed before a rerun: the keep file (a log) is the
        callback's to append to, as in 0.197."""
        try:
            os.unlink(self.job_id)
        except FileNotFoundError:
            pass
