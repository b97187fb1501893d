"""Per-job overhead of the Dask executor beside the local one: N trivial file jobs.

Each engine runs the same graph (N FileGeneratingJobs writing one line each) in a fresh
directory, in this process; the time covers building the graph, the run and recording
it in the store. The Dask cluster is a LocalCluster of 2 worker processes x 2 threads
(resources cores=2) on this machine, started before timing.

    python benchmarks/dask_overhead.py --jobs 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pypipegraph as ppg


def write(of):
    with open(of, "w") as fh:
        fh.write("x\n")


def run_once(n: int, coordinator) -> float:
    """Seconds to build and run `n` trivial jobs in a fresh directory."""
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="ppg_bench_") as directory:
        os.chdir(directory)
        try:
            started = time.perf_counter()
            ppg.new_pipegraph(resource_coordinator=coordinator, quiet=True, dump_graph=False,
                              interactive=False)
            for i in range(n):
                ppg.FileGeneratingJob(f"{i}.txt", write)
            ppg.run_pipegraph()
            return time.perf_counter() - started
        finally:
            os.chdir(home)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="trivial jobs per run (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; the best counts")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    rows = []
    local = min(run_once(args.jobs, ppg.resource_coordinators.LocalSystem(max_cores_to_use=4))
                for _ in range(args.repeat))
    rows.append(("local (4 forked workers)", local))
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, resources={"cores": 2},
                      dashboard_address=None) as cluster, Client(cluster) as client:
        remote = min(run_once(args.jobs, ppg.DaskCoordinator(client)) for _ in range(args.repeat))
    rows.append(("dask (LocalCluster 2x2)", remote))
    print(f"{args.jobs} trivial FileGeneratingJobs, best of {args.repeat}, {os.cpu_count()} CPUs")
    print(f"{'executor':<26} {'total s':>8} {'ms/job':>8}")
    for name, seconds in rows:
        print(f"{name:<26} {seconds:>8.2f} {seconds / args.jobs * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
