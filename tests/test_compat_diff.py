"""Differential tests: the same script under pypipegraph 0.197 and under this engine must
report the same outcome fields, exception types and files (tests/compat_harness.py).

Skipped when the reference is not installed; CI installs it (.ci/run).
"""

from pathlib import Path

from compat_harness import assert_same, needs_reference

pytestmark = needs_reference


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_output_jobs_rerun_and_delete_outputs_first(tmp_path):
    script = '''
new_graph()
def make_writer(version):
    def write_a(of):
        with open(of, "a") as fh:      # appends: starts from nothing because outputs are deleted
            fh.write(version)
    return write_a
# (the closure value counts in both engines; a module constant read by the callback would
# count only in ours: docs/rerun-decisions.md)
a = ppg.FileGeneratingJob("out/a", make_writer("v%d" % (STEP // 2)))
a.depends_on_params(STEP // 2)
b = ppg.MultiFileGeneratingJob(["out/b1", "out/b2"], lambda: [open(f, "w").write("b") for f in ("out/b1", "out/b2")])
c = ppg.FileGeneratingJob("out/c", lambda of: open(of, "w").write(open("out/a").read() * 2)).depends_on(a)
run("out/a", "out/b1:out/b2", "out/c")
files("out/a", "out/c", "out/b1")
'''
    ours = assert_same(tmp_path, script, steps=3)
    assert ours[2][-1] == ["files", {"out/a": "v1", "out/b1": "b", "out/c": "v1v1"}]


def test_invariants(tmp_path):
    def before(step, directory):
        if step == 0:
            _write(directory, "in.txt", "one")
            _write(directory, "m1.txt", "m1")
            _write(directory, "m2.txt", "m2")
        if step == 2:
            _write(directory, "in.txt", "three")  # another size: 0.197 keeps mtimes in whole seconds
        if step == 3:
            _write(directory, "m2.txt", "m2 changed")

    script = '''
new_graph()
def f1():
    return 1
def f2():
    return 2
def copy(source):
    def write(of):
        open(of, "w").write(open(source).read())
    return write
j = ppg.FileGeneratingJob("out/j", copy("in.txt"))
j.depends_on(ppg.FileInvariant("in.txt"))
k = ppg.FileGeneratingJob("out/k", copy("m1.txt"))
k.depends_on(ppg.MultiFileInvariant(["m1.txt", "m2.txt"]))
f = ppg.FileGeneratingJob("out/f", copy("m1.txt"))
f.depends_on(ppg.FunctionInvariant("myfunc", f1 if STEP < 4 else f2))
p = ppg.FileGeneratingJob("out/p", copy("m1.txt"))
p.depends_on(ppg.ParameterInvariant("p", (1, 2) if STEP < 4 else (1, 3)))
run("out/j", "out/k", "out/f", "out/p")
'''
    assert_same(tmp_path, script, steps=5, before=before)


def test_loading_cached_and_temp_jobs(tmp_path):
    script = '''
new_graph()
class Holder:
    pass
h = Holder()
store = {}
load = ppg.DataLoadingJob("load", lambda: store.update(x="data"))
attr = ppg.AttributeLoadingJob("attr", h, "value", lambda: "attribute")
cached = ppg.CachedAttributeLoadingJob("cache/c", h, "cached", lambda: [1, 2, 3])
cdl = ppg.CachedDataLoadingJob("cache/d", lambda: {"k": 5}, lambda value: store.update(d=value))
temp = ppg.TempFileGeneratingJob("out/temp", lambda of: open(of, "w").write("temp"))
plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/tp.log",
                                     lambda: (open("out/tp", "w").write("t"), open("out/tp.log", "w").write("log")))
def final(of):
    open(of, "w").write(repr([store.get("x"), h.value, h.cached, store.get("d"), open("out/temp").read(),
                              open("out/tp").read()]))
out = ppg.FileGeneratingJob("out/final", final).depends_on(load, attr, cached, cdl, temp, plus)
run("out/final", "cache/c", "cache/d")
files("out/final", "out/temp", "out/tp", "out/tp.log")
'''
    assert_same(tmp_path, script, steps=2)


def test_generating_injection_and_final_jobs(tmp_path):
    script = '''
new_graph()
def generate():
    for name in ("g1", "g2"):
        ppg.FileGeneratingJob("out/" + name, lambda of: open(of, "w").write("generated"))
gen = ppg.JobGeneratingJob("gen", generate)
summary = ppg.FileGeneratingJob("out/summary", lambda of: open(of, "w").write(open("out/extra").read()))
def inject():
    extra = ppg.FileGeneratingJob("out/extra", lambda of: open(of, "w").write("e"))
    summary.depends_on(extra)
inj = ppg.DependencyInjectionJob("inject", inject)
summary.depends_on(inj)
fin = ppg.FinalJob("final", lambda: open("out/final", "w").write("done"))
run("out/summary")
files("out/summary", "out/g1", "out/final")
'''
    assert_same(tmp_path, script, steps=1)


def test_failures_and_their_types(tmp_path):
    script = '''
new_graph()
def boom(of):
    raise KeyError("no such sample")
a = ppg.FileGeneratingJob("out/a", boom)
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b")).depends_on(a)
c = ppg.FileGeneratingJob("out/c", lambda of: None)           # writes nothing
d = ppg.FileGeneratingJob("out/d", lambda of: open(of, "w").write(""))  # empty output
e = ppg.FileGeneratingJob("out/e", lambda of: open(of, "w").write("fine"))
run("out/a", "out/c", "out/d", "out/e")
emit("b_failed", bool(b.failed))
files("out/e")
'''
    assert_same(tmp_path, script, steps=1)


def test_definition_errors_have_0197_types(tmp_path):
    script = '''
new_graph()
open("exists.txt", "w").write("x")
attempt("not callable", lambda: ppg.FileGeneratingJob("out/x", "not a function"))
attempt("loader not callable", lambda: ppg.DataLoadingJob("l", 5))
attempt("multi file str", lambda: ppg.MultiFileGeneratingJob("out/a", lambda: None))
attempt("multi file not iterable", lambda: ppg.MultiFileGeneratingJob(5, lambda: None))
attempt("mfi str", lambda: ppg.MultiFileInvariant("exists.txt"))
attempt("mfi not iterable", lambda: ppg.MultiFileInvariant(5))
attempt("mfi duplicates", lambda: ppg.MultiFileInvariant(["exists.txt", "exists.txt"]))
attempt("mfi empty", lambda: ppg.MultiFileInvariant([]))
attempt("mfi missing", lambda: ppg.MultiFileInvariant(["exists.txt", "missing.txt"]))
attempt("short file invariant", lambda: ppg.FileInvariant("ab"))
ppg.FileGeneratingJob("out/same", lambda of: None)
attempt("other class", lambda: ppg.DataLoadingJob("out/same", lambda: None))
def f1():
    return 1
def f2():
    return 2
ppg.FunctionInvariant("fi", f1)
attempt("function invariant redefined", lambda: ppg.FunctionInvariant("fi", f2))
attempt("cache filename type", lambda: ppg.CachedDataLoadingJob(5, lambda: 1, lambda v: None))
fin = ppg.FinalJob("fin", lambda: None)
attempt("depend on final", lambda: ppg.FileGeneratingJob("out/y", lambda of: None).depends_on(fin))
selfish = ppg.FileGeneratingJob("out/selfish", lambda of: None)
attempt("self cycle", lambda: selfish.depends_on(selfish))
attempt("depends on str", lambda: ppg.FileGeneratingJob("out/z", lambda of: None).depends_on("out/x"))
attempt("bad cores", lambda: ppg.FileGeneratingJob("out/w", lambda of: None).use_cores(0))
emit("errors are ValueErrors", [issubclass(c, ValueError) for c in (
    ppg.PyPipeGraphError, ppg.RuntimeError, ppg.JobContractError, ppg.CycleError, ppg.JobDiedException)])
'''
    assert_same(tmp_path, script, steps=1)


def test_placeholders_nested_and_resolved_before_running(tmp_path):
    script = '''
new_graph()
seen = []
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
def make_b():
    seen.append(ppg.util.global_pipegraph.running)
    return ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b"))
c = ppg.FileGeneratingJob("out/c", lambda of: open(of, "w").write(open("out/a").read() + open("out/b").read()))
c.depends_on(a, lambda: make_b())
run("out/a", "out/b", "out/c")
emit("running while resolved", seen)
files("out/c")
'''
    assert_same(tmp_path, script, steps=2)


def test_job_subclass_with_custom_invariant(tmp_path):
    def before(step, directory):
        _write(directory, "version.txt", ["1.0.0", "1.0.5", "1.1.0", "1.1.0"][step])

    script = '''
new_graph()
class Version(ppg.Job):
    def __new__(cls, name):
        return ppg.Job.__new__(cls, "V_" + name)
    def __init__(self, name):
        ppg.Job.__init__(self, "V_" + name)
    def _get_invariant(self, old, all_invariant_stati):
        new = open("version.txt").read()
        if old and old.split(".")[:2] == new.split(".")[:2]:
            raise ppg.NothingChanged(new)
        return new
v = Version("tool")
emit("same object", Version("tool") is v)
out = ppg.FileGeneratingJob("out/o", lambda of: open(of, "w").write("o")).depends_on(v)
run("out/o")
'''
    ours = assert_same(tmp_path, script, steps=4, before=before)
    assert [step[-1][1]["out/o"]["was_run"] for step in ours] == [True, False, True, False]


def test_ignore_code_changes_and_return_values(tmp_path):
    script = '''
new_graph()
if STEP == 0:
    job = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("first"))
else:
    job = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("second version"))
job.ignore_code_changes()
run("out/a")
files("out/a")
'''
    assert_same(tmp_path, script, steps=2)


def test_generating_jobs_run_in_the_master_on_its_objects(tmp_path):
    script = '''
new_graph()
class Config:
    pass
config = Config()
config.samples = []
def generate():
    config.samples.append("from generator")       # the master's object: later jobs see it
    for name in ("g1", "g2"):
        ppg.FileGeneratingJob("out/" + name, lambda of: open(of, "w").write(repr(config.samples)))
gen = ppg.JobGeneratingJob("gen", generate)
def inject():
    config.samples.append("from injection")
    return [ppg.FileGeneratingJob("out/injected", lambda of: open(of, "w").write(repr(config.samples)))]
inj = ppg.DependencyInjectionJob("inject", inject).depends_on(gen)
after = ppg.FileGeneratingJob("out/after", lambda of: open(of, "w").write(repr(config.samples))).depends_on(inj)
def broken():
    ppg.FileGeneratingJob("out/never", lambda of: open(of, "w").write("x"))
    raise KeyError("generator failed")
bad = ppg.JobGeneratingJob("bad", broken)
below = ppg.FileGeneratingJob("out/below", lambda of: open(of, "w").write("b")).depends_on(bad)
run("gen", "inject", "out/after", "bad")
emit("below failed", below.failed)
emit("in the master", config.samples)
emit("never defined", "out/never" in ppg.util.global_pipegraph.jobs)
files("out/g1", "out/injected", "out/after", "out/never", "out/below")
'''
    ours = assert_same(tmp_path, script, steps=1)
    assert ours[0][-3] == ["in the master", ["from generator", "from injection"]]


def test_was_invalidated_downstream_of_changed_invariants_and_not_done_jobs(tmp_path):
    def before(step, directory):
        if step == 3:
            (directory / "out" / "a").unlink()

    script = '''
new_graph()
def w(text):
    def f(of):
        open(of, "w").write(text)
    return f
seen = []
class Noted(ppg.FileGeneratingJob):
    def invalidated(self, reason=""):
        seen.append(" ".join(reason.split()[:2]))   # 0.197 calls it in the master, with its reasons
        ppg.FileGeneratingJob.invalidated(self, reason)
a = ppg.FileGeneratingJob("out/a", w("a"))
a.depends_on(ppg.ParameterInvariant("pa", 1 if STEP < 2 else 2))
b = Noted("out/b", w("b")).depends_on(a)
c = ppg.FileGeneratingJob("out/c", w("c")).depends_on(b)
d = ppg.FileGeneratingJob("out/d", w("d"))
load = ppg.DataLoadingJob("load", lambda: None)
c.depends_on(load)
run()
g = ppg.util.global_pipegraph
emit("invalidated", {j: bool(g.jobs[j].was_invalidated)
                     for j in ("PIpa", "out/a", "out/b", "out/c", "out/d", "load", "out/a_func")})
emit("invalidated() calls", seen)
'''
    ours = assert_same(tmp_path, script, steps=4, before=before)
    assert ours[1][-2] == ["invalidated", dict.fromkeys(
        ("PIpa", "out/a", "out/b", "out/c", "out/d", "load", "out/a_func"), False)]


def test_attribute_loading_job_removes_its_attribute_after_its_dependants(tmp_path):
    script = '''
new_graph()
class Holder:
    pass
h = Holder()
cleaned = []
class Tidy(ppg.DataLoadingJob):
    def cleanup(self):
        cleaned.append(self.job_id)
attr = ppg.AttributeLoadingJob("attr", h, "value", lambda: "loaded")
tidy = Tidy("tidy", lambda: None)
one = ppg.FileGeneratingJob("out/one", lambda of: open(of, "w").write(h.value)).depends_on(attr, tidy)
two = ppg.FileGeneratingJob("out/two", lambda of: open(of, "w").write(h.value * 2)).depends_on(attr)
run("out/one", "out/two")
emit("attribute left", hasattr(h, "value"))
emit("cleanup() calls", cleaned)
files("out/one", "out/two")
'''
    ours = assert_same(tmp_path, script, steps=1)
    assert ["attribute left", False] in ours[0]


def test_job_needing_more_cores_than_there_are(tmp_path):
    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
a.cores_needed = 100
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b")).depends_on(a)
c = ppg.FileGeneratingJob("out/c", lambda of: open(of, "w").write("c"))
try:
    ppg.run_pipegraph()
    emit("run", None)
except Exception as exc:
    emit("run", error(exc))
g = ppg.util.global_pipegraph
emit("fields", {j: [g.jobs[j].failed, bool(g.jobs[j].was_run), g.jobs[j].error_reason]
                for j in ("out/a", "out/b", "out/c")})
files("out/a", "out/b", "out/c")
'''
    ours = assert_same(tmp_path, script, steps=1)
    assert ours[0][1][1]["out/a"] == [True, False, "Needed to much memory/cores"]


def test_an_invariant_that_raises_ends_the_run_with_its_exception(tmp_path):
    def before(step, directory):
        if step == 0:
            _write(directory, "in.txt", "x")
        if step == 1:
            (directory / "in.txt").unlink()
        if step == 2:
            _write(directory, "in.txt", "x")

    script = '''
new_graph()
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("a"))
a.depends_on(ppg.FileInvariant("in.txt"))
c = ppg.FileGeneratingJob("out/c%d" % STEP, lambda of: open(of, "w").write("c"))   # new each step
class Boom(ppg.Job):
    def __new__(cls):
        return ppg.Job.__new__(cls, "boom")
    def __init__(self):
        ppg.Job.__init__(self, "boom")
    def _get_invariant(self, old, all_invariant_stati):
        if STEP == 2:
            raise KeyError("custom invariant failed")
        return 1
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("b")).depends_on(Boom())
run("out/a", "out/b", "out/c%d" % STEP)
files("out/c%d" % STEP)
'''
    ours = assert_same(tmp_path, script, steps=4, before=before)
    assert [step[0] for step in ours] == [["run", None], ["run", ["FileNotFoundError", False, False]],
                                          ["run", ["KeyError", False, False]], ["run", None]]


def test_missing_keep_file_of_temp_file_plus_job_reruns_it(tmp_path):
    def before(step, directory):
        if step == 2:
            (directory / "out" / "tp.log").unlink()

    script = '''
new_graph()
def make():
    open("out/tp", "w").write("t")
    open("out/tp.log", "a").write("made;")
plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/tp.log", make)
user = ppg.FileGeneratingJob("out/user", lambda of: open(of, "w").write(open("out/tp").read() + "u")).depends_on(plus)
run("out/tp", "out/user")
files("out/tp", "out/tp.log", "out/user")
'''
    assert_same(tmp_path, script, steps=4, before=before)


def test_moved_input_files_are_not_a_change(tmp_path):
    def before(step, directory):
        if step == 0:
            for sub in ("old", "new"):
                (directory / sub).mkdir()
            _write(directory / "old", "a.txt", "A")
            _write(directory / "old", "b.txt", "B")
        if step == 1:
            for name in ("a.txt", "b.txt"):
                (directory / "old" / name).rename(directory / "new" / name)
        if step == 3:
            _write(directory / "new", "b.txt", "B changed")

    script = '''
new_graph()
where = "old" if STEP == 0 else "new"
one = ppg.FileGeneratingJob("out/one", lambda of: open(of, "w").write("1"))
one.depends_on(ppg.RobustFileChecksumInvariant(where + "/a.txt"))
both = ppg.FileGeneratingJob("out/both", lambda of: open(of, "w").write("2"))
both.depends_on(ppg.MultiFileInvariant([where + "/a.txt", where + "/b.txt"]))
run("out/one", "out/both")
'''
    ours = assert_same(tmp_path, script, steps=4, before=before)
    assert [step[-1][1]["out/one"]["was_run"] for step in ours] == [True, False, False, False]
