"""How the engine's cost grows with the graph: memory and CPU per job at each size.

    python benchmarks/scale.py                                  # 1 000 and 10 000 jobs, both modes
    python benchmarks/scale.py --sizes 1000 10000 100000 --modes fresh reused --runs 3
    python benchmarks/scale.py --sizes 1000000 --modes reused   # a million jobs

The workload is the fan-in of `run_all.py` (N file jobs, each reading its own input file,
one final job depending on all of them: 3N + 2 jobs with the invariants), run as a fresh
script: a cold run, then a no-op rerun. Per size and mode it prints the master's peak
RSS and its memory per job (peak RSS less the RSS after `import pypipegraph`, over N), and
per job the CPU time of the master during `ppg.run()` and of the worker processes (zygotes
and job processes, all waited for), with their minor page faults (copy-on-write copies,
mostly). With `--runs` above 1 the runs of all sizes and modes are interleaved and each
cell is the median, so that a shared machine's load hits every cell alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap

SCRIPT = """
import json, os, resource, sys, time
def rss_kib():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
import pypipegraph as ppg
base = rss_kib()
ppg.new_pipegraph(quiet=True, dump_graph=False, reuse_workers={reuse})
def write(of, text):
    with open(of, "w") as fh:
        fh.write(text)
os.makedirs("out", exist_ok=True)
jobs = []
start = time.perf_counter()
for i in range({n}):
    def work(of, i=i):
        with open("in/%d" % i) as fh:
            write(of, fh.read())
    jobs.append(ppg.FileGeneratingJob("out/%d" % i, work).depends_on(ppg.FileInvariant("in/%d" % i)))
def final(of):
    write(of, str(len(jobs)))
ppg.FileGeneratingJob("final.txt", final).depends_on(jobs)
built, build_s = rss_kib(), time.perf_counter() - start
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
ppg.run()
wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print("RESULT", json.dumps(dict(
    base=base, built=built, peak=after.ru_maxrss, build=build_s, wall=wall,
    master=after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    master_faults=after.ru_minflt - before.ru_minflt,
    workers=kids.ru_utime + kids.ru_stime, worker_faults=kids.ru_minflt)))
"""


def make_inputs(directory: str, n: int) -> None:
    os.makedirs(os.path.join(directory, "in"))
    for i in range(n):
        with open(os.path.join(directory, "in", str(i)), "w") as fh:
            fh.write(f"input {i}\n")


def run_script(directory: str, n: int, reuse: bool, timeout: float) -> dict:
    """One run of the fan-in script in `directory`: its RESULT line, plus `total` (wall
    seconds of the whole process, interpreter start and store writing included)."""
    path = os.path.join(directory, "scale_script.py")
    with open(path, "w") as fh:
        fh.write(textwrap.dedent(SCRIPT).format(n=n, reuse=reuse))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    import time

    start = time.perf_counter()
    out = subprocess.run([sys.executable, path], cwd=directory, capture_output=True, text=True,
                         timeout=timeout, env=env)
    total = time.perf_counter() - start
    if out.returncode:
        raise RuntimeError(f"scale script failed ({n} jobs):\n{out.stderr[-3000:]}")
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["total"] = total
    return result


def measure(n: int, mode: str, timeout: float) -> dict:
    """A cold run and a no-op rerun of the fan-in of `n` jobs in `mode`."""
    directory = tempfile.mkdtemp(prefix="ppg_scale_")
    try:
        make_inputs(directory, n)
        cold = run_script(directory, n, mode == "reused", timeout)
        print(f"  cold {n} {mode}: " + json.dumps(cold), file=sys.stderr, flush=True)
        noop = run_script(directory, n, mode == "reused", timeout)
        return {"cold": cold, "noop": noop}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _median(runs: list[dict], phase: str, key: str) -> float:
    return statistics.median(run[phase][key] for run in runs)


def row(n: int, mode: str, runs: list[dict]) -> str:
    peak = max(run[phase]["peak"] for run in runs for phase in ("cold", "noop"))  # KiB; deterministic
    base = _median(runs, "cold", "base")
    per_job = (peak - base) * 1024 / n
    cold_wall = _median(runs, "cold", "total")
    master = _median(runs, "cold", "master") * 1e3 / n
    workers = _median(runs, "cold", "workers") * 1e3 / n
    mfaults = _median(runs, "cold", "master_faults") / n
    wfaults = _median(runs, "cold", "worker_faults") / n
    noop = _median(runs, "noop", "total")
    noop_cpu = _median(runs, "noop", "master")
    return (f"| {n:,} | {mode} | {peak / 1024:.0f} MiB | {per_job / 1024:.2f} KiB | {cold_wall:.2f} s | "
            f"{master:.3f} ms ({mfaults:.1f}) | {workers:.3f} ms ({wfaults:.0f}) | "
            f"{master + workers:.3f} ms | {noop:.2f} s ({noop_cpu:.2f} s) |").replace(",", " ")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument("--modes", nargs="+", choices=["fresh", "reused"], default=["fresh", "reused"])
    parser.add_argument("--runs", type=int, default=1, help="interleaved runs per cell (median)")
    parser.add_argument("--timeout", type=float, default=7200)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}; "
          f"fan-in of N file jobs (+ N file invariants, N function invariants, 1 final job); "
          f"median of {args.runs} interleaved run(s)\n", flush=True)
    results: dict = {(n, mode): [] for n in args.sizes for mode in args.modes}
    for _ in range(args.runs):
        for n in args.sizes:
            for mode in args.modes:
                results[n, mode].append(measure(n, mode, args.timeout))
                print(f"  ran {n} {mode}: " + json.dumps(results[n, mode][-1]), file=sys.stderr, flush=True)
    print("| jobs (N) | mode | master peak RSS | per job, beyond import | cold: wall | cold: master CPU "
          "per job (faults) | cold: workers CPU per job (faults) | cold: CPU per job | no-op rerun: "
          "wall (master CPU in run()) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (n, mode), runs in results.items():
        print(row(n, mode, runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
