"""0.197's names, module layout and extension points on this engine (no reference needed),
and the id rules of issue 15 that belong to Job.verify_job_id (one file = one job id)."""

import importlib
import os
import warnings
from pathlib import Path

import pytest

import pypipegraph as ppg
from pypipegraph.jobs.invariants import UncountedValuesWarning


@pytest.mark.parametrize("module, names", [
    ("pypipegraph.ppg_exceptions", ["NothingChanged", "CommunicationFailure", "RuntimeException",
                                    "JobContractError", "CycleError", "JobDiedException", "PyPipeGraphError"]),
    ("pypipegraph.job", ["Job", "FileGeneratingJob", "function_to_str", "NotebookJob", "MemMappedDataLoadingJob",
                         "CombinedPlotJob", "FunctionInvariant"]),
    ("pypipegraph.graph", ["invariant_status_filename_default", "Pipegraph", "new_pipegraph", "run_pipegraph"]),
    ("pypipegraph.resource_coordinators", ["LocalSystem"]),
    ("pypipegraph.interactive", []),
    ("pypipegraph.testing", ["run_pipegraph", "force_load", "RaisesDirectOrInsidePipegraph"]),
    ("pypipegraph.testing.fixtures", ["new_pipegraph", "no_pipegraph", "both_ppg_and_no_ppg",
                                      "pytest_runtest_makereport"]),
    ("pypipegraph.utils.invariant_diff", ["main"]),
    ("pypipegraph.utils.filter_job_from_status", ["main"]),
    ("pypipegraph.utils.log_listen", ["main"]),
    ("pypipegraph", ["MemMappedDataLoadingJob", "CombinedPlotJob", "RuntimeException",
                     "assert_uniqueness_of_object", "NotebookJob"]),
    ("pypipegraph.util", ["assert_uniqueness_of_object", "checksum_file", "flatten_jobs", "stat",
                          "file_exists", "output_file_exists", "CPUs", "freeze", "load_invariant_stati",
                          "job_or_filename"]),
])
def test_0197_names_exist(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert hasattr(mod, name), f"{module}.{name}"


def test_util_helpers(new_pipegraph):
    Path("data.txt").write_text("abc")
    assert ppg.util.checksum_file("data.txt") == "900150983cd24fb0d6963f7d28e17f72"  # md5, as 0.197
    assert ppg.util.output_file_exists("data.txt") and not ppg.util.output_file_exists("nope")
    Path("empty").write_text("")
    assert ppg.util.file_exists("empty") and not ppg.util.output_file_exists("empty")
    assert ppg.util.freeze({"b": [1, 2], "a": {3}}) == (("a", frozenset({3})), ("b", (1, 2)))
    assert ppg.util.job_or_filename(None) == (None, [])
    name, [inv] = ppg.util.job_or_filename("data.txt", ppg.FileTimeInvariant)
    assert name == "data.txt" and isinstance(inv, ppg.FileTimeInvariant)
    a = ppg.FileGeneratingJob("out/a", lambda of: None)
    assert list(ppg.util.flatten_jobs([a, [[a], (a,)]])) == [a, a, a]
    assert ppg.util.CPUs() >= 1
    with pytest.raises(ValueError, match="JobList takes only jobs"):
        ppg.JobList([a, 5])


def test_plain_job_is_registered_and_subclassable(new_pipegraph):
    class Marker(ppg.Job):
        ran = []

        def run(self):
            Marker.ran.append(self.job_id)

    marker = Marker("marker")
    assert ppg.util.global_pipegraph.jobs["marker"] is marker
    assert ppg.Job.__new__(Marker, "marker") is marker
    out = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a")).depends_on(marker)
    assert marker in out.prerequisites and out.is_temp_job is False
    ppg.run_pipegraph()
    assert Marker.ran == ["marker"] and Path("out/a").read_text() == "a"


def test_same_id_other_class_is_contract_error(new_pipegraph):
    ppg.FileGeneratingJob("out/a", lambda of: None)
    with pytest.raises(ppg.JobContractError, match="Same job id, different job classes"):
        ppg.TempFileGeneratingJob("./out/a", lambda of: None)  # one file, one id


@pytest.mark.parametrize("spelling", ["./out/a.txt", "out//a.txt", "out/./a.txt", "out/x/../a.txt", "ABS"])
def test_one_file_one_job_id(new_pipegraph, spelling):
    if spelling == "ABS":
        spelling = os.path.join(os.getcwd(), "out/a.txt")
    job = ppg.FileGeneratingJob("out/a.txt", lambda of: open(of, "w").write("a"))
    assert ppg.FileGeneratingJob(spelling, job.callback) is job
    assert ppg.Job.verify_job_id(spelling) == "out/a.txt"
    dependant = ppg.FileGeneratingJob("out/b.txt", lambda of: open(of, "w").write(open("out/a.txt").read()))
    assert dependant.depends_on_file(spelling) is job  # ordered after the job that writes it


def test_outside_the_project_stays_absolute():
    assert ppg.Job.verify_job_id("/etc//hosts") == "/etc/hosts"
    assert ppg.Job.verify_job_id(Path("plain")) == "plain"


def test_multi_file_ids_that_join_alike_are_an_error(new_pipegraph):
    ppg.MultiFileGeneratingJob(["a", "b:c"], lambda: None)
    with pytest.raises(ValueError, match="defined twice with different arguments"):
        ppg.MultiFileGeneratingJob(["a:b", "c"], lambda: None)


class Filter:
    def __init__(self, threshold):
        self.threshold = threshold

    def run(self, of):
        Path(of).write_text(str(self.threshold))


def test_bound_method_instance_values_warned(new_pipegraph):
    with pytest.warns(UncountedValuesWarning, match="threshold"):
        ppg.FileGeneratingJob("out/f", Filter(10).run)
        ppg.util.global_pipegraph.connect_graph()


def test_connect_graph_and_dump_pid(new_pipegraph):
    graph = ppg.util.global_pipegraph
    job = ppg.FileGeneratingJob("out/a", lambda of: None)
    job.depends_on(lambda: ppg.FileGeneratingJob("out/b", lambda of: None))
    graph.connect_graph()
    assert {j.job_id for j in job.prerequisites} == {"out/b", "out/a_func"}
    assert graph.dump_pid is None


def test_depends_on_func_and_implicit_invariant_ids(new_pipegraph):
    job = ppg.FileGeneratingJob("out/a", lambda of: None)
    assert job.depends_on_func("helper", len).job_id == "out/a_helper"
    assert job.depends_on_params(3).job_id == "PIout/a"
    assert [i.job_id for i in job.auto_invariants()] == ["out/a_func"]


def test_notebook_job_says_why():
    with pytest.raises(NotImplementedError, match="no longer available"):
        ppg.NotebookJob("analysis.ipynb")


def test_parameter_invariant_other_accept_func(new_pipegraph):
    ppg.ParameterInvariant("p", 1, lambda old: True)
    with pytest.raises(ValueError, match="different accept_as_unchanged_func"):
        ppg.ParameterInvariant("p", 1, lambda old: False)


def test_mem_mapped_data_loading_job(new_pipegraph):
    numpy = pytest.importorskip("numpy")
    seen = {}
    job = ppg.MemMappedDataLoadingJob("out/mm", lambda: numpy.arange(5, dtype=numpy.int32),
                                      lambda data: seen.update(total=int(data.sum())), numpy.int32)
    ppg.FileGeneratingJob("out/sum", lambda of: open(of, "w").write(str(seen["total"]))).depends_on(job)
    ppg.run_pipegraph()
    assert Path("out/sum").read_text() == "10"


def test_helper_jobs_hold_no_back_reference(new_pipegraph):
    pytest.importorskip("matplotlib")
    plot = ppg.PlotJob("out/p.png", lambda: __import__("pandas").DataFrame({"x": [1]}), lambda df: None)
    cached = ppg.CachedDataLoadingJob("cache/c", lambda: 1, lambda v: None)
    for helper, parent in ((plot.cache_job, plot), (plot.table_job, plot), (cached.lfg, cached)):
        assert not any(value is parent for value in vars(helper).values())


def test_fixture_module_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(importlib.import_module("pypipegraph.testing.fixtures"))


def test_injection_returned_and_injected_by_hand_runs_once(new_pipegraph):
    summary = ppg.FileGeneratingJob("out/summary", lambda of: open(of, "w").write(open("out/part").read()))

    def inject():
        part = ppg.FileGeneratingJob("out/part", lambda of: open(of, "w").write("part"))
        summary.depends_on(part)
        return [part]

    summary.depends_on(ppg.DependencyInjectionJob("inject", inject))
    ppg.run_pipegraph()
    assert Path("out/summary").read_text() == "part"


def test_injection_of_an_unreachable_job_is_case_1(new_pipegraph):
    summary = ppg.FileGeneratingJob("out/summary", lambda of: open(of, "w").write("s"))

    def inject():
        ppg.FileGeneratingJob("out/orphan", lambda of: open(of, "w").write("o"))

    summary.depends_on(ppg.DependencyInjectionJob("inject", inject))
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    job = ppg.util.global_pipegraph.jobs["inject"]
    assert isinstance(job.exception, ppg.JobContractError)
    assert "(case 1)" in str(job.exception) and "out/orphan" in str(job.exception)
