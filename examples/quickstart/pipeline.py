"""A small but real pipeline: k-mer profiles of DNA samples, and a report.

    python examples/quickstart/pipeline.py          # first run: every job runs
    python examples/quickstart/pipeline.py          # again: nothing runs
    K=4 python examples/quickstart/pipeline.py      # a parameter changed: profiles rerun

Edit input/samples.tsv (one sample's sequence) and run again: only that sample's
profile reruns, and the report, because the profile's output changed.
"""

import collections
import os
from pathlib import Path

import pypipegraph as ppg

HERE = Path(__file__).resolve().parent
os.chdir(HERE)  # outputs go next to this script
K = int(os.environ.get("K", "3"))


def read_samples(filename="input/samples.tsv"):
    lines = Path(filename).read_text().splitlines()[1:]
    return dict(line.split("\t") for line in lines if line.strip())


def kmer_profile(sequence, k):
    counts = collections.Counter(sequence[i : i + k] for i in range(len(sequence) - k + 1))
    return "".join(f"{kmer}\t{n}\n" for kmer, n in sorted(counts.items()))


def main():
    ppg.new_pipegraph()
    Path("out").mkdir(exist_ok=True)
    Path("logs").mkdir(exist_ok=True)
    samples_file = ppg.FileInvariant("input/samples.tsv")

    # One job per sample: extract its sequence. Reruns only if the input file changed,
    # and early cutoff stops there when this sample's sequence stayed the same.
    profile_jobs = []
    for name in read_samples():
        def extract(of, name=name):
            Path(of).write_text(read_samples()[name] + "\n")

        seq_job = ppg.FileGeneratingJob(f"out/{name}.seq", extract).depends_on(samples_file)

        def profile(of, name=name):
            sequence = Path(f"out/{name}.seq").read_text().strip()
            Path(of).write_text(kmer_profile(sequence, K))

        profile_job = ppg.FileGeneratingJob(f"out/{name}.kmers", profile)
        profile_job.depends_on(seq_job)
        profile_job.depends_on_params(("k", K))
        profile_jobs.append(profile_job)

    def report(of):
        lines = ["sample\tdistinct_kmers\ttop_kmer"]
        for job in profile_jobs:
            rows = [line.split("\t") for line in Path(job.job_id).read_text().splitlines()]
            top = max(rows, key=lambda row: int(row[1]))
            name = Path(job.job_id).name.removesuffix(".kmers")
            lines.append(f"{name}\t{len(rows)}\t{top[0]}")
        Path(of).write_text("\n".join(lines) + "\n")

    ppg.FileGeneratingJob("out/report.tsv", report).depends_on(profile_jobs)
    ppg.run_pipegraph()
    print(Path("out/report.tsv").read_text(), end="")


if __name__ == "__main__":
    main()
