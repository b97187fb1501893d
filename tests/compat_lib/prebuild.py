"""Job classes written the way the mbf_* libraries subclass pypipegraph 0.197's jobs.

`PrebuildJob` (as mbf_externals' base of every external tool) builds files under a
directory, chooses its own implicit invariant by overriding `inject_auto_invariants`
(a function invariant that also keeps the function's source in a file beside the
outputs) and refuses any dependency that is not one of its own prebuild invariants.
`QCCollector` (as mbf_qualitycontrol's QCCollectingJob) is one output that several
callers add to: its constructor runs again on the existing object and asks
`pypipegraph.job.was_inited_before` whether to set it up. test_prebuild.py runs them
under both engines.
"""

from __future__ import annotations

from pathlib import Path

import pypipegraph as ppg
import pypipegraph.job


class PrebuildFunctionInvariant(ppg.FunctionInvariant):
    """A function invariant whose id is a file keeping the function's source: an equal
    source is no change (NothingChanged), another one is (and is written there)."""

    is_prebuild = True

    def _get_invariant(self, old, all_invariant_stati):
        source, funchash, closure = self._hash_function(self.function)
        new = self._compare_new_and_old(source, funchash, closure, False)
        stored = Path(self.job_id)
        if stored.exists() and stored.read_text() == source:
            raise ppg.NothingChanged(new)
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(source)
        return new


class PrebuildParameters(ppg.ParameterInvariant):
    """Parameters a prebuild depends on."""

    is_prebuild = True


class PrebuildJob(ppg.MultiFileGeneratingJob):
    """Files `output_files` under `output_path`, made by `calc_function(output_path)`."""

    def __new__(cls, output_files, calc_function, output_path):
        return ppg.MultiFileGeneratingJob.__new__(cls, cls._files(output_files, output_path))

    def __init__(self, output_files, calc_function, output_path):
        self.output_path = Path(output_path)
        self.calc_function = calc_function
        ppg.MultiFileGeneratingJob.__init__(self, self._files(output_files, output_path), self._build)

    @staticmethod
    def _files(output_files, output_path):
        return [str(Path(output_path) / name) for name in output_files]

    def _build(self):
        self.output_path.mkdir(parents=True, exist_ok=True)
        self.calc_function(self.output_path)

    def depends_on_func(self, name, func):
        job = PrebuildFunctionInvariant(str(self.output_path / (name + ".source")), func)
        self.depends_on(job)
        return job

    def depends_on_params(self, params):
        job = PrebuildParameters(self.job_id, params)
        self.depends_on(job)
        return job

    def depends_on(self, *jobs):
        for job in ppg.util.flatten_jobs(jobs):
            if not getattr(job, "is_prebuild", False):
                raise ppg.JobContractError(f"{self.job_id} depended on a non-prebuild dependency {job.job_id}")
            ppg.MultiFileGeneratingJob.depends_on(self, job)
        return self

    def inject_auto_invariants(self):
        if not self.do_ignore_code_changes:
            self.depends_on_func("build_func", self.calc_function)


class QCCollector(ppg.FileGeneratingJob):
    """One report of the names every caller added: `QCCollector(path, render).add(name)`."""

    def __init__(self, output_filename, render):
        if pypipegraph.job.was_inited_before(self, QCCollector):
            return
        self.names = []
        self.render = render
        ppg.FileGeneratingJob.__init__(self, output_filename, self._write)

    def _write(self):
        Path(self.job_id).write_text(self.render(self.names))

    def add(self, name):
        self.names.append(name)
        return self
