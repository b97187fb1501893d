"""What a user sees of a Dask run: running versus queued jobs, the worker's host and
pid, and tracebacks naming the script's file and line with the source line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402
from test_dask import cluster, dask_graph  # noqa: E402

import pypipegraph as ppg  # noqa: E402

FIXTURES = (cluster, dask_graph)  # test_dask.py's, used by the tests below
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Sampler(ppg.Listener):
    """Looks at the scheduler as the console does, on every tick of the run."""

    def __init__(self):
        self.samples = []

    def on_run_started(self, scheduler):
        self.scheduler = scheduler

    def on_tick(self):
        self.samples.append((self.scheduler.progress(), self.scheduler.running_jobs(hosts=True),
                             self.scheduler.queued_jobs()))

    started = time.time()


def test_queued_tasks_are_not_counted_as_running(dask_graph):
    """Six 2-core jobs on two 2-core workers: 2 run at a time, the others queue in Dask."""
    sampler = Sampler()
    ppg.util.global_pipegraph.listeners.append(sampler)
    for i in range(6):
        job = ppg.FileGeneratingJob(f"out/{i}", lambda of: (time.sleep(1.0),
                                                            Path(of).write_text(f"{os.getpid()}"))[0])
        job.cores_needed = 2
    ppg.run_pipegraph()
    pids = {int(Path(f"out/{i}").read_text()) for i in range(6)}
    assert sampler.samples
    for progress, running, queued in sampler.samples:
        assert progress["running"] == len(running) <= 2
        assert progress["queued"] == len(queued)
        for _job, _started, cores, pid, host in running:
            assert cores == 2 and pid in pids and host == socket.gethostname()
    assert any(progress["queued"] >= 2 for progress, *_ in sampler.samples)
    assert any(len(running) == 2 for _, running, _ in sampler.samples)


def test_running_table_shows_the_worker_pid_not_zero(dask_graph):
    sampler = Sampler()
    ppg.util.global_pipegraph.listeners.append(sampler)
    ppg.FileGeneratingJob("out/slow", lambda of: (time.sleep(1.5), Path(of).write_text(str(os.getpid())))[0])
    ppg.run_pipegraph()
    rows = [row for _, running, _ in sampler.samples for row in running]
    assert rows and {row[3] for row in rows} == {int(Path("out/slow").read_text())}
    assert all(row[1] >= Sampler.started for row in rows)  # the worker's start, not 0


SCRIPT = '''\
import pypipegraph as ppg
from pathlib import Path


def edit_script(of):
    # the user edits the script while the run goes on: lines move down
    source = Path(__file__).read_text()
    Path(__file__).write_text("# edited\\n" * 5 + source)
    Path(of).write_text("edited")


def align(of):
    reads = {"sample": 1}
    return reads["missing sample"]


ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)
Path("logs").mkdir(exist_ok=True)
edit = ppg.FileGeneratingJob("out/edited", edit_script)
ppg.FileGeneratingJob("out/aligned", align).depends_on(edit)
try:
    ppg.run_pipegraph()
except ppg.RuntimeError:
    pass
'''


def test_worker_traceback_names_script_file_line_and_source(tmp_path, cluster):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYPIPEGRAPH_DASK_SCHEDULER=cluster[0].scheduler_address)
    proc = subprocess.run([sys.executable, "pipeline.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "logs/ppg_errors.txt").exists(), proc.stdout + proc.stderr
    errors = (tmp_path / "logs/ppg_errors.txt").read_text()
    assert "<dynamic-code>" not in errors
    assert f'File "{script}", line 14, in align\n    return reads["missing sample"]' in errors
    assert "KeyError: 'missing sample'" in errors
    assert (tmp_path / "pipeline.py").read_text().startswith("# edited")  # the file moved on, the
    # traceback shows the line of the code that ran (shipped with the job list)
