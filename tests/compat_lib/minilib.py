"""A small library written the way the mbf_* libraries use pypipegraph 0.197.

It subclasses ppg.Job with a custom invariant (raising NothingChanged for changes that
do not matter), calls assert_uniqueness_of_object in its constructors, hashes its
parameters with util.freeze, builds jobs only when a pipegraph exists and computes
directly otherwise. tests/compat_lib/test_minilib.py runs it with both engines.
"""

from __future__ import annotations

from pathlib import Path

import pypipegraph as ppg


class ToolVersion(ppg.Job):
    """Invariant on a tool's version: a patch-level change is stored but reruns nothing."""

    def __new__(cls, name, version):
        return ppg.Job.__new__(cls, "TV_" + name)

    def __init__(self, name, version):
        self.version = version
        ppg.Job.__init__(self, "TV_" + name)

    def _get_invariant(self, old, all_invariant_stati):
        if old and old.split(".")[:2] == self.version.split(".")[:2]:
            raise ppg.NothingChanged(self.version)
        return self.version


class Genome:
    """A named genome; one per name and pipegraph."""

    def __init__(self, name: str, fasta: str, tool_version: str = "1.0.0"):
        self.name = name
        if ppg.inside_ppg():
            ppg.assert_uniqueness_of_object(self)
        self.fasta = fasta
        self.tool_version = tool_version
        self.result_dir = Path("results") / name
        self.result_dir.mkdir(parents=True, exist_ok=True)

    def _count(self) -> str:
        text = Path(self.fasta).read_text()
        return str(sum(1 for line in text.splitlines() if line.startswith(">")))

    def count_contigs(self):
        """results/<name>/contigs.txt: the number of sequences (a job inside a pipegraph)."""
        output = self.result_dir / "contigs.txt"
        if not ppg.inside_ppg():
            output.write_text(self._count())
            return output
        job = ppg.FileGeneratingJob(output, lambda of: open(of, "w").write(self._count()))
        job.depends_on(ppg.FileInvariant(self.fasta))
        job.depends_on(ToolVersion(self.name, self.tool_version))
        job.depends_on(ppg.ParameterInvariant(str(output), ppg.util.freeze({"fasta": self.fasta})))
        return job

    def load_lengths(self):
        """`self.lengths`, loaded into the master when a dependant needs it."""

        def calc():
            return [len(line) for line in Path(self.fasta).read_text().splitlines()
                    if not line.startswith(">")]

        if not ppg.inside_ppg():
            self.lengths = calc()
            return None
        return ppg.CachedAttributeLoadingJob(Path("cache") / (self.name + "_lengths"), self, "lengths", calc)


class Annotator:
    """Annotators are unique by name, and a name also may not be a Genome's."""

    def __init__(self, name: str):
        self.name = name
        ppg.util.assert_uniqueness_of_object(self, also_check=[Genome])
