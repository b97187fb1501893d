"""A set of files by pattern: depend on every file matching a glob, whoever made it.

Invariant: a FileSetJob runs on every run, after every job of the graph that writes a
file matching its pattern (found just before the run) and any `produced_by` jobs; it
writes a manifest (one `hash<TAB>name` line per member, sorted by name). Its dependants
see the manifest's hash, so they rerun exactly when a member was added, removed or
changed in content, and not when the same files were merely rewritten.
"""

from __future__ import annotations

import fnmatch
import glob
import os

from ..hashing import hash_file
from ..paths import job_log_dir
from ..plumbing.safe_files import write_file
from .base import Job
from .output import FileGeneratingJob


class FileSetJob(FileGeneratingJob):
    """Every file matching `pattern` (a glob; `**` spans directories) as one input.

        >>> parts = ppg.FileSetJob("out/parts/*.tsv")               # doctest: +SKIP
        >>> ppg.FileGeneratingJob("out/all.tsv", merge).depends_on(parts)
        >>> # in merge: for name in parts.files(): ...
    """

    id_prefix = "FS:"
    always_runs = True

    def __new__(cls, pattern, *args, **kwargs):
        if not isinstance(pattern, (str, os.PathLike)) or not os.fspath(pattern):
            raise TypeError(f"FileSetJob: pattern must be a glob (str), got {pattern!r:.100}")
        return Job.__new__(cls, os.path.normpath(os.fspath(pattern)))

    def __init__(self, pattern, produced_by=None):
        self.pattern = self.job_id[len(self.id_prefix):]
        cache = self._graph.cache_folder
        manifest = job_log_dir(self.pattern, os.path.join(cache, "filesets")) + ".tsv"
        if self.__dict__.get("_signature") is None:
            self._setup([manifest], self._scan, False, True)
            self.depends_on(self._producers)
        if produced_by is not None:
            self.depends_on(produced_by)

    def _producers(self) -> list[Job]:
        """The jobs of the graph that write a file matching the pattern (just before the run)."""
        return [job for name, job in list(self._graph.outputs.items())
                if job is not self and fnmatch.fnmatchcase(os.path.normpath(name), self.pattern)]

    def auto_invariants(self) -> list[Job]:
        return []  # the scan is the engine's code, not the user's

    def _scan(self, manifest: str) -> None:
        names = sorted(name for name in glob.glob(self.pattern, recursive=True)
                       if os.path.isfile(name) and os.path.abspath(name) != os.path.abspath(manifest))
        os.makedirs(os.path.dirname(manifest), exist_ok=True)
        write_file(manifest, "".join(f"{hash_file(name):016x}\t{name}\n" for name in names))
        print(f"{self.job_id}: {len(names)} file(s)")

    def files(self) -> list[str]:
        """The members, sorted, as of this run's scan (for the jobs that depend on the set)."""
        with open(self.filenames[0]) as fh:
            return [line.rstrip("\n").split("\t", 1)[1] for line in fh if "\t" in line]
