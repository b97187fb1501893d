"""Differential tests of 0.197's invariant protocol and rerun rules: the same script under
pypipegraph 0.197 and under this engine reports the same (tests/compat_harness.py).

Covers what libraries written for 0.197 call on the built-in invariants (their
`get_invariant` values, NothingChanged, the rename lookup), 0.197's status file read with
its errors, when an output without a record counts as done, `ignore_code_changes()` and
`accept_as_unchanged_func` added after a run, a class's own `inject_auto_invariants`,
`invalidated()` overrides, errors raised while checking an invariant and
`pypipegraph.job.was_inited_before`. Skipped when the reference is not installed.
"""

import pickle
from pathlib import Path

from compat_harness import assert_same, needs_reference

pytestmark = needs_reference


def test_function_invariant_value(tmp_path):
    script = '''
new_graph()
def f():
    return 55
def f_again():
    return 55
def g():
    return 56
def value(inv, old):
    try:
        return "returned", inv.get_invariant(old, {})
    except ppg.NothingChanged as e:
        return "NothingChanged", e.new_value
how, vf = value(ppg.FunctionInvariant("f", f), False)
emit("first", [how, type(vf).__name__, sorted(k for k in vf if not k.startswith("(")), vf["source"]])
how_g, vg = value(ppg.FunctionInvariant("g", g), vf)
emit("other function", [how_g, vg["source"], vg != vf])
how_same, v_same = value(ppg.FunctionInvariant("f2", f_again), vf)
emit("same code", [how_same, sorted(k for k in v_same if not k.startswith("(")), v_same.get("_version")])
emit("no function", value(ppg.FunctionInvariant("none", None), False))
emit("builtin", value(ppg.FunctionInvariant("open", open), False))
attempt("a class", lambda: ppg.FunctionInvariant("cls", dict)._get_invariant(False, {}))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][1] == ["other function", ["returned", "():\n    return 56", True]]


def test_multi_file_invariant_checksums_and_renames(tmp_path):
    def before(step, directory):
        for d in ("A", "B", "C"):
            (directory / d).mkdir(exist_ok=True)
        for d, text in (("A", "one"), ("B", "two"), ("C", "three")):
            (directory / d / "x").write_text(text)
        (directory / "A" / "y").write_text("why")
        (directory / "B" / "y").write_text("why")

    script = '''
new_graph()
def value(inv, old, stati):
    try:
        got = inv.get_invariant(old, stati)
        how = "returned"
    except ppg.NothingChanged as e:
        got, how = e.new_value, "NothingChanged"
    # mtimes differ between the two directories: names, sizes and md5 sums count
    return how, None if got is None else [(n, size, md5) for n, _t, size, md5 in got]
a = ppg.MultiFileInvariant(["A/x", "A/y"])
how, checksums = value(a, False, {})
emit("first use", [how, checksums])
try:
    a.get_invariant(False, {})
except ppg.NothingChanged as e:
    stored = e.new_value
emit("unchanged", value(a, stored, {}))
open("A/x", "w").write("one, changed")
emit("content changed", value(a, stored, {}))
stati = {a.job_id: stored}
emit("renamed", value(ppg.MultiFileInvariant(["B/x", "B/y"]), False, stati))
emit("subset", value(ppg.MultiFileInvariant(["C/x"]), False, stati))
emit("rename lookup", [ppg.MultiFileInvariant(["B/x", "B/y"]).find_matching_renamed({}),
                       ppg.MultiFileInvariant(["A/x", "B/x"]).find_matching_renamed(stati)])
'''
    ours = assert_same(tmp_path, script, before=before)
    assert ours[0][-1] == ["rename lookup", [False, None]]


def test_moved_inputs_rerun_only_when_base_names_repeat(tmp_path):
    def before(step, directory):
        if step == 0:
            for d in "ABCDEF":
                (directory / d).mkdir()
            (directory / "A" / "x").write_text("hello")
            (directory / "B" / "x").write_text("world")
            (directory / "E" / "p").write_text("p")
            (directory / "E" / "q").write_text("q")
        if step == 1:
            for old, new in (("A/x", "C/x"), ("B/x", "D/x"), ("E/p", "F/p"), ("E/q", "F/q")):
                (directory / old).rename(directory / new)

    script = '''
new_graph()
def make(name):
    def write(of):
        open("runs.log", "a").write(name)
        open(of, "w").write("ok")
    return write
same = ["A/x", "B/x"] if STEP == 0 else ["C/x", "D/x"]
distinct = ["E/p", "E/q"] if STEP == 0 else ["F/p", "F/q"]
ppg.FileGeneratingJob("out/same", make("s")).depends_on(ppg.MultiFileInvariant(same))
ppg.FileGeneratingJob("out/distinct", make("d")).depends_on(ppg.MultiFileInvariant(distinct))
run("out/same", "out/distinct")
emit("runs", sorted(open("runs.log").read()))
'''
    ours = assert_same(tmp_path, script, steps=2, before=before)
    assert ours[1][-1] == ["runs", ["d", "s", "s"]]


def _status_file(directory: Path, pairs: list) -> None:
    """0.197's status file, written by hand: pickled key, then pickled value (or raw bytes)."""
    with open(directory / ".pypipegraph_status_robust", "wb") as op:
        for key, value in pairs:
            pickle.dump(key, op, pickle.HIGHEST_PROTOCOL)
            if isinstance(value, bytes):
                op.write(value)
            else:
                pickle.dump(value, op, pickle.HIGHEST_PROTOCOL)


def test_damaged_status_file_of_0197_stops_the_run(tmp_path):
    def before(step, directory):
        if step == 0:
            _status_file(directory, [("PIsomething", b"garbage")])

    script = '''
new_graph()
if STEP == 0:
    open("out/a", "w").write("old")
j = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("new"))
j.ignore_code_changes()
run("out/a")
files("out/a")
'''
    ours = assert_same(tmp_path, script, steps=2, before=before)
    assert ours[0][0] == ["run", ["PyPipeGraphError", True, True]]


def test_status_file_value_that_cannot_be_unpickled(tmp_path):
    def before(step, directory):
        if step == 0:
            # a memo reference to nothing: the pickle parses, but cannot be loaded
            _status_file(directory, [("PIp", b"\x80\x04h\x05."), ("PIq", 2)])

    script = '''
new_graph()
if STEP == 0:
    open("out/a", "w").write("old")
    open("out/b", "w").write("old")
a = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("new"))
a.ignore_code_changes()
a.depends_on(ppg.ParameterInvariant("p", 1))
b = ppg.FileGeneratingJob("out/b", lambda of: open(of, "w").write("new"))
b.ignore_code_changes()
b.depends_on(ppg.ParameterInvariant("q", 2))
run("out/a", "out/b")
emit("issues", sorted(getattr(ppg.util.global_pipegraph, "invariant_loading_issues", {})))
files("out/a", "out/b")
'''
    ours = assert_same(tmp_path, script, steps=2, before=before)
    assert ours[0][0] == ["run", ["RuntimeError", True, True]]
    assert ours[0][-1] == ["files", {"out/a": "new", "out/b": "old"}]


def test_parameters_that_cannot_be_pickled(tmp_path):
    script = '''
new_graph()
class NoPickle:
    def __getstate__(self):
        raise ValueError("cannot pickle")
attempt("definition", lambda: ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("x")).depends_on(
    ppg.ParameterInvariant("p", (NoPickle(), "x"))))
run("out/a")
emit("written", os.path.exists("out/a"))
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["definition", None] and ours[0][1] == ["run", ["ValueError", True, False]]


def test_invalidated_override_must_set_was_invalidated(tmp_path):
    script = '''
new_graph()
class Forgets(ppg.FileGeneratingJob):
    def invalidated(self, reason=""):
        pass
class Calls(ppg.FileGeneratingJob):
    def invalidated(self, reason=""):
        ppg.FileGeneratingJob.invalidated(self, reason)
if STEP == 0:
    Forgets("out/a", lambda of: open(of, "w").write("a"))
Calls("out/b", lambda of: open(of, "w").write("b"))
run("out/b")
files("out/a", "out/b")
'''
    ours = assert_same(tmp_path, script, steps=2)
    assert ours[0][0] == ["run", ["JobContractError", True, True]]
    assert ours[1][-1] == ["files", {"out/a": None, "out/b": "b"}]


def test_existing_output_without_record(tmp_path):
    script = '''
new_graph()
if STEP == 0:
    for name in ("out/by_hand", "out/own_code", "out/downstream"):
        open(name, "w").write("made by hand")
def writer(of):
    open(of, "w").write("made by job")
by_hand = ppg.FileGeneratingJob("out/by_hand", writer)
by_hand.ignore_code_changes()                      # no invariant: the file is the result
own_code = ppg.FileGeneratingJob("out/own_code", writer)   # its function invariant is new
downstream = ppg.FileGeneratingJob("out/downstream", writer).depends_on(own_code)
downstream.ignore_code_changes()                   # upstream reruns: so does it
run("out/by_hand", "out/own_code", "out/downstream")
files("out/by_hand", "out/own_code", "out/downstream")
'''
    ours = assert_same(tmp_path, script, steps=2)
    assert ours[0][-1][1]["out/by_hand"] == "made by hand"
    assert ours[0][-1][1]["out/downstream"] == "made by job"


def test_ignore_code_changes_added_after_a_run(tmp_path):
    script = '''
new_graph()
def first(of):
    open(of, "a").write("1")
def edited(of):
    open(of, "a").write("2")
a = ppg.FileGeneratingJob("out/a", first if STEP == 0 else edited)
if STEP >= 1:
    a.ignore_code_changes()
b = ppg.FileGeneratingJob("out/b", first if STEP < 2 else edited)
if STEP == 1:
    b.do_ignore_code_changes = True                # 0.197's flag, set directly
run("out/a", "out/b")
files("out/a", "out/b")
'''
    ours = assert_same(tmp_path, script, steps=3)
    assert ours[2][-1] == ["files", {"out/a": "1", "out/b": "2"}]


def test_accept_as_unchanged_func_added_after_a_run(tmp_path):
    script = '''
new_graph()
def write(of):
    open(of, "w").write("A")
    open("runs.log", "a").write("r")    # (a module-level value read here would count in ours)
seen = []
def accept(old):
    seen.append(old)
    return len(old) <= 3            # (1, 2, 3) -> (1, 2, 3, 4) is harmless, -> (1, 2, 3, 4, 5) is not
params = [(1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5)][STEP]
ppg.FileGeneratingJob("out/a", write).depends_on(
    ppg.ParameterInvariant("p", params, accept_as_unchanged_func=accept if STEP else None))
run("out/a")
emit("seen", seen)
files("runs.log")
'''
    ours = assert_same(tmp_path, script, steps=3)
    assert ours[1][-2] == ["seen", [[1, 2, 3]]]
    assert ours[2][-2:] == [["seen", [[1, 2, 3, 4]]], ["files", {"runs.log": "rr"}]]


def test_class_replaces_its_implicit_invariants(tmp_path):
    script = '''
new_graph()
class OwnInvariants(ppg.FileGeneratingJob):
    """Chooses its own implicit invariant and refuses every other kind of dependency."""
    def inject_auto_invariants(self):
        open("hook.log", "a").write("h")
        if not self.do_ignore_code_changes:
            self.depends_on(ppg.ParameterInvariant(self.job_id, "v%d" % (STEP // 2)))
    def depends_on(self, *jobs):
        for j in ppg.util.flatten_jobs(jobs):
            if not isinstance(j, ppg.ParameterInvariant):
                raise ppg.JobContractError("refused " + j.job_id)
        return ppg.FileGeneratingJob.depends_on(self, *jobs)
def write(of):
    open(of, "w").write("x")
    open("runs.log", "a").write(str(STEP))
job = OwnInvariants("out/a", write)
attempt("other dependency", lambda: job.depends_on(ppg.FunctionInvariant("f", write)))
run("out/a")
files("runs.log", "hook.log")
'''
    ours = assert_same(tmp_path, script, steps=3)
    assert ours[2][-1] == ["files", {"runs.log": "02", "hook.log": "hhh"}]


def test_exception_while_checking_an_invariant_escapes_unchanged(tmp_path):
    script = '''
class InputBroken(ValueError):
    if sys.version_info >= (3, 11):  # as on Python 3.10: no add_note
        def __getattribute__(self, name):
            if name == "add_note":
                raise AttributeError(name)
            return super().__getattribute__(name)
class Exploding(ppg.FileChecksumInvariant):
    def _get_invariant(self, old, all_invariant_stati):
        raise InputBroken("the input is broken")
new_graph()
open("in.txt", "w").write("x")
ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("x")).depends_on(Exploding("in.txt"))
try:
    ppg.run_pipegraph()
    emit("run", None)
except Exception as exc:
    emit("run", [type(exc).__name__, str(exc)])
files("out/a")
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["run", ["InputBroken", "the input is broken"]]


def test_was_inited_before(tmp_path):
    script = '''
import pypipegraph.job
new_graph()
inits = []
class Collecting(ppg.FileGeneratingJob):
    def __init__(self, job_id):
        if ppg.job.was_inited_before(self, Collecting):
            return
        inits.append(job_id)
        ppg.FileGeneratingJob.__init__(self, job_id, lambda of: open(of, "w").write("x"))
class Sub(Collecting):
    pass
a = Collecting("out/qc")
b = Collecting("out/qc")
emit("same object, inits", [a is b, inits])
emit("subclass asks for the base", ppg.job.was_inited_before(Sub("out/sub"), Collecting))
run("out/qc")
'''
    ours = assert_same(tmp_path, script)
    assert ours[0][0] == ["same object, inits", [True, ["out/qc"]]]
