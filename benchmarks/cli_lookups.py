"""How long the `ppg` commands take on a store of a large pipeline (docs/performance.md).

Builds a real store: a pipeline of N jobs (N/4 samples x trim, align, count, qc; one
aligner in 40 fails) run R times, every job running each time (a changed parameter), so
`job_runs` holds N x R rows. Then times each command as a user runs it (a fresh
`python -m pypipegraph` process), interleaved, and prints the median wall time and the
median CPU time (user + system of the child) of each.

    python benchmarks/cli_lookups.py --jobs 50000 --runs 3 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PIPELINE = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    N = int(os.environ["JOBS"]) // 4

    def write(of):
        with open(of, "w") as fh:
            fh.write("x")

    def align(of):
        if of.endswith("7.align") and int(of[5:-6]) % 40 == 7:
            raise OSError(of + ": the aligner exited with code 137")
        write(of)

    ppg.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(2), quiet=True,
                      reuse_workers=True, dump_graph=False)
    for s in range(N):
        trim = ppg.FileGeneratingJob(f"out/s{{s:05d}}.trim", write)
        trim.rule = "trim"
        al = ppg.FileGeneratingJob(f"out/s{{s:05d}}.align", align).depends_on(trim)
        count = ppg.FileGeneratingJob(f"out/s{{s:05d}}.count", write).depends_on(al)
        count.rule = "count"
        qc = ppg.FileGeneratingJob(f"out/s{{s:05d}}.qc", write).depends_on(trim)
        qc.rule = "qc"
        for job in (trim, al, count, qc):
            job.depends_on_params(os.environ["ROUND"])
    try:
        ppg.run()
    except ppg.RuntimeError:
        pass
    """
)

COMMANDS = [
    ("ppg history JOB", ["history", "out/s01234.align"]),
    ("ppg log JOB", ["log", "out/s00007.align"]),
    ("ppg status --rules", ["status", "--rules"]),
    ("ppg status --rule qc --sort runtime --top 10", ["status", "--rule", "qc", "--sort", "runtime", "--top", "10"]),
    ("ppg status --state failed", ["status", "--state", "failed"]),
    ("ppg status (every job)", ["status"]),
]


def build(directory: str, jobs: int, runs: int) -> None:
    script = os.path.join(directory, "pipeline.py")
    with open(script, "w") as fh:
        fh.write(PIPELINE.format(root=ROOT))
    os.makedirs(os.path.join(directory, "out"), exist_ok=True)
    for round_ in range(runs):
        started = time.time()
        subprocess.run([sys.executable, script], cwd=directory, check=True,
                       env={**os.environ, "JOBS": str(jobs), "ROUND": str(round_)})
        print(f"run {round_ + 1}: {time.time() - started:.1f} s", file=sys.stderr)


def timed(directory: str, argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pypipegraph", *argv], cwd=directory, check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": ROOT})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def in_process(directory: str, argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) of the command itself in this process: no interpreter start, no import."""
    import contextlib
    import io

    from pypipegraph.cli import main as cli_main

    cwd = os.getcwd()
    os.chdir(directory)
    try:
        cpu, started = time.process_time(), time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli_main(argv)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        os.chdir(cwd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="reuse (or keep) the store in this directory")
    args = parser.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="ppg_cli_")
    if not os.path.exists(os.path.join(directory, ".pypipegraph_status_robust")):
        build(directory, args.jobs, args.runs)
    times: dict[str, list] = {name: [] for name, _ in COMMANDS}
    inside: dict[str, list] = {name: [] for name, _ in COMMANDS}
    baseline = []
    for _ in range(args.repeat):  # interleaved: a load spike hits every command alike
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pypipegraph.cli"], check=True,
                       env={**os.environ, "PYTHONPATH": ROOT})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        baseline.append((time.perf_counter() - started, after.ru_utime + after.ru_stime
                         - before.ru_utime - before.ru_stime))
        for name, argv in COMMANDS:
            times[name].append(timed(directory, argv))
            inside[name].append(in_process(directory, argv))
    print(f"{args.jobs} jobs, {args.runs} runs kept; median of {args.repeat} (wall / CPU), "
          "each a fresh process")
    print("| command | process wall | process CPU | command alone, wall | command alone, CPU |")
    print("|---|---|---|---|---|")
    print(f"| interpreter + import only | {statistics.median(w for w, _ in baseline):.2f} s | "
          f"{statistics.median(c for _, c in baseline):.2f} s | | |")
    for name, values in times.items():
        alone = inside[name]
        print(f"| `{name}` | {statistics.median(w for w, _ in values):.2f} s | "
              f"{statistics.median(c for _, c in values):.2f} s | {statistics.median(w for w, _ in alone):.3f} s | "
              f"{statistics.median(c for _, c in alone):.3f} s |")


if __name__ == "__main__":
    main()
