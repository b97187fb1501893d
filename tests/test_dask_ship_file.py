"""A Dask worker unpickles the shipped job list only if its content is what the master wrote."""

import os
import pickle

import pytest
import xxhash

pytest.importorskip("distributed")

from pypipegraph.errors import PyPipeGraphError  # noqa: E402
from pypipegraph.executors import dask_worker  # noqa: E402


class _Planted:
    def __reduce__(self):
        return (os.mkdir, ("PLANTED_RAN",))


def test_a_replaced_job_list_file_is_refused_unopened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    honest = pickle.dumps((None, [], None)) + pickle.dumps({})
    path = tmp_path / "jobs.pickle"
    path.write_bytes(pickle.dumps(_Planted()))  # a neighbour swapped the file
    with pytest.raises(PyPipeGraphError, match="not the job list the pipeline wrote"):
        dask_worker._replica("token-a", 0, str(path), xxhash.xxh3_64_intdigest(honest))
    assert not (tmp_path / "PLANTED_RAN").exists()


def test_the_job_list_the_master_wrote_is_loaded(tmp_path):
    honest = pickle.dumps((None, ["a job"], None)) + pickle.dumps({})
    path = tmp_path / "jobs.pickle"
    path.write_bytes(honest)
    replica = dask_worker._replica("token-b", 0, str(path), xxhash.xxh3_64_intdigest(honest))
    assert replica.jobs == ["a job"]
