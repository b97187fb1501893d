"""Jobs on a real Dask cluster: a LocalCluster of two worker processes on localhost.

Each worker declares 2 "cores"; Dask reruns a task whose worker died once
(allowed-failures=1), the second death fails the job.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402
import dask  # noqa: E402
from test_examples import copy_example  # noqa: E402

import pypipegraph as ppg  # noqa: E402
from pypipegraph.executors.dask import ClusterLost  # noqa: E402
from pypipegraph.resources import ResourceError  # noqa: E402

from conftest import read  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this module

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                           resources={"cores": 2}, dashboard_address=None)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


@pytest.fixture
def dask_graph(ppg_dir, cluster):
    """A fresh quiet graph on the cluster; call it again for the next run."""
    _, client = cluster

    def new(**kwargs):
        return ppg.new_pipegraph(resource_coordinator=ppg.DaskCoordinator(client), quiet=True,
                                 dump_graph=False, **kwargs)

    new()
    return new


def log_interval(of, seconds: float, cores: int) -> None:
    """A job's body: sleep, then write 'start stop pid cores'."""
    start = time.time()
    time.sleep(seconds)
    Path(of).write_text(f"{start} {time.time()} {os.getpid()} {cores}\n")


def intervals(files) -> list[tuple[float, float, int, int]]:
    rows = []
    for name in files:
        start, stop, pid, cores = Path(name).read_text().split()
        rows.append((float(start), float(stop), int(pid), int(cores)))
    return rows


def max_cores_in_use(rows) -> dict:
    """Per worker pid, the most cores held at one moment."""
    peak: dict = {}
    for start, _, pid, _ in rows:
        held = sum(c for s, e, p, c in rows if p == pid and s <= start < e)
        peak[pid] = max(peak.get(pid, 0), held)
    return peak


# --- the acceptance pipeline -------------------------------------------------


def run_script(folder: Path, env: dict) -> str:
    proc = subprocess.run([sys.executable, str(folder / "pipeline.py")], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines(True) if not line.startswith("done ")]  # status lines
    return re.sub(r"jobs in the graph \(\d+:\d\d:\d\d\)", "jobs in the graph", "".join(lines))  # elapsed


def decisions(folder: Path) -> list[str]:
    """Each job that ran, with why (a lazy job: 'needed', whichever dependant asked first)."""
    lines = (folder / "logs/ppg_run.txt").read_text().splitlines()
    found = []
    for line in lines:
        if ": runs because " in line:
            job, why = line.split(": runs because ", 1)
            found.append(job.split()[-1] + ": " + ("needed" if why.startswith("needed by") else why))
    return sorted(found)


def test_expression_example_same_as_local(tmp_path, cluster):
    pytest.importorskip("matplotlib")
    local = copy_example("expression", tmp_path / "local")
    remote = copy_example("expression", tmp_path / "dask")
    env_local = {k: v for k, v in os.environ.items() if k != "PYPIPEGRAPH_DASK_SCHEDULER"}
    env_dask = dict(env_local, PYPIPEGRAPH_DASK_SCHEDULER=cluster[0].scheduler_address)
    for step in range(3):
        if step == 2:  # an edit: one count changes
            for folder in (local, remote):
                counts = folder / "input/counts.tsv"
                header, first, *rest = counts.read_text().splitlines()
                gene, value, *others = first.split("\t")
                counts.write_text("\n".join([header, "\t".join([gene, str(int(value) + 7), *others]),
                                             *rest]) + "\n")
        out_local, out_dask = run_script(local, env_local), run_script(remote, env_dask)
        assert out_local == out_dask
        assert decisions(local) == decisions(remote)
    ran = [line for line in out_dask.splitlines() if "job(s) ran" in line][0]
    assert not ran.startswith("pypipegraph: 1 job(s)")  # the edit made jobs rerun
    files = sorted(p.relative_to(local / "out") for p in (local / "out").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(remote / "out") for p in (remote / "out").rglob("*") if p.is_file())
    for name in files:
        if name.suffix != ".png":
            assert (local / "out" / name).read_text() == (remote / "out" / name).read_text(), name


def test_futures_example_same_as_local(tmp_path, cluster):
    """The futures API needs no change for the cluster: examples/tumor_normal, unchanged."""
    local = copy_example("tumor_normal", tmp_path / "local")
    remote = copy_example("tumor_normal", tmp_path / "dask")
    env_local = {k: v for k, v in os.environ.items() if k != "PYPIPEGRAPH_DASK_SCHEDULER"}
    env_dask = dict(env_local, PYPIPEGRAPH_DASK_SCHEDULER=cluster[0].scheduler_address)
    ran = []
    for _ in range(2):
        out_local, out_dask = run_script(local, env_local), run_script(remote, env_dask)
        assert out_local == out_dask
        assert decisions(local) == decisions(remote)
        ran.append(decisions(remote))
    assert len(ran[0]) >= 9 and ran[1] == []  # 8 classify calls and analyze ran, then nothing


# --- resources -------------------------------------------------------------


def test_two_core_job_never_overlaps_on_its_worker(dask_graph):
    files = []
    for i in range(6):
        cores = 2 if i % 3 == 0 else 1
        name = f"out/{i}.txt"
        files.append(name)
        job = ppg.FileGeneratingJob(name, lambda of, cores=cores: log_interval(of, 0.4, cores))
        job.cores_needed = cores
    ppg.run_pipegraph()
    rows = intervals(files)
    assert all(peak <= 2 for peak in max_cores_in_use(rows).values())
    small = [r for r in rows if r[3] == 1]
    assert any(a[2] == b[2] and a[0] < b[1] and b[0] < a[1] for a in small for b in small if a is not b)
    big = [r for r in rows if r[3] == 2]
    for start, stop, pid, _ in big:
        assert not [r for r in rows if r[2] == pid and r[0] < stop and start < r[1] and r[0] != start]


def test_a_job_bigger_than_every_worker_fails_before_running(dask_graph):
    job = ppg.FileGeneratingJob("out/big.txt", lambda of: Path(of).write_text("x") and None)
    job.cores_needed = 3
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ResourceError)
    assert str(job.exception) == (
        "out/big.txt needs 3 cores, the largest Dask worker has 2. Lower cores_needed (-1 means 'a "
        "whole worker') or start workers with more cores.")
    assert not os.path.exists("out/big.txt")


def test_workers_without_cores_resource_are_an_error(ppg_dir):
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as bare:
        with distributed.Client(bare) as client:
            ppg.new_pipegraph(resource_coordinator=ppg.DaskCoordinator(client), quiet=True)
            ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text("a") and None)
            with pytest.raises(ResourceError, match="declare no 'cores' resource.*--resources cores=N"):
                ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")


def test_unreachable_scheduler_from_environment_is_an_error(ppg_dir, monkeypatch):
    monkeypatch.setenv("PYPIPEGRAPH_DASK_SCHEDULER", "tcp://127.0.0.1:1")
    graph = ppg.new_pipegraph(quiet=True)
    assert isinstance(graph.rc, ppg.DaskCoordinator)
    graph.rc.wait_for_workers = 1.0
    ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text("a") and None)
    with pytest.raises(ResourceError, match=r"^Could not reach the Dask scheduler at tcp://127.0.0.1:1 "):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")


# --- in-memory data ------------------------------------------------------------


class Holder:
    pass


def test_loaders_run_once_per_worker_process(dask_graph):
    holder = Holder()

    def load():
        with open("loads.txt", "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return {"n": 41}

    loader = ppg.AttributeLoadingJob("data", holder, "data", load)
    files = []
    for i in range(10):
        name = f"out/{i}.txt"
        files.append(name)

        def use(of, i=i):
            time.sleep(0.1)
            Path(of).write_text(f"{holder.data['n'] + 1} {os.getpid()}")

        ppg.FileGeneratingJob(name, use).depends_on(loader)
    ppg.run_pipegraph()
    job_pids = {int(read(name).split()[1]) for name in files}
    assert {read(name).split()[0] for name in files} == {"42"}
    loads = [int(pid) for pid in read("loads.txt").split()]
    assert loads.count(os.getpid()) == 1  # the master loads too (same failures as locally)
    worker_loads = [pid for pid in loads if pid != os.getpid()]
    assert sorted(worker_loads) == sorted(set(worker_loads))  # once per worker process
    assert set(worker_loads) == job_pids


def test_loader_failing_only_on_a_worker_fails_its_dependant_clearly(dask_graph):
    master = os.getpid()
    holder = Holder()

    def load():
        if os.getpid() != master:
            raise OSError("input/ is not mounted here")
        return 1

    loader = ppg.AttributeLoadingJob("data", holder, "data", load)
    job = ppg.FileGeneratingJob("out/x.txt", lambda of: Path(of).write_text(str(holder.data)) and None)
    job.depends_on(loader)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert str(job.exception).startswith(
        "out/x.txt did not run: its loader data failed on the Dask worker (pid ")
    assert "OSError: input/ is not mounted here" in str(job.exception)
    assert not os.path.exists("out/x.txt")


def test_failing_job_reports_exception_and_output(dask_graph):
    def fail(of):
        print("about to fail")
        raise ValueError("no good")

    job = ppg.FileGeneratingJob("out/fail.txt", fail)
    ok = ppg.FileGeneratingJob("out/ok.txt", lambda of: Path(of).write_text("ok") and None)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ValueError) and str(job.exception) == "no good"
    assert job.stdout == "about to fail\n"
    assert ok.was_run and read("out/ok.txt") == "ok"


def two_locked_commands(dask_graph) -> None:
    """A graph of two command jobs that write their start and stop times and share a lock."""
    dask_graph(resources={"lock": 1})
    for name in ("a", "b"):
        ppg.CommandJob([f"out/{name}.1", f"out/{name}.2"],
                       f"date +%s.%N > out/{name}.1; sleep 0.3; date +%s.%N > out/{name}.2; echo done {name}",
                       ).needs("lock")


def test_command_jobs_and_named_resources_on_dask(dask_graph):
    """Command jobs run on Dask workers; named resources hold across the cluster."""
    two_locked_commands(dask_graph)
    ppg.run_pipegraph()
    spans = {name: (float(read(f"out/{name}.1")), float(read(f"out/{name}.2"))) for name in "ab"}
    (a1, a2), (b1, b2) = spans["a"], spans["b"]
    assert a2 <= b1 or b2 <= a1, spans  # the lock kept them apart, on two workers' threads
    assert read("logs/jobs/out_a.1_out_a.2/stdout") == "done a\n"
    two_locked_commands(dask_graph)
    ppg.run_pipegraph()
    assert spans["a"] == (float(read("out/a.1")), float(read("out/a.2")))  # unchanged: did not rerun


def test_unpicklable_job_is_named_before_anything_runs(dask_graph):
    lock = threading.Lock()
    ppg.FileGeneratingJob("out/a.txt", lambda of: Path(of).write_text("a") and None)
    ppg.FileGeneratingJob("out/locked.txt", lambda of: lock and None)
    with pytest.raises(ppg.PyPipeGraphError, match=r"out/locked.txt: its callback cannot be pickled"):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a.txt")


# --- faults ---------------------------------------------------------------------


def die_once(of):
    """Kills its worker process the first time; Dask reruns it on another worker."""
    if not os.path.exists("attempted"):
        Path("attempted").write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    Path(of).write_text(f"done in {os.getpid()}")


def test_killed_worker_reruns_job_elsewhere_then_fails_clearly(dask_graph, cluster):
    once = ppg.FileGeneratingJob("out/once.txt", die_once)
    always = ppg.FileGeneratingJob("out/always.txt", lambda of: os.kill(os.getpid(), signal.SIGKILL))
    always.depends_on(once)  # one after the other: a death also hits the worker's other tasks
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert read("out/once.txt") != f"done in {read('attempted')}"  # another process finished it
    assert once.was_run and not once.failed
    assert always.failed and not os.path.exists("out/always.txt")
    assert isinstance(always.exception, ppg.JobDiedException)
    assert str(always.exception).startswith(
        "out/always.txt did not finish: the Dask worker running it died (Dask reran it elsewhere until "
        "its limit of 'distributed.scheduler.allowed-failures' was reached)")
    cluster[1].wait_for_workers(2, timeout=30)  # the nannies restart the killed workers
    dask_graph()
    once = ppg.FileGeneratingJob("out/once.txt", die_once)
    ppg.FileGeneratingJob("out/always.txt", lambda of: Path(of).write_text("fixed") and None)
    ppg.run_pipegraph()
    assert not once.was_run  # recorded as done the first time
    assert read("out/always.txt") == "fixed"


def test_vanished_scheduler_stops_run_with_finished_work_recorded(ppg_dir):
    dask_bin = Path(sys.executable).parent / "dask"
    scheduler = subprocess.Popen([str(dask_bin), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", "sched.json"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(200):
            if os.path.exists("sched.json") and os.path.getsize("sched.json"):
                break
            time.sleep(0.05)
        worker = subprocess.Popen([str(dask_bin), "worker", "--scheduler-file", "sched.json", "--nthreads",
                                   "2", "--resources", "cores=2", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = distributed.Client(scheduler_file="sched.json", timeout="20s")
        ppg.new_pipegraph(resource_coordinator=ppg.DaskCoordinator(client, lost_after=2.0), quiet=True,
                          dump_graph=False)
        ppg.FileGeneratingJob("out/fast.txt", lambda of: Path(of).write_text("fast") and None)
        slow = ppg.FileGeneratingJob("out/slow.txt", lambda of: time.sleep(60))

        def kill_scheduler_after_fast():
            for _ in range(600):
                if os.path.exists("out/fast.txt"):
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            scheduler.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_scheduler_after_fast)
        killer.start()
        started = time.time()
        with pytest.raises(ClusterLost, match="Lost the Dask scheduler .* Finished jobs are recorded"):
            ppg.run_pipegraph()
        assert time.time() - started < 30
        killer.join()
        assert not slow.was_run
        client.close(timeout=2)
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.kill()
                proc.wait()
    ppg.new_pipegraph(quiet=True, dump_graph=False)  # locally: only the unfinished job runs
    fast = ppg.FileGeneratingJob("out/fast.txt", lambda of: Path(of).write_text("fast") and None)
    slow = ppg.FileGeneratingJob("out/slow.txt", lambda of: Path(of).write_text("slow") and None)
    ppg.run_pipegraph()
    assert not fast.was_run and slow.was_run


# --- several pipelines, one cluster ------------------------------------------------

SHARING_SCRIPT = """
import os, sys, time
from pathlib import Path
import pypipegraph as ppg

def body(of, cores):
    start = time.time()
    time.sleep(0.3)
    Path(of).write_text(f"{start} {time.time()} {os.getpid()} {cores}\\n")

ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)
for i in range(6):
    job = ppg.FileGeneratingJob(f"out/{i}.txt", lambda of, i=i: body(of, 1 + i % 2))
    job.cores_needed = 1 + i % 2
Path("ready").touch()
while not Path("../go").exists():  # both pipelines start together
    time.sleep(0.02)
ppg.run_pipegraph()
"""


def test_two_pipelines_share_one_cluster(tmp_path, cluster):
    env = dict(os.environ, PYPIPEGRAPH_DASK_SCHEDULER=cluster[0].scheduler_address)
    procs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pipeline.py").write_text(SHARING_SCRIPT)
        procs.append(subprocess.Popen([sys.executable, "pipeline.py"], cwd=tmp_path / name, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 60
    while not all((tmp_path / name / "ready").exists() for name in ("first", "second")):
        assert time.time() < deadline and all(proc.poll() is None for proc in procs)
        time.sleep(0.02)
    (tmp_path / "go").touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    first, second = (intervals(tmp_path / name / "out" / f"{i}.txt" for i in range(6))
                     for name in ("first", "second"))
    assert max(r[0] for r in first) > min(r[1] for r in second)  # they ran at the same time
    assert max(r[0] for r in second) > min(r[1] for r in first)
    rows = first + second
    assert len({pid for _, _, pid, _ in rows}) <= 2  # only the cluster's workers ran jobs
    assert all(peak <= 2 for peak in max_cores_in_use(rows).values())


# --- Slurm via dask-jobqueue ---------------------------------------------------------


def test_slurm_job_script_in_docs_is_what_dask_jobqueue_renders():
    jobqueue = pytest.importorskip("dask_jobqueue")
    with jobqueue.SLURMCluster(queue="normal", account="mylab", cores=8, processes=1, memory="32GB",
                               walltime="04:00:00", worker_extra_args=["--resources", "cores=8"],
                               scheduler_options={"dashboard_address": ":0"}) as slurm:
        script = slurm.job_script()
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH -A mylab" in script
    assert "--nthreads 8" in script and "--resources cores=8" in script
    docs = (EXAMPLES.parent / "docs/cluster.md").read_text().split("## Per-job cluster settings")[0]
    rendered = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    documented = [line for line in docs.splitlines() if line.startswith("#SBATCH")]
    assert documented == rendered
    worker_line = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line][0]
    assert worker_line.split("--name dummy-name", 1)[1].strip() in docs



def test_report_gives_each_job_slot_of_a_worker_its_own_lane(dask_graph):
    """Dask workers run 2 jobs at once (threads): the report's lanes never overlap."""
    from pypipegraph.store.reader import StoreReader
    from pypipegraph.views.report import gather

    for i in range(6):
        ppg.FileGeneratingJob(f"out/{i}", lambda of: (time.sleep(0.3), Path(of).write_text("x"))[0])
    ppg.run_pipegraph()
    reader = StoreReader(".pypipegraph_status_robust")
    report = gather(reader)
    reader.close()
    jobs = report["jobs"]
    by_lane: dict = {}
    for start, dur, lane in zip(jobs["start"], jobs["dur"], jobs["lane"], strict=True):
        by_lane.setdefault(lane, []).append((start, start + dur))
    for spans in by_lane.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans
    assert len(by_lane) >= 3  # 6 jobs of 0.3 s on 2 workers x 2 slots overlapped
    assert any("/2" in name for name in report["lanes"]), report["lanes"]


# --- work functions calling work functions --------------------------------------------


@ppg.work
def dask_leaf(x):
    return x * 10


@ppg.work
def dask_branch(xs):
    return [dask_leaf(x) for x in xs]


@ppg.work
def dask_total(values):
    return sum(values)


def test_nested_work_calls_on_dask(dask_graph):
    """Calls made inside a running call on a Dask worker become jobs of the running graph."""
    result = dask_total(dask_branch([1, 2, 3]))
    ppg.run_pipegraph()
    assert result.value() == 60
    graph = ppg.util.global_pipegraph
    assert sum(job_id.startswith("dask_leaf#") and not job.is_invariant for job_id, job in graph.jobs.items()) == 3
    dask_graph()
    result = dask_total(dask_branch([1, 2, 3]))
    ppg.run_pipegraph()
    assert result.value() == 60
    assert not any(job.was_run for job_id, job in ppg.util.global_pipegraph.jobs.items()
                   if job_id.startswith(("dask_leaf#", "dask_total#")) and not job.is_invariant)


def test_resource_use_and_state_come_back_from_dask_workers(ppg_dir):
    """On Dask the worker measures: the job's thread's CPU time, the rise of the worker
    process's peak RSS, its host; a state set with ppg.set_state travels back with the
    result. A worker of its own: the peak of one that ran other tests may be higher already."""
    import socket

    from pypipegraph.store.reader import StoreReader

    def busy(of):
        block = bytearray(64 << 20)
        block[::4096] = b"x" * len(block[::4096])
        total = sum(range(3_000_000))
        ppg.set_state("counted")
        Path(of).write_text(str(total))

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"cores": 1},
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        ppg.new_pipegraph(resource_coordinator=ppg.DaskCoordinator(client), quiet=True, dump_graph=False)
        ppg.FileGeneratingJob("out/busy", busy)
        ppg.run_pipegraph()
    reader = StoreReader(".pypipegraph_status_robust")
    row, = reader.job_runs(job_id="out/busy")
    reader.close()
    # about the 64 MiB it allocated: in a Dask worker's thread, the rise of the worker's peak
    # (memory the worker freed before may be reused, so a little less can show)
    assert row.cpu > 0.02 and 48 << 20 <= row.rss < 256 << 20
    assert row.host == socket.gethostname() and row.state == "counted" and row.exit_status == 0
    assert row.worker != os.getpid()


def test_generating_job_runs_in_the_master_on_dask(dask_graph):
    """As locally: the generator's callback runs in the master (its pid), changes the
    master's object, and the jobs it creates run on the cluster with that state."""
    holder = Holder()
    holder.mode = "before"

    def generate():
        holder.mode = "set in the master"
        Path("out/generator_pid.txt").write_text(str(os.getpid()))
        ppg.FileGeneratingJob("out/g.txt", lambda of: Path(of).write_text(holder.mode) and None)

    gen = ppg.JobGeneratingJob("gen", generate)
    ppg.run_pipegraph()
    assert gen.was_run and read("out/generator_pid.txt") == str(os.getpid())
    assert read("out/g.txt") == "set in the master"
