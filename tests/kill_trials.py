"""Kill the master with SIGKILL at a random moment, rerun, check nothing was lost.

    python tests/kill_trials.py --trials 50 [--jobs 500] [--seed 1]

Each trial runs a pipeline of N jobs with small random sleeps (each output is
written in two steps, so a kill can leave half-written files), kills the master
with SIGKILL at a random moment, notes which jobs the store recorded as finished,
reruns to completion and checks:

- every job recorded as finished before the kill does not run again;
- every output equals what a clean run writes (no partial output taken as done);
- no worker of the killed master is left running, or writes after the rerun began.

Exit code 0 when every trial passed. tests/test_kill_trials.py runs a few trials.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = '''
import os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import pypipegraph as ppg

ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)
Path("runs").mkdir(exist_ok=True)

def make(i, delay):
    def work(of):
        with open("runs/%d" % i, "a") as fh:
            fh.write("%d\\n" % os.getpid())
        with open(of, "w") as fh:
            fh.write("job %d first half\\n" % i)
            fh.flush()
            time.sleep(delay)
            fh.write("job %d second half\\n" % i)
    return work

previous = None
for i in range({jobs}):
    job = ppg.FileGeneratingJob("out/%d" % i, make(i, {delays}[i]))
    if i % 10 and previous is not None:
        job.depends_on(previous)  # chains of ten: upstream and downstream in flight
    previous = job
ppg.run_pipegraph()
'''


def expected(i: int) -> str:
    return f"job {i} first half\njob {i} second half\n"


def recorded_finished(directory: Path) -> set[int]:
    sys.path.insert(0, str(ROOT))
    from pypipegraph.store.reader import StoreReader

    store = directory / ".pypipegraph_status_robust"
    if not store.exists():
        return set()
    reader = StoreReader(str(store))
    try:
        return {int(job_id[4:]) for job_id, record in reader.records().items()
                if job_id.startswith("out/") and record.outputs}
    finally:
        reader.close()


def worker_pids(directory: Path) -> set[int]:
    pids = set()
    for path in (directory / "runs").glob("*"):
        pids.update(int(line) for line in path.read_text().split())
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def trial(rng: random.Random, jobs: int) -> list[str]:
    problems = []
    directory = Path(tempfile.mkdtemp(prefix="ppg_kill_"))
    delays = [round(rng.uniform(0.0, 0.02), 4) for _ in range(jobs)]
    script = PIPELINE.format(root=str(ROOT), jobs=jobs, delays=delays)
    (directory / "pipeline.py").write_text(script)
    proc = subprocess.Popen([sys.executable, "pipeline.py"], cwd=directory,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.3, 2.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = recorded_finished(directory)
    runs_before = {i: (directory / "runs" / str(i)).read_text().count("\n")
                   for i in range(jobs) if (directory / "runs" / str(i)).exists()}
    time.sleep(0.1)  # let PR_SET_PDEATHSIG take the orphans down
    old_workers = worker_pids(directory)
    lingering = [pid for pid in old_workers if alive(pid)]
    if lingering:
        problems.append(f"workers of the killed master still alive: {lingering}")
    rerun = subprocess.run([sys.executable, "pipeline.py"], cwd=directory, capture_output=True,
                           text=True, timeout=300)
    if rerun.returncode != 0:
        problems.append(f"rerun failed: {rerun.stderr[-2000:]}")
        return problems
    for i in range(jobs):
        text = (directory / "out" / str(i)).read_text() if (directory / "out" / str(i)).exists() else None
        if text != expected(i):
            problems.append(f"out/{i} is {text!r} after the rerun")
        runs_after = (directory / "runs" / str(i)).read_text().count("\n")
        if i in finished and runs_after != runs_before.get(i, 0):
            problems.append(f"job {i} was recorded as finished before the kill but ran again")
    new_workers = worker_pids(directory) - old_workers
    if not new_workers and len(finished) < jobs:
        problems.append("the rerun ran nothing although jobs were unfinished")
    if not problems:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    else:
        problems.append(f"(kept {directory} for inspection; {len(finished)} finished before the kill)")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    failed = 0
    for number in range(1, args.trials + 1):
        problems = trial(rng, args.jobs)
        status = "ok" if not problems else "FAILED"
        print(f"trial {number}/{args.trials}: {status}", flush=True)
        for problem in problems[:10]:
            print("   ", problem)
        failed += bool(problems)
    print(f"{args.trials - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
