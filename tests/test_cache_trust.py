"""Cache files, plot caches and futures' results are unpickled only when their content is
what the store recorded for the job that wrote them (issue 15 item 15, docs/security.md).

The attacker replaces a cache file between two runs with a pickle that would run code,
padded to the same size and given the recorded modification time, so that the rebuilder,
which trusts an unchanged (mtime, size), takes it for the job's own output."""

import os
import pickle
from pathlib import Path

import pytest

import pypipegraph as ppg

MARKER = "PLANTED_PICKLE_RAN"


class Planted:
    def __reduce__(self):
        return (os.mkdir, (MARKER,))


def plant(filename: str) -> None:
    """Replace `filename` by a code-running pickle of the same size and mtime."""
    before = os.stat(filename)
    evil = pickle.dumps(Planted())
    assert len(evil) <= before.st_size, "the test's cache value is too small to pad"
    Path(filename).write_bytes(evil + b"\0" * (before.st_size - len(evil)))
    os.utime(filename, ns=(before.st_atime_ns, before.st_mtime_ns))


def calc():
    return list(range(200))


def test_a_replaced_cache_file_with_forged_mtime_is_not_unpickled(new_pipegraph):
    os.mkdir("cache")
    store = {}
    ppg.CachedDataLoadingJob("cache/numbers", calc, lambda value: store.update(v=value))
    ppg.run_pipegraph()  # nothing needs the data: only the cache file is written
    assert Path("cache/numbers").exists()
    plant("cache/numbers")

    new_pipegraph.new_pipegraph()
    load = ppg.CachedDataLoadingJob("cache/numbers", calc, lambda value: store.update(v=value))
    out = ppg.FileGeneratingJob("out/sum.txt", lambda of: Path(of).write_text(str(sum(store["v"]))))
    out.depends_on(load)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert not os.path.exists(MARKER)
    assert "it is not the file cache/numbers wrote" in str(load.exception)
    assert not Path("out/sum.txt").exists()


def test_the_pipelines_own_cache_file_still_loads(new_pipegraph):
    os.mkdir("cache")
    store = {}
    ppg.CachedDataLoadingJob("cache/numbers", calc, lambda value: store.update(v=value))
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    load = ppg.CachedDataLoadingJob("cache/numbers", calc, lambda value: store.update(v=value))
    ppg.FileGeneratingJob("out/sum.txt", lambda of: Path(of).write_text(str(sum(store["v"])))).depends_on(load)
    ppg.run_pipegraph()
    assert Path("out/sum.txt").read_text() == str(sum(range(200)))


@ppg.work
def numbers(n):
    return list(range(n))


@ppg.work
def total(values):
    return sum(values)


def test_a_replaced_futures_result_is_not_unpickled(new_pipegraph):
    first = numbers(300)
    ppg.run_pipegraph()
    assert first.value() == list(range(300))
    plant(first.job.filenames[0])
    with pytest.raises(ppg.JobContractError, match="it is not the file"):
        first.value()  # after the run: checked against the store on disk
    new_pipegraph.new_pipegraph()
    again = total(numbers(300))
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert not os.path.exists(MARKER)
    assert "it is not the file" in str(again.job.exception)
