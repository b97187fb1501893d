"""The Arvados draft's tumor / normal example on the futures API: classify, then analyze.

    python examples/tumor_normal/pipeline.py                  # first run: every call runs
    python examples/tumor_normal/pipeline.py                  # again: nothing runs
    THRESHOLD=0.2 python examples/tumor_normal/pipeline.py    # an argument changed: all reruns

Each sample (a file of reads under input/, written by this script on its first run) is
classified by a worker: a tumor when enough reads carry the driver motif. The results
are combined by `analyze_tumors`. Edit one sample file and run again: only its
`classify` call reruns, and `analyze_tumors` only if that sample's result changed.
Nothing here names an executor: the same script runs on a Dask cluster when
PYPIPEGRAPH_DASK_SCHEDULER is set (docs/futures.md).
"""

import os
import random
from pathlib import Path

import pypipegraph as ppg

HERE = Path(__file__).resolve().parent
os.chdir(HERE)  # inputs and outputs live next to this script
MOTIF = "GATTACA"
THRESHOLD = float(os.environ.get("THRESHOLD", "0.05"))
PATIENTS = ("p1", "p2", "p3", "p4")


def write_samples() -> None:
    """Synthetic reads: a tumor and a normal sample per patient; p3's tumor has no driver."""
    rng = random.Random(42)
    Path("input").mkdir(exist_ok=True)
    for patient in PATIENTS:
        for kind in ("tumor", "normal"):
            path = Path(f"input/{patient}_{kind}.reads")
            if path.exists():
                continue
            rate = 0.3 if kind == "tumor" and patient != "p3" else 0.01
            reads = []
            for _ in range(200):
                read = "".join(rng.choice("ACGT") for _ in range(40))
                if rng.random() < rate:
                    at = rng.randrange(len(read) - len(MOTIF))
                    read = read[:at] + MOTIF + read[at + len(MOTIF):]
                reads.append(read)
            path.write_text("\n".join(reads) + "\n")


@ppg.work
def classify(reads_file: Path, threshold: float):
    """A dict describing the sample when it looks like a tumor, else None."""
    reads = reads_file.read_text().split()
    carrying = sum(MOTIF in read for read in reads)
    rate = carrying / len(reads)
    if rate < threshold:
        return None
    return {"sample": reads_file.stem, "reads": len(reads), "motif_rate": round(rate, 3)}


@ppg.work
def analyze_tumors(results):
    """Combine the classifications: the tumors found, and how many samples looked normal."""
    compiled = {}
    normal = 0
    for result in results:
        if result is None:
            normal += 1
            continue
        compiled[result["sample"]] = result["motif_rate"]
    return {"tumors": dict(sorted(compiled.items())), "normal": normal}


def main():
    write_samples()
    Path("logs").mkdir(exist_ok=True)
    ppg.new_pipegraph()
    in_files = sorted(Path("input").glob("*.reads"))
    # As in the draft: a generator of futures; nothing runs until run_pipegraph().
    report = analyze_tumors(classify(in_file, THRESHOLD) for in_file in in_files)
    ppg.run_pipegraph()
    summary = report.value()
    for sample, rate in summary["tumors"].items():
        print(f"tumor\t{sample}\tmotif in {rate:.1%} of reads")
    print(f"normal-looking samples: {summary['normal']}")


if __name__ == "__main__":
    main()
