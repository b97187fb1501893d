"""Critical-path ordering: one long chain among many short jobs, with and without history.

    python benchmarks/critical_path.py [--links 4] [--link 0.5] [--shorts 8] [--short 0.25]

The short jobs are defined first, so plain definition order starts them first and the
chain waits behind them. With the runtimes recorded by a first run, the scheduler starts
the chain's head first (`critical_path=True`, the default). Every round changes one
parameter all jobs depend on, so all of them run again. Prints the median wall time of
each ordering and the lower bound max(chain, total work / cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pypipegraph as ppg  # noqa: E402


def sleeper(seconds: float):
    def work(of):
        time.sleep(seconds)
        Path(of).write_text(str(time.time()))

    return work


def build(round_no: int, args, critical_path: bool) -> None:
    ppg.new_pipegraph(resource_coordinator=ppg.LocalSystem(max_cores_to_use=args.cores),
                      quiet=True, dump_graph=False, critical_path=critical_path)
    param = ppg.ParameterInvariant("round", round_no)
    for i in range(args.shorts):
        ppg.FileGeneratingJob(f"short{i}", sleeper(args.short)).depends_on(param)
    previous = None
    for i in range(args.links):
        job = ppg.FileGeneratingJob(f"chain{i}", sleeper(args.link)).depends_on(param)
        if previous is not None:
            job.depends_on(previous)
        previous = job


def timed_run(round_no: int, args, critical_path: bool) -> float:
    build(round_no, args, critical_path)
    start = time.perf_counter()
    ppg.run_pipegraph()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=4)
    parser.add_argument("--link", type=float, default=0.5, help="seconds per chain job")
    parser.add_argument("--shorts", type=int, default=8)
    parser.add_argument("--short", type=float, default=0.25, help="seconds per short job")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    os.chdir(tempfile.mkdtemp(prefix="ppg_bench_cp_"))
    timed_run(0, args, True)  # records the runtimes
    times: dict = {False: [], True: []}
    round_no = 0
    for _ in range(args.repeat):
        for critical_path in (False, True):
            round_no += 1
            times[critical_path].append(timed_run(round_no, args, critical_path))
    chain = args.links * args.link
    work = chain + args.shorts * args.short
    bound = max(chain, work / args.cores)
    naive, ordered = statistics.median(times[False]), statistics.median(times[True])
    print(f"{args.links} x {args.link} s chain + {args.shorts} x {args.short} s short jobs on "
          f"{args.cores} cores, median of {args.repeat}")
    print(f"{'ordering':<34}{'wall s':>8}{'/ bound':>9}")
    print(f"{'definition order (history off)':<34}{naive:>8.2f}{naive / bound:>9.2f}")
    print(f"{'critical path from history':<34}{ordered:>8.2f}{ordered / bound:>9.2f}")
    print(f"{'lower bound':<34}{bound:>8.2f}{1:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
