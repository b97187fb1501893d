"""Cost of one trivial job versus the master's memory, in each worker mode.

    python benchmarks/fork_cost.py                      # 0, 300 and 865 MiB of loaded data
    python benchmarks/fork_cost.py --mib 0 300 --jobs 400

A DataLoadingJob fills the master with MiB of Python objects (a list of strings, as
parsed tables are); then trivial FileGeneratingJobs that depend on it run. Per job: the
CPU time (user + system, of the master and every process under it) of a run with
`--jobs` jobs minus that of a run with one job, divided by `--jobs` - 1: the cost of a
job on a shared machine, where wall times depend on the neighbours. Modes: a fresh
process per job (default), the same without collapse_heap() (4 KiB pages: what fork
costs without it), and reused workers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

SCRIPT = """
from pathlib import Path
import pypipegraph as ppg
from pypipegraph.executors import zygote
if {no_collapse}:
    zygote.collapse_heap = lambda force=False: 0
ppg.new_pipegraph(quiet=True, dump_graph=False, reuse_workers={reuse})
DATA = []
def load():
    DATA.extend(str(i) * 12 for i in range({mib} * 11000))  # about {mib} MiB of str objects
loader = ppg.DataLoadingJob("load", load)
def work(of):
    Path(of).write_text(str(len(DATA)))
for i in range({jobs}):
    ppg.FileGeneratingJob("out/%d" % i, work).depends_on(loader)
ppg.run()
print(int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20)
"""

MODES = {
    "fresh process per job": dict(reuse=False, no_collapse=False),
    "fresh process, 4 KiB pages": dict(reuse=False, no_collapse=True),
    "reused workers": dict(reuse=True, no_collapse=False),
}


def measure(mib: int, jobs: int, reuse: bool, no_collapse: bool) -> tuple[float, int]:
    """(ms of CPU per job, master RSS MiB)."""
    one, _ = cpu_seconds(mib, 1, reuse, no_collapse)
    many, rss = cpu_seconds(mib, jobs, reuse, no_collapse)
    return (many - one) / (jobs - 1) * 1000, rss


def cpu_seconds(mib: int, jobs: int, reuse: bool, no_collapse: bool) -> tuple[float, int]:
    directory = tempfile.mkdtemp(prefix="ppg_forkcost_")
    try:
        os.mkdir(os.path.join(directory, "out"))
        path = os.path.join(directory, "script.py")
        with open(path, "w") as fh:
            fh.write(textwrap.dedent(SCRIPT).format(mib=mib, jobs=jobs, reuse=reuse, no_collapse=no_collapse))
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen([sys.executable, path], cwd=directory, stdout=out, stderr=out)
            _, status, usage = os.wait4(proc.pid, 0)
            out.seek(0)
            text = out.read().decode(errors="replace")
        if status:
            raise RuntimeError(text[-3000:])
        return usage.ru_utime + usage.ru_stime, int(text.split()[-1])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", nargs="+", type=int, default=[0, 300, 865])
    parser.add_argument("--jobs", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; ms of CPU per trivial job ({args.jobs} jobs)\n")
    print("| loaded data | master RSS | " + " | ".join(MODES) + " |")
    print("|---|---|" + "---|" * len(MODES))
    for mib in args.mib:
        cells, rss = [], 0
        for mode in MODES.values():
            ms, rss = measure(mib, args.jobs, **mode)
            cells.append(f"{ms:.1f} ms")
        print(f"| {mib} MiB | {rss} MiB | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
