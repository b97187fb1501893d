"""Differential tests: when cleanup runs, the contract checks and messages callers match,
and the internal API libraries use behave as in pypipegraph 0.197 (tests/compat_harness.py).

Each test runs one script under 0.197 and under this engine and asserts both report the
same; a few add what only this engine has (reused workers). Skipped without the reference.
"""

import subprocess

import pytest
from compat_harness import assert_same, needs_reference, reference_python

pytestmark = needs_reference


def _needs_plot_libraries() -> None:
    python = reference_python()
    if python and subprocess.run([python, "-c", "import pandas, plotnine"], capture_output=True).returncode:
        pytest.skip("pandas/plotnine missing in the reference interpreter")


# --- cleanup timing ------------------------------------------------------------------


def test_a_loader_feeding_only_a_loader_keeps_its_attribute_until_the_file_job_ran(tmp_path):
    script = '''
new_graph()
class Heatmap:
    pass
h = Heatmap()
raw = ppg.AttributeLoadingJob("raw_load", h, "raw_data_", lambda: {"x": 1})
norm = ppg.AttributeLoadingJob("norm_load", h, "norm", lambda: h.raw_data_["x"] + 1).depends_on(raw)
def write(of):
    open(of, "w").write("%s %s" % (h.raw_data_["x"], h.norm))
out = ppg.FileGeneratingJob("out/heat", write).depends_on(norm)
run("out/heat")
emit("left in the master", sorted(vars(h)))
files("out/heat")
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["files", {"out/heat": "1 2"}]


def test_a_cleanup_hook_set_on_the_instance_is_called(tmp_path):
    script = '''
new_graph()
calls = []
dl = ppg.DataLoadingJob("load", lambda: None)
dl.cleanup = lambda: calls.append("cleanup")
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a")).depends_on(dl)
run("out/a")
emit("calls", calls)
'''
    ours = assert_same(tmp_path, script)
    assert ["calls", ["cleanup"]] in ours[0]


CLEANED_ATTRIBUTE = '''
new_graph()
class O:
    pass
o = O()
load = ppg.AttributeLoadingJob("load", o, "a", lambda: "loaded")
first = ppg.FileGeneratingJob("out/first", lambda of: open(of, "w").write(o.a)).depends_on(load)
second = ppg.FileGeneratingJob(
    "out/second", lambda of: open(of, "w").write(str(getattr(o, "a", "<no attribute>")))).depends_on(first)
third = ppg.FileGeneratingJob(
    "out/third", lambda of: open(of, "w").write(str(getattr(o, "a", "<no attribute>")))).depends_on(second)
run("out/first", "out/second", "out/third")
files("out/first", "out/second", "out/third")
'''


def test_a_deleted_attribute_is_not_seen_by_jobs_started_later(tmp_path):
    ours = assert_same(tmp_path, CLEANED_ATTRIBUTE)
    assert ours[0][-1] == ["files", {"out/first": "loaded", "out/second": "<no attribute>",
                                     "out/third": "<no attribute>"}]


def test_cleanup_if_never_run_removes_a_stale_temp_file(tmp_path):
    script = '''
new_graph()
if STEP == 0:
    open("out/temp", "w").write("stale")
t = ppg.TempFileGeneratingJob("out/temp", lambda of: open(of, "w").write("t"))
t.do_cleanup_if_was_never_run = True
run("out/temp")
emit("stale temp left", os.path.exists("out/temp"))
'''
    ours = assert_same(tmp_path, script)
    assert ["stale temp left", False] in ours[0]


# --- contract checks and messages ----------------------------------------------------------


def test_redefining_a_loader_with_another_target_is_a_contract_error(tmp_path):
    script = '''
new_graph()
class O:
    pass
o1, o2 = O(), O()
def calc():
    return 1
ppg.AttributeLoadingJob("load", o1, "a", calc)
attempt("other attribute", lambda: ppg.AttributeLoadingJob("load", o1, "b", calc))
attempt("other object", lambda: ppg.AttributeLoadingJob("load", o2, "a", calc))
ppg.CachedAttributeLoadingJob("cache/c", o1, "c", calc)
attempt("cached, other object", lambda: ppg.CachedAttributeLoadingJob("cache/c", o2, "c", calc))
attempt("same again", lambda: ppg.AttributeLoadingJob("load", o1, "a", calc))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][1] == ["other object", ["JobContractError", True, True]]


def test_cached_data_loading_job_checks_callability_before_anything_else(tmp_path):
    script = '''
new_graph()
def show(label, func):
    try:
        func()
        emit(label, None)
    except Exception as exc:
        emit(label, [type(exc).__name__, str(exc)[:40]])
show("store not callable", lambda: ppg.CachedDataLoadingJob("cache/a", lambda value: 55, "not callable"))
show("calc takes an argument", lambda: ppg.CachedDataLoadingJob("cache/b", lambda value: 55, lambda v: None))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["store not callable", ["ValueError", "loading_function was not a callable"]]


def test_run_of_a_non_generating_job_returning_a_value_fails_it(tmp_path):
    script = '''
new_graph()
class Returns(ppg.FileGeneratingJob):
    def run(self):
        open(self.job_id, "w").write("x")
        return 55
class ReturnsNone(ppg.FileGeneratingJob):
    def run(self):
        open(self.job_id, "w").write("x")
j = Returns("out/a", lambda: None)
k = ReturnsNone("out/b", lambda: None)
run("out/a", "out/b")
emit("message", str(j.exception)[:60])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["message", "Job returned a value (which should be new jobs generated her"]


def test_message_of_a_loader_creating_a_job(tmp_path):
    script = '''
new_graph()
def load():
    ppg.FileGeneratingJob("out/other", lambda of: None)
dl = ppg.DataLoadingJob("load", load)
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("x")).depends_on(dl)
try:
    ppg.run_pipegraph()
except ppg.RuntimeError:
    pass
emit("message", [type(dl.exception).__name__, str(dl.exception)[:98]])
emit("defined", "out/other" in ppg.util.global_pipegraph.jobs)
'''
    assert_same(tmp_path, script)


def test_message_of_non_iterable_filenames(tmp_path):
    script = '''
new_graph()
for cls in (ppg.MultiFileGeneratingJob, ppg.MultiTempFileGeneratingJob):
    try:
        cls(25, lambda: None)
    except Exception as exc:
        emit(cls.__name__, [type(exc).__name__, str(exc)])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["MultiFileGeneratingJob", ["TypeError", "filenames was not iterable"]]


def test_messages_of_final_job_dependencies(tmp_path):
    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: None)
f = ppg.FinalJob("final", lambda: None)
for label, call in (("on final", lambda: a.depends_on(f)), ("final on", lambda: f.depends_on(a))):
    try:
        call()
    except ppg.JobContractError as exc:
        emit(label, str(exc)[:93])
'''
    assert_same(tmp_path, script)


def test_message_of_a_plot_calculation_not_returning_a_dataframe(tmp_path):
    _needs_plot_libraries()
    script = '''
import plotnine as p9
new_graph()
p = ppg.PlotJob("out/a.png", lambda: None, lambda df: p9.ggplot(df) + p9.geom_point())
q = ppg.PlotJob("out/b.png", lambda: {"x": 5}, lambda df: p9.ggplot(df) + p9.geom_point())
try:
    ppg.run_pipegraph()
except ppg.RuntimeError:
    pass
emit("messages", [str(p.cache_job.exception)[:80], str(q.cache_job.exception)[:80]])
'''
    assert_same(tmp_path, script)


def test_str_of_function_invariants_and_job_lists(tmp_path):
    script = '''
import re
new_graph()
def f():
    pass
def shown(job):
    return re.sub(r"id=[0-9]+", "id=N", re.sub(r"/[^ ]*script.py", "script.py", str(job)))
emit("builtin", shown(ppg.FunctionInvariant("open", open)))
emit("function", shown(ppg.FunctionInvariant("f", f)))
emit("none", shown(ppg.FunctionInvariant("none", None)))
jobs = ppg.JobList([ppg.FileGeneratingJob("out/a", lambda of: None), ppg.FunctionInvariant("fi", open)])
emit("job list", shown(jobs).split(":")[0])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["builtin", "FunctionInvariant (job_id=open,id=N, Function: <built-in function open>)"]


def test_message_of_an_injection_into_a_job_that_does_not_depend_on_the_injector(tmp_path):
    script = '''
new_graph()
class O:
    pass
o = O()
other = ppg.FileGeneratingJob("out/other", lambda of: open(of, "w").write("x"))
def inject():
    other.depends_on(ppg.AttributeLoadingJob("dl", o, "a", lambda: 1))
di = ppg.DependencyInjectionJob("inject", inject)
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("x")).depends_on(di)
try:
    ppg.run_pipegraph()
except ppg.RuntimeError:
    pass
message = " ".join(str(di.exception).split())
emit("message", [type(di.exception).__name__, "was not dependand on the DependencyInjectionJob" in message])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["message", ["JobContractError", True]]


# --- internal API ----------------------------------------------------------------------


def test_edges_are_released_after_the_run(tmp_path):
    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b")).depends_on(a)
emit("before", sorted(j.job_id for j in b.prerequisites))
run("out/a", "out/b")
emit("after", [b.prerequisites, a.dependants])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["after", [None, None]]


def test_invariant_job_base_class_refuses_dependencies(tmp_path):
    script = '''
new_graph()
from pypipegraph.job import _InvariantJob
inv = _InvariantJob("A")
emit("registered", ppg.util.global_pipegraph.jobs["A"] is inv)
attempt("depends_on", lambda: inv.depends_on(ppg.FileGeneratingJob("out/b", lambda of: None)))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][1] == ["depends_on", ["JobContractError", True, True]]


def test_connect_graph_makes_final_jobs_depend_on_the_sinks(tmp_path):
    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write(open("out/a").read() + "b")).depends_on(a)
c = ppg.FileGeneratingJob("out/c", lambda of: open(of, "w").write("c"))
c.ignore_code_changes()
ran = []
f = ppg.FinalJob("final", lambda: ran.append(sorted(os.listdir("out"))))
ppg.util.global_pipegraph.connect_graph()
emit("final's prerequisites", sorted(j.job_id for j in f.prerequisites))
emit("b's dependants", sorted(j.job_id for j in b.dependants))
run("out/a", "out/b", "out/c", "final")
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["final's prerequisites", ["out/b", "out/c"]]


def test_load_of_a_job_that_does_not_load(tmp_path):
    script = '''
new_graph()
attempt("plain job", lambda: ppg.Job("plain").load())
attempt("file job", lambda: ppg.FileGeneratingJob("out/a", lambda of: None).load())
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["plain job", ["ValueError", True, False]]


def test_dump_graph_writes_the_gml_in_a_child_to_wait_for(tmp_path):
    script = '''
ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(2, interactive=False), quiet=True, dump_graph=True)
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
ppg.run_pipegraph()
pid = ppg.util.global_pipegraph.dump_pid
emit("dump_pid", type(pid).__name__)
emit("waited", os.waitpid(pid, 0)[0] == pid)
text = open("logs/ppg_graph.gml").read()
emit("gml names the job", "out/a" in text)
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["dump_pid", "int"]


def test_pruned_jobs_name_the_job_that_was_pruned(tmp_path):
    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b")).depends_on(a)
b.prune()
c = ppg.FileGeneratingJob("out/c", lambda of: open(of, "w").write("c")).depends_on(b)
d = ppg.FileGeneratingJob("out/d", lambda of: open(of, "w").write("d")).depends_on(c)
f = ppg.FinalJob("final", lambda: None)
run("out/a", "out/c")
emit("_pruned", [a._pruned, b._pruned, c._pruned, d._pruned, f._pruned])
files("out/a", "out/b", "out/c")
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-2] == ["_pruned", [False, "out/b", "out/b", "out/b", False]]


def test_pruning_a_plot_job_prunes_its_calculation(tmp_path):
    _needs_plot_libraries()
    script = '''
import pandas as pd, plotnine as p9
new_graph()
j = ppg.PlotJob("out/a.png", lambda: pd.DataFrame({"x": [1, 2]}),
                lambda df: p9.ggplot(df, p9.aes("x", "x")) + p9.geom_point())
j.prune()
run()
emit("written", [os.path.exists(name) for name in ("cache/out/a.png", "out/a.png", "out/a.png.tsv")])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["written", [False, False, False]]


def test_the_pypipegraph_logger_gets_info_and_debug_records(tmp_path):
    script = '''
import logging
levels = set()
class Collect(logging.Handler):
    def emit(self, record):
        levels.add(record.levelname)
logger = logging.getLogger("pypipegraph")
logger.addHandler(Collect())
logger.setLevel(logging.DEBUG)
new_graph()
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
run("out/a")
emit("levels", sorted(levels & {"DEBUG", "INFO"}))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["levels", ["DEBUG", "INFO"]]


def test_util_stat_caches_for_a_second(tmp_path):
    script = '''
new_graph()
open("in.txt", "w").write("a")
first = ppg.util.stat("in.txt")
os.unlink("in.txt")
emit("cached", ppg.util.stat("in.txt").st_size == first.st_size)
attempt("other file", lambda: ppg.util.stat("missing.txt"))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["cached", True]


def test_start_and_stop_times_span_the_whole_job_in_the_master(tmp_path):
    script = '''
import time
new_graph(cores=2)
def work(name):
    def write(of):
        t0 = time.time()
        open(of, "w").write(name)
        open(of + ".t", "w").write("%r %r" % (t0, time.time()))
    return write
a = ppg.FileGeneratingJob("out/a", work("a"))
b = ppg.FileGeneratingJob("out/b", work("b"))
run("out/a", "out/b")
inside = [float(x) for x in open("out/a.t").read().split()]
emit("encloses the callback", a.start_time <= inside[0] and inside[1] <= a.stop_time)
emit("two trivial jobs overlap", a.start_time < b.stop_time and b.start_time < a.stop_time)
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["two trivial jobs overlap", True]



def test_outcome_flags_ids_and_questions_of_each_kind_of_job(tmp_path):
    """was_run / was_loaded, 0.197's is_loadable, runs_in_worker, modifies_jobgraph and
    is_done, and the graph's job ids, before and after a cold run and a no-op rerun."""
    script = '''
new_graph()
class O:
    pass
o, store = O(), {}
load = ppg.DataLoadingJob("load", lambda: store.update(x=1))
attr = ppg.AttributeLoadingJob("attr", o, "y", lambda: 5)
gen = ppg.JobGeneratingJob("gen", lambda: None)
def write(of):
    open(of, "w").write("%s %s" % (store["x"], o.y))
out = ppg.FileGeneratingJob("out/a", write).depends_on(load, attr)
param = ppg.ParameterInvariant("param", 1)
out.depends_on(param)
empty = ppg.FileGeneratingJob("out/empty", lambda of: open(of, "w").close(), empty_ok=True)
kinds = [load, attr, gen, out, param, empty, ppg.FinalJob("final", lambda: None)]
def state():
    return {j.job_id: [bool(j.was_run), bool(getattr(j, "was_loaded", False)), j.is_loadable(),
                       j.runs_in_worker(), j.modifies_jobgraph(), bool(j.is_done())] for j in kinds}
emit("before", state())
run()
emit("after", state())
emit("ids", sorted(ppg.util.global_pipegraph.jobs))
'''
    ours = assert_same(tmp_path, script, steps=2)
    assert ours[0][-2][1]["load"][:2] == [False, True]  # a loader was loaded, not run
    assert ours[0][-2][1]["PIparam"][0] is True  # invariants count as run once checked
    assert ours[0][0][1]["out/empty"][-1] is False  # empty_ok: done only once the file exists
    assert ours[0][-2][1]["out/empty"][-1] is True


def test_graph_attributes_code_for_0197_reads(tmp_path):
    script = '''
new_graph()
g = ppg.util.global_pipegraph
seen = {}
def gen():
    ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b"))
    seen["during"] = sorted(g.new_jobs)
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
ppg.JobGeneratingJob("gen", gen)
emit("before", [g.was_run, g.new_jobs, g.logger.name, g.job_uniquifier["out/a"] is a,
                g.filename_collider_check["out/a"] is a, g.do_dump_graph])
run()
emit("after", [g.was_run, g.new_jobs, seen["during"]])
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][-1] == ["after", [True, False, ["out/b"]]]
