"""What a Dask worker needs of a pipeline, declared by the master: the job list to
unpickle and, per job, the loaders to run first.

Invariant: the Dask executor knows neither the graph nor job classes; this module is
where the master decides what travels. The job list (with the graph, minus its resource
coordinator, and a probe function carrying the script's globals) is pickled in one
cloudpickle `dumps`, so `__main__` functions share one globals dict on the worker. Code
that travels by value keeps its file name (cloudpickle would write "<dynamic-code>"), and
the source of those files travels with it, so a worker's traceback names the script's
file and line and shows the line as it was when the job list was written. The script's
own classes and functions travel by value too, so a worker whose `__main__` is not the
script reads values that name them. A job whose callback cannot be pickled is named in
the error.
"""

from __future__ import annotations

import io
import linecache
import marshal
import pickle
import sys
import types

import cloudpickle

from ..errors import PyPipeGraphError
from ..plumbing.script_functions import adopt, script_names

_PROBE = compile("None", "<pypipegraph>", "eval")


class Shipment:
    """`dump()` and `loaders_of(job index)` for the DaskExecutor of one run's `jobs` (a list
    the scheduler extends with generated jobs)."""

    def __init__(self, graph, jobs: list, coordinator):
        self.graph = graph
        self.jobs = jobs
        self.coordinator = coordinator  # stays home: it holds the Dask client
        self._index: dict = {}  # job -> index in jobs
        self._loaders: dict = {}  # job index -> loader indices it needs, upstream first

    def dump(self) -> bytes:
        self._loaders.clear()  # jobs were added: injections may have changed what jobs need
        return dump_job_list(self.graph, self.jobs, self.coordinator)

    def loaders_of(self, job_index: int) -> tuple:
        loaders = self._loaders.get(job_index)
        if loaders is None:
            if len(self._index) != len(self.jobs):
                self._index = {job: i for i, job in enumerate(self.jobs)}
            loaders = self._loaders[job_index] = tuple(
                self._index[up] for up in needed_loaders(self.jobs[job_index]))
        return loaders


def needed_loaders(job) -> list:
    """The master-run loaders `job` reads from, transitively, upstream first."""
    order: list = []
    seen: set = set()

    def visit(node) -> None:
        for up in node.prerequisites:
            if up.lazy and up.runs_in == "master" and up not in seen:
                seen.add(up)
                visit(up)
                order.append(up)

    visit(job)
    return order


def dump_job_list(graph, jobs: list, rc) -> bytes:
    """Pickle the graph and its jobs in one go; the coordinator `rc` (a Dask client) stays home."""

    files: set = set()

    class _Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj):
            if obj is rc:
                return (type(None), ())
            if type(obj) is types.CodeType:  # by value: keep co_filename, note the file
                files.add(obj.co_filename)
                return (marshal.loads, (marshal.dumps(obj),))
            return super().reducer_override(obj)

    main = sys.modules.get("__main__")
    # pickled with the script's functions, so it shares their globals on the worker
    probe = types.FunctionType(_PROBE, main.__dict__) if main is not None else None
    buffer = io.BytesIO()
    try:
        pickler = _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump((graph, jobs, probe))
        pickler.dump(sources_of(files))
    except Exception as exc:
        raise PyPipeGraphError(_unpicklable(jobs, exc)) from exc
    end = buffer.tell()
    try:  # the script's own classes and functions, by value: values name them (script_functions)
        pickler.dump(script_names(main.__dict__) if main is not None else {})
    except Exception:  # noqa: BLE001 - one that does not travel is simply not known there
        buffer.seek(end)
        buffer.truncate()
        pickler.dump({})
    return buffer.getvalue()


def sources_of(files: set) -> dict:
    """{file name: source text} of the files whose code travels (as the master reads them
    now, from disk or from linecache: notebook cells are there too)."""
    sources = {}
    for name in files:
        if name.startswith("<") and name.endswith(">"):
            continue
        lines = linecache.getlines(name)
        if lines:
            sources[name] = "".join(lines)
    return sources


def load_job_list(blob: bytes) -> tuple:
    """(graph, jobs, probe) of `dump_job_list`'s bytes; the shipped sources are put into
    this process's linecache, so tracebacks show the lines of the code that ran."""
    unpickler = pickle.Unpickler(io.BytesIO(blob))  # one memo: the second part refers to the first
    graph, jobs, probe = unpickler.load()
    for name, text in unpickler.load().items():
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)  # mtime None: kept
    try:
        names = unpickler.load()
    except EOFError:  # a job list without the script's names
        names = {}
    adopt(names)  # used only where `__main__` does not have a name (a fresh Python)
    return graph, jobs, probe


def _unpicklable(jobs: list, exc: Exception) -> str:
    """Name the first job whose callback cannot travel to a worker."""
    for job in jobs:
        for name in ("callback", "calc_function", "plot_function", "store_function"):
            func = getattr(job, name, None)  # set on the job (a slot or its __dict__)
            if func is None:
                continue
            try:
                cloudpickle.dumps(func)
            except Exception as job_exc:  # noqa: BLE001 - the first offender is named
                return (f"{job.job_id}: its {name} cannot be pickled for the Dask workers "
                        f"({type(job_exc).__name__}: {job_exc}). Functions and the values they capture "
                        "must be picklable (cloudpickle) to run on a cluster; create unpicklable "
                        "objects inside the function.")
    return (f"The jobs could not be pickled for the Dask workers ({type(exc).__name__}: {exc}). "
            "Functions and the values they capture must be picklable (cloudpickle) to run on a cluster.")
