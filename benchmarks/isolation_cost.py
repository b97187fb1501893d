"""Where an isolated trivial job's CPU goes: the master, the zygotes, the job processes.

    python benchmarks/isolation_cost.py              # 2000 trivial jobs, 2 runs per mode
    python benchmarks/isolation_cost.py --jobs 5000 --runs 3
    python benchmarks/isolation_cost.py --modes compiled python   # the zygote's two loops only

Runs N trivial FileGeneratingJobs in a fresh directory, in the default mode (a fresh
process per job, its zygote running the compiled loop, or the pure-Python one) and with
reused workers, alternating the modes so that a shared machine's load hits all alike. Per job: CPU time (user + system) and minor page faults
(copy-on-write copies, mostly) of the master during ppg.run(), of the zygotes themselves,
and of the job processes (the zygotes' children, from each zygote's RUSAGE_CHILDREN).
Wall times depend on the neighbours; CPU and faults much less.
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
import json, os, resource, sys, time
from pathlib import Path
import pypipegraph as ppg
from pypipegraph.executors import zygote

serve = zygote._Zygote.serve
def counted_serve(self):  # each zygote leaves its own and its children's usage in a file
    try:
        serve(self)
    finally:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(f"zygote.{{os.getpid()}}.json", "w") as fh:
            json.dump([own.ru_utime + own.ru_stime, own.ru_minflt, kids.ru_utime + kids.ru_stime,
                       kids.ru_minflt], fh)
zygote._Zygote.serve = counted_serve
os.makedirs("out")
ppg.new_pipegraph(quiet=True, dump_graph=False, reuse_workers={reuse})
def work(of):
    Path(of).write_text("x")
for i in range({jobs}):
    ppg.FileGeneratingJob("out/%d" % i, work)
before, start = resource.getrusage(resource.RUSAGE_SELF), time.time()
ppg.run()
wall, after = time.time() - start, resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
zygotes = [json.load(open(name)) for name in os.listdir(".") if name.startswith("zygote.")]
print(json.dumps(dict(
    wall=wall, master=after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    master_faults=after.ru_minflt - before.ru_minflt, workers=kids.ru_utime + kids.ru_stime,
    zygotes=sum(z[0] for z in zygotes), zygote_faults=sum(z[1] for z in zygotes),
    children=sum(z[2] for z in zygotes), child_faults=sum(z[3] for z in zygotes))))
"""


MODES = {"compiled": ("fresh process per job (compiled zygote loop)", False, "0"),
         "python": ("fresh process per job (pure-Python zygote loop)", False, "1"),
         "reused": ("reused workers", True, "0")}


def run(jobs: int, reuse: bool, pure_python: str = "0") -> dict:
    import json

    directory = tempfile.mkdtemp(prefix="ppg_isocost_")
    try:
        path = os.path.join(directory, "script.py")
        with open(path, "w") as fh:
            fh.write(textwrap.dedent(SCRIPT).format(jobs=jobs, reuse=reuse))
        env = dict(os.environ, PYPIPEGRAPH_PURE_PYTHON_ZYGOTE=pure_python)
        out = subprocess.run([sys.executable, path], cwd=directory, capture_output=True, text=True, env=env)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args(argv)
    n = args.jobs
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"per trivial job ({n} jobs)\n")
    print("| mode | wall | master CPU (faults) | zygote CPU (faults) | job process CPU (faults) | all workers CPU |"
          " all in |")
    print("|---|---|---|---|---|---|---|")
    for _ in range(args.runs):
        for mode in args.modes:
            label, reuse, pure_python = MODES[mode]
            r = run(n, reuse, pure_python)
            zygote = "-" if reuse else f"{r['zygotes'] * 1e3 / n:.2f} ms ({r['zygote_faults'] / n:.0f})"
            child = "-" if reuse else f"{r['children'] * 1e3 / n:.2f} ms ({r['child_faults'] / n:.0f})"
            print(f"| {label} | {r['wall']:.2f} s | {r['master'] * 1e3 / n:.2f} ms ({r['master_faults'] / n:.0f}) | "
                  f"{zygote} | {child} | {r['workers'] * 1e3 / n:.2f} ms | "
                  f"{(r['master'] + r['workers']) * 1e3 / n:.2f} ms |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
