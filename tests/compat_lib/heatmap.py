"""A heatmap the way mbf_heatmap's chip-seq heatmap builds it on pypipegraph 0.197.

Two attribute loaders feed each other: `raw_data_` (read from the coverage file) and
`norm_data_` (computed from `raw_data_` in the master). The plot job depends only on the
normalising loader, yet reads both attributes: under 0.197 a loader whose only dependant
is another loader is not cleaned up before the file job downstream of both ran, so this
works. tests/compat_lib/test_heatmap.py runs it with both engines.
"""

from __future__ import annotations

from pathlib import Path

import pypipegraph as ppg


class Heatmap:
    """Rows of a coverage file, normalised to their maximum and written as a table."""

    def __init__(self, name: str, coverage_file: str):
        self.name = name
        if ppg.inside_ppg():
            ppg.util.assert_uniqueness_of_object(self)
        self.coverage_file = coverage_file
        self.result_dir = Path("results") / "heatmaps" / name
        self.result_dir.mkdir(parents=True, exist_ok=True)
        self.output = self.result_dir / "heatmap.tsv"

    def _read(self) -> dict:
        rows = {}
        for line in Path(self.coverage_file).read_text().splitlines():
            region, *values = line.split()
            rows[region] = [int(v) for v in values]
        return rows

    def _normalise(self) -> dict:
        return {region: [v / max(max(values), 1) for v in values] for region, values in self.raw_data_.items()}

    def _write(self, output) -> None:
        lines = []
        for region, values in sorted(self.raw_data_.items()):
            normed = " ".join(f"{v:.2f}" for v in self.norm_data_[region])
            lines.append(f"{region}\t{sum(values)}\t{normed}")
        Path(output).write_text("\n".join(lines) + "\n")

    def load_raw(self):
        job = ppg.AttributeLoadingJob(self.name + "_raw_load", self, "raw_data_", self._read)
        job.depends_on(ppg.FileInvariant(self.coverage_file))
        return job

    def load_norm(self):
        return ppg.AttributeLoadingJob(self.name + "_norm_load", self, "norm_data_", self._normalise).depends_on(
            self.load_raw())

    def plot(self):
        """The table (a job in a pipegraph, else written at once)."""
        if not ppg.inside_ppg():
            self.raw_data_ = self._read()
            self.norm_data_ = self._normalise()
            self._write(self.output)
            return self.output
        return ppg.FileGeneratingJob(self.output, self._write).depends_on(self.load_norm())
