"""Gene expression: a loader, a temporary file, generated jobs and a plot.

    pip install ".[plot]"
    python examples/expression/pipeline.py

- `load_counts` (a DataLoadingJob) reads input/counts.tsv into memory once, in the
  master; the jobs that use it run in workers forked afterwards and share it.
- `out/cpm.tsv.tmp` (a TempFileGeneratingJob) holds the normalized matrix while the two
  jobs that read it run, and is removed afterwards.
- `per_sample` (a JobGeneratingJob) creates one report job per sample found in the
  input file, so a new column in counts.tsv adds exactly one new job.
- `out/library_sizes.png` (a PlotJob) plots the library sizes; its data is cached.

Run it twice: the second run only runs the generator (which always runs) and nothing
else. Edit one count in input/counts.tsv and watch logs/ppg_run.txt.
"""

import os
from pathlib import Path

import pypipegraph as ppg

os.chdir(Path(__file__).resolve().parent)
COUNTS = {}  # sample -> {gene: count}, filled by the loader in the master


def load_counts():
    header, *rows = Path("input/counts.tsv").read_text().splitlines()
    samples = header.split("\t")[1:]
    COUNTS.clear()
    for sample in samples:
        COUNTS[sample] = {}
    for row in rows:
        gene, *values = row.split("\t")
        for sample, value in zip(samples, values, strict=True):
            COUNTS[sample][gene] = int(value)


def cpm_matrix(of):
    genes = sorted(next(iter(COUNTS.values())))
    lines = ["gene\t" + "\t".join(COUNTS)]
    for gene in genes:
        values = [COUNTS[s][gene] / sum(COUNTS[s].values()) * 1e6 for s in COUNTS]
        lines.append(gene + "\t" + "\t".join(f"{v:.1f}" for v in values))
    Path(of).write_text("\n".join(lines) + "\n")


def read_cpm():
    header, *rows = Path("out/cpm.tsv.tmp").read_text().splitlines()
    samples = header.split("\t")[1:]
    table = {row.split("\t")[0]: [float(x) for x in row.split("\t")[1:]] for row in rows}
    return samples, table


def top_genes(of):
    _, table = read_cpm()
    ranked = sorted(table, key=lambda gene: -sum(table[gene]))[:5]
    Path(of).write_text("".join(f"{gene}\t{sum(table[gene]) / len(table[gene]):.1f}\n" for gene in ranked))


def treated_vs_control(of):
    samples, table = read_cpm()
    ctrl = [i for i, s in enumerate(samples) if s.startswith("ctrl")]
    treated = [i for i, s in enumerate(samples) if s.startswith("treated")]
    lines = []
    for gene, values in sorted(table.items()):
        mean_c = sum(values[i] for i in ctrl) / len(ctrl)
        mean_t = sum(values[i] for i in treated) / len(treated)
        lines.append(f"{gene}\t{mean_t / mean_c:.2f}")
    Path(of).write_text("\n".join(lines) + "\n")


def sample_names():
    return Path("input/counts.tsv").read_text().splitlines()[0].split("\t")[1:]


def generate_sample_reports():
    for sample in sample_names():
        def report(of, sample=sample):
            counts = COUNTS[sample]
            top = max(counts, key=counts.get)
            Path(of).write_text(f"{sample}: {sum(counts.values())} reads, top gene {top}\n")

        ppg.FileGeneratingJob(f"out/samples/{sample}.txt", report).depends_on(loader)


def library_sizes():
    import pandas as pd

    load_counts()  # runs in the cache job's worker: read the input directly
    return pd.DataFrame({"sample": list(COUNTS), "reads": [sum(c.values()) for c in COUNTS.values()]})


def plot_library_sizes(df):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(df["sample"], df["reads"], color=["#4c72b0"] * 3 + ["#dd8452"] * 3)
    ax.set_ylabel("reads")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


ppg.new_pipegraph()
for folder in ("out/samples", "logs"):
    Path(folder).mkdir(parents=True, exist_ok=True)
counts_file = ppg.FileInvariant("input/counts.tsv")
loader = ppg.DataLoadingJob("load_counts", load_counts).depends_on(counts_file)
cpm = ppg.TempFileGeneratingJob("out/cpm.tsv.tmp", cpm_matrix).depends_on(loader)
ppg.FileGeneratingJob("out/top_genes.tsv", top_genes).depends_on(cpm)
ppg.FileGeneratingJob("out/treated_vs_control.tsv", treated_vs_control).depends_on(cpm)
ppg.JobGeneratingJob("per_sample", generate_sample_reports).depends_on(counts_file)
ppg.PlotJob("out/library_sizes.png", library_sizes, plot_library_sizes).depends_on(counts_file)
ppg.run_pipegraph()
print(Path("out/top_genes.tsv").read_text(), end="")
