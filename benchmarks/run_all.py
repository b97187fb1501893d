"""Run every benchmark workload for each engine and print one table.

    python benchmarks/run_all.py                    # default sizes, ours + floor (+ ppg2 if installed)
    python benchmarks/run_all.py --quick            # small sizes only
    python benchmarks/run_all.py --fanin 1000 10000 100000 --repeat 3
    python benchmarks/run_all.py --engines ours floor
    python benchmarks/run_all.py --reuse-workers    # ours reuses worker processes (opt-in mode)

Each cell is the median wall time (seconds) of `--repeat` runs of a fresh process,
measured in the same session for all engines so that ratios hold on a noisy machine.
pypipegraph2 comes from the `bench` extra (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import workloads as w

CORES = os.cpu_count() or 1
# As users run: compiled modules cached (a dev shell may set PYTHONDONTWRITEBYTECODE).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def run_script(directory: str, text: str, timeout: float) -> tuple[float, int, float]:
    """Run `text` as a script in `directory`; (wall seconds, peak RSS KiB of that process,
    CPU seconds of it and every process under it that was waited for)."""
    path = os.path.join(directory, "bench_script.py")
    with open(path, "w") as fh:
        fh.write(text)
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, path], cwd=directory, stdout=out, stderr=out, env=ENV)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                raise RuntimeError(f"benchmark script timed out after {timeout} s in {directory}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"benchmark script failed in {directory}:\n"
                               f"{out.read()[-3000:].decode(errors='replace')}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def make_inputs(directory: str, n: int) -> None:
    os.makedirs(os.path.join(directory, "in"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(directory, "in", str(i)), "w") as fh:
            fh.write(f"input {i}\n")


def store_size(directory: str) -> int:
    total = 0
    for name in os.listdir(directory):
        if name.startswith(".pypipegraph_status_robust") and not name.endswith(".lock"):
            total += os.path.getsize(os.path.join(directory, name))
    return total


class Bench:
    def __init__(self, engines: list[str], repeat: int, timeout: float, reuse: bool = False):
        self.engines = engines
        self.reuse = reuse  # ours in reuse_workers mode instead of a fork per job
        self.repeat = repeat
        self.timeout = timeout
        self.rows: list[tuple[str, dict]] = []
        self.cpu: dict[str, float] = {}  # workload -> median CPU seconds of ours (wall depends on neighbours)
        self.notes: list[str] = []

    def add(self, name: str, cells: dict) -> None:
        self.rows.append((name, cells))
        line = "  ".join(f"{engine}={_fmt(cells.get(engine))}" for engine in self.engines)
        if name in self.cpu:
            line += f"  (ours CPU {_fmt(self.cpu[name])})"
        print(f"{name:<44} {line}", flush=True)

    def fanin(self, n: int) -> None:
        """Cold, no-op, one input changed, for N file jobs + 1 final job."""
        phases = {"cold": {}, "no-op rerun": {}, "one input changed": {}}
        repeat = self.repeat if n <= 10000 else 1
        cpu = {phase: [] for phase in phases}
        for engine in self.engines:
            times = {phase: [] for phase in phases}
            for _ in range(repeat):
                directory = tempfile.mkdtemp(prefix=f"bench_{engine}_")
                try:
                    make_inputs(directory, n)
                    if engine == "floor":
                        bodies = [w.FANIN_FLOOR_COLD, w.FANIN_FLOOR_NOOP, w.FANIN_FLOOR_CHANGED]
                    elif engine == "doit":
                        bodies = [w.DOIT_FANIN] * 3
                    else:
                        bodies = [w.FANIN] * 3
                    for phase, body in zip(phases, bodies, strict=True):
                        if phase == "one input changed":
                            with open(os.path.join(directory, "in", "7"), "w") as fh:
                                fh.write("changed\n")
                        elapsed, rss, seconds = run_script(
                            directory, w.script(engine, body, CORES, reuse=self.reuse, n=n), self.timeout)
                        times[phase].append(elapsed)
                        if engine == "ours":
                            cpu[phase].append(seconds)
                        if engine == "ours" and phase == "cold" and n >= 100000:
                            self.notes.append(
                                f"fan-in {n} cold (ours): peak RSS {rss / 1024:.0f} MiB, "
                                f"store {store_size(directory) / 1e6:.1f} MB"
                            )
                finally:
                    shutil.rmtree(directory, ignore_errors=True)
            for phase in phases:
                phases[phase][engine] = statistics.median(times[phase])
        for phase, cells in phases.items():
            if cpu[phase]:
                self.cpu[f"{n} file jobs + final, {phase}"] = statistics.median(cpu[phase])
            self.add(f"{n} file jobs + final, {phase}", cells)

    def simple(self, name: str, bodies: dict, raw: bool = False, **params) -> None:
        cells, cpu = {}, []
        for engine in self.engines:
            if engine == "doit" and engine not in bodies:
                continue  # doit has no equivalent of this workload
            times = []
            for _ in range(self.repeat):
                directory = tempfile.mkdtemp(prefix=f"bench_{engine}_")
                try:
                    body = bodies.get(engine, bodies.get("engine"))
                    text = w.script(engine, body, CORES, raw=raw, reuse=self.reuse, **params)
                    elapsed, _, seconds = run_script(directory, text, self.timeout)
                    times.append(elapsed)
                    if engine == "ours":
                        cpu.append(seconds)
                finally:
                    shutil.rmtree(directory, ignore_errors=True)
            cells[engine] = statistics.median(times)
        if cpu:
            self.cpu[name] = statistics.median(cpu)
        self.add(name, cells)

    def table(self) -> str:
        header = "| workload | " + " | ".join(self.engines) + " | ours / floor | ours CPU |"
        lines = [header, "|" + "---|" * (len(self.engines) + 3)]
        for name, cells in self.rows:
            ratio = ""
            if cells.get("ours") is not None and cells.get("floor"):
                ratio = f"{cells['ours'] / cells['floor']:.2f}x"
            lines.append(
                f"| {name} | " + " | ".join(_fmt(cells.get(e)) for e in self.engines)
                + f" | {ratio} | {_fmt(self.cpu.get(name))} |"
            )
        return "\n".join(lines + [""] + [f"- {note}" for note in self.notes])


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=None, help="ours, ppg2, floor")
    parser.add_argument("--fanin", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument("--chain", type=int, default=300)
    parser.add_argument("--loaders", nargs="+", type=int, default=[200, 2000])
    parser.add_argument("--cpu-jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--reuse-workers", action="store_true",
                        help="ours reuses worker processes (new_pipegraph(reuse_workers=True)) "
                             "instead of forking a fresh process per job")
    args = parser.parse_args(argv)
    engines = args.engines or ["ours", "floor"] + [
        engine for engine, module in (("ppg2", "pypipegraph2"), ("doit", "doit"))
        if importlib.util.find_spec(module)
    ]
    if args.quick:
        args.fanin, args.chain, args.loaders, args.repeat = [1000], 100, [200], 1
    bench = Bench(engines, args.repeat, args.timeout, args.reuse_workers)
    mode = "reused worker processes" if args.reuse_workers else "a fresh process per job"
    print(f"{CORES} cores, Python {sys.version.split()[0]}, median of {args.repeat} run(s), ours: {mode}\n")
    for n in args.fanin:
        bench.fanin(n)
    bench.simple(f"chain of {args.chain} jobs, cold",
                 {"engine": w.CHAIN, "floor": w.CHAIN_FLOOR, "doit": w.DOIT_CHAIN},
                 n=args.chain)
    for n in args.loaders:
        bench.simple(f"{n} DataLoadingJobs -> 1 file job", {"engine": w.LOADERS, "floor": w.LOADERS_FLOOR},
                     n=n)
    seconds = 0.5
    ideal = args.cpu_jobs * seconds / CORES
    bench.simple(f"{args.cpu_jobs} CPU jobs of {seconds} s (ideal {ideal:.1f} s + start)",
                 {"engine": w.CPU, "floor": f"import time\ntime.sleep({ideal})\n"},
                 n=args.cpu_jobs, seconds=seconds)
    bench.simple("import of the engine (incl. interpreter start)", w.IMPORT, raw=True)
    print()
    print(bench.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
