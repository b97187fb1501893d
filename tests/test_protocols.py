"""Every backend and every store against its protocol, for real.

The executors (fresh process per job, reused workers, in the master, a Dask LocalCluster,
a submit command) run real jobs through a pipeline and are checked against
`executors.Executor` / `WorkerHandle` while they do; the stores (the SQLite writer, the
read-only reader, the unit tier's in-memory store) against `store.RecordStore` /
`RecordReader`, with a record written through one and read through the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cloudpickle
import pytest
from unit.conftest import MemoryStore

import pypipegraph as ppg
from pypipegraph.executors import Executor, InMaster, WorkerHandle
from pypipegraph.executors.master import InMasterExecutor
from pypipegraph.store import RecordReader, RecordStore
from pypipegraph.store.format import Record
from pypipegraph.store.reader import StoreReader
from pypipegraph.store.writer import History

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # submit workers cannot import tests


class Conformance(ppg.Listener):
    """Checks the running scheduler's executor and its handles at every job start."""

    def __init__(self):
        self.checked = 0
        self.problems: list[str] = []
        self.scheduler = None

    def on_run_started(self, scheduler) -> None:
        self.scheduler = scheduler
        if not isinstance(scheduler.executor, Executor):
            self.problems.append(f"{type(scheduler.executor).__name__} is not an Executor")
        if not isinstance(scheduler.in_master, InMaster):
            self.problems.append("the in-master executor is not InMaster")

    def on_job_started(self, job, cores) -> None:
        executor = self.scheduler.executor
        running, queued = executor.states()
        if not (isinstance(running, int) and (queued is None or isinstance(queued, int))):
            self.problems.append(f"states() gave {(running, queued)!r}")
        for handle in executor.running():
            if not isinstance(handle, WorkerHandle):
                self.problems.append(f"{type(handle).__name__} is not a WorkerHandle")
            elif handle.state not in {"queued", "running", "done"} or not isinstance(handle.host, str):
                self.problems.append(f"handle state {handle.state!r} host {handle.host!r}")
        self.checked += 1


def write(of):
    Path(of).write_text("ran")


def pipeline(**kwargs) -> Conformance:
    ppg.new_pipegraph(quiet=True, dump_graph=False, **kwargs)
    conformance = Conformance()
    ppg.util.global_pipegraph.listeners.append(conformance)
    for i in range(3):
        ppg.FileGeneratingJob(f"out/{i}.txt", write)
    return conformance


def assert_ran(conformance: Conformance) -> None:
    assert conformance.problems == []
    assert conformance.checked >= 3
    assert all(Path(f"out/{i}.txt").read_text() == "ran" for i in range(3))


@pytest.mark.parametrize("reuse", [False, True], ids=["fresh-process-per-job", "reused-workers"])
def test_local_executors_follow_the_protocol(ppg_dir, reuse):
    conformance = pipeline(reuse_workers=reuse)
    ppg.run_pipegraph()
    assert_ran(conformance)


def test_the_in_master_executor_follows_its_protocol(ppg_dir):
    ppg.new_pipegraph(quiet=True, dump_graph=False)
    holder = {}
    loader = ppg.DataLoadingJob("load", lambda: holder.setdefault("x", 1))
    result = InMasterExecutor().run(loader)
    assert isinstance(InMasterExecutor(), InMaster)
    assert result.ok and holder == {"x": 1}


def test_the_dask_executor_follows_the_protocol(ppg_dir):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  resources={"cores": 2}, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        conformance = pipeline(resource_coordinator=ppg.DaskCoordinator(client))
        ppg.run_pipegraph()
    assert_ran(conformance)


SUBMIT = """#!/bin/sh
for script; do :; done
sh "$script" > /dev/null 2>&1 &
echo "Submitted batch job $$"
"""


def test_the_submit_executor_follows_the_protocol(ppg_dir):
    command = ppg_dir / "submit"
    command.write_text(SUBMIT)
    command.chmod(0o755)
    conformance = pipeline(resource_coordinator=ppg.SubmitCoordinator(f"{command} {{script}}"))
    ppg.run_pipegraph()
    assert_ran(conformance)


def a_record() -> Record:
    ppg.new_pipegraph(quiet=True, dump_graph=False)
    ppg.FileGeneratingJob("out/a.txt", write)
    ppg.run_pipegraph()
    with History(".pypipegraph_status_robust") as store:
        return store.get("out/a.txt")


def test_every_store_follows_its_protocol(ppg_dir):
    record = a_record()
    assert record is not None
    for store in [History(".pypipegraph_status_robust"), MemoryStore()]:
        assert isinstance(store, RecordStore), type(store).__name__
    assert isinstance(StoreReader(".pypipegraph_status_robust"), RecordReader)
    memory = MemoryStore()
    memory.put("x", record)
    assert memory.get("x") == record and memory.record_count() == 1 and memory.failures() == {}


def test_what_the_writer_puts_the_reader_gets(ppg_dir):
    record = a_record()
    with History(".pypipegraph_status_robust") as writer:
        writer.put("copy", record)
        writer.delete("out/a.txt")
        count = writer.record_count()
        failures = writer.failures()
    reader = StoreReader(".pypipegraph_status_robust")
    assert reader.get("copy") == record
    assert reader.get("out/a.txt") is None
    assert reader.record_count() == count
    assert reader.failures() == failures == {}
