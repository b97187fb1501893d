"""Graph lifecycle and the general job API (API.md: "Graph lifecycle", "Jobs in general", "Errors")."""

import os
import re
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def writer(filename, text="done", count=None):
    """A FileGeneratingJob callback writing `text`; appends 'x' to `count` on each run."""

    def work():
        if count:
            append(count, "x")
        with open(filename, "w") as fh:
            fh.write(text)

    return work


def fg(filename, text="done"):
    """A FileGeneratingJob that counts its runs in <filename>.count."""
    return ppg.FileGeneratingJob(filename, writer(filename, text, filename + ".count"))


# --- lifecycle ---------------------------------------------------------------


def test_new_and_run_aliases(ppg_dir):
    ppg.new(quiet=True, dump_graph=False)
    first = ppg.util.global_pipegraph
    assert first is not None
    job = fg("out/a")
    ppg.run()
    assert read("out/a") == "done"
    assert job.was_run
    ppg.new_pipegraph(quiet=True, dump_graph=False)
    assert ppg.util.global_pipegraph is not None
    assert ppg.util.global_pipegraph is not first
    fg("out/b")
    ppg.run_pipegraph()
    assert read("out/b") == "done"


def test_no_graph_creating_job_raises(new_pipegraph):
    ppg.util.global_pipegraph = None
    with pytest.raises(ValueError):
        fg("out/a")
    with pytest.raises(ValueError):
        ppg.ParameterInvariant("p", 1)
    assert not os.path.exists("out/a")


def test_no_graph_running_raises(new_pipegraph):
    fg("out/a")
    ppg.util.global_pipegraph = None
    with pytest.raises(ValueError):
        ppg.run_pipegraph()
    assert not os.path.exists("out/a")


def test_run_only_once(new_pipegraph):
    fg("out/a")
    ppg.run_pipegraph()
    with pytest.raises(ValueError, match="Each pipegraph may be run only once."):
        ppg.run_pipegraph()
    assert runs("out/a.count") == 1


def test_job_after_run_raises(new_pipegraph):
    fg("out/a")
    ppg.run_pipegraph()
    with pytest.raises(
        ValueError, match="This pipegraph was already run. You need to create a new one for more jobs"
    ):
        fg("out/b")
    with pytest.raises(ValueError, match="This pipegraph was already run"):
        ppg.ParameterInvariant("p", 1)


def test_jobs_can_be_defined_again_in_next_graph(new_pipegraph):
    fg("out/a")
    ppg.run_pipegraph()
    new_pipegraph.new_pipegraph()
    job = fg("out/a")
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/a.count") == 1


def test_inside_ppg(new_pipegraph):
    assert ppg.inside_ppg() is True
    ppg.util.global_pipegraph = None
    assert ppg.inside_ppg() is False


def test_version():
    assert isinstance(ppg.__version__, str)
    assert re.match(r"^\d+\.\d+", ppg.__version__)


def test_error_hierarchy():
    for cls in (ppg.RuntimeError, ppg.JobContractError, ppg.CycleError, ppg.JobDiedException,
                ppg.RuntimeException, ppg.ppg_exceptions.CommunicationFailure):
        assert issubclass(cls, ppg.PyPipeGraphError), cls
    # as in 0.197: every engine error is a ValueError; NothingChanged is a signal, not an error
    assert issubclass(ppg.PyPipeGraphError, ValueError)
    assert not issubclass(ppg.NothingChanged, ppg.PyPipeGraphError)
    assert ppg.NothingChanged("v").new_value == "v"


def test_local_system_positional(ppg_dir):
    rc = ppg.resource_coordinators.LocalSystem(max_cores_to_use=1)
    ppg.new_pipegraph(rc, quiet=True, dump_graph=False)
    a = fg("out/a")
    b = fg("out/b")
    ppg.run_pipegraph()
    assert a.was_run and b.was_run
    assert read("out/a") == "done" and read("out/b") == "done"


# --- ids and singletons --------------------------------------------------------


def test_job_id_is_str(new_pipegraph):
    job = fg("out/a")
    assert job.job_id == "out/a"
    assert isinstance(job.job_id, str)


def test_path_accepted_as_file_job_id(new_pipegraph):
    job = ppg.FileGeneratingJob(Path("out/a"), writer("out/a"))
    assert isinstance(job.job_id, str)
    assert job.job_id == "out/a"
    ppg.run_pipegraph()
    assert read("out/a") == "done"


def test_path_and_str_id_are_the_same_job(new_pipegraph):
    func = writer("out/a")
    a = ppg.FileGeneratingJob("out/a", func)
    b = ppg.FileGeneratingJob(Path("out/a"), func)
    assert a is b


def test_int_id_is_type_error(new_pipegraph):
    with pytest.raises(TypeError):
        ppg.FileGeneratingJob(5, writer("5"))
    with pytest.raises(TypeError):
        ppg.ParameterInvariant(5, (1, 2))


def test_singleton_same_class(new_pipegraph):
    func = writer("out/a")
    a = ppg.FileGeneratingJob("out/a", func)
    b = ppg.FileGeneratingJob("out/a", func)
    assert a is b
    ppg.run_pipegraph()
    assert read("out/a") == "done"


def test_singleton_other_class_raises(new_pipegraph):
    fg("out/a")
    with pytest.raises(ValueError):
        ppg.FileInvariant("out/a")


def test_singleton_invariant(new_pipegraph):
    a = ppg.ParameterInvariant("p", (1, 2))
    b = ppg.ParameterInvariant("p", (1, 2))
    assert a is b


# --- depends_on ------------------------------------------------------------------


def test_depends_on_returns_job_and_orders(new_pipegraph):
    a = fg("out/a", "A")

    def do_b():
        with open("out/b", "w") as fh:
            fh.write(read("out/a") + "B")

    b = ppg.FileGeneratingJob("out/b", do_b)
    assert b.depends_on(a) is b
    assert a in b.prerequisites
    assert b in a.dependants
    assert b.prerequisites == {a} and a.dependants == {b}  # read as sets
    assert b.prerequisites | a.dependants == {a, b} and {a} <= b.prerequisites
    ppg.run_pipegraph()
    assert read("out/b") == "AB"


def test_depends_on_lists_nested_joblists_none(new_pipegraph):
    a, b, c, d, e = (fg(f"out/{x}") for x in "abcde")
    z = fg("out/z")
    z.depends_on([a, [b, [c]]], None, d + e)
    z.depends_on(None)
    assert {a, b, c, d, e} <= z.prerequisites
    ppg.run_pipegraph()
    assert read("out/z") == "done"


def test_depends_on_multiple_args(new_pipegraph):
    a, b = fg("out/a"), fg("out/b")
    z = fg("out/z")
    z.depends_on(a, b)
    assert {a, b} <= z.prerequisites


@pytest.mark.parametrize("bad", ["out/a", 5, object()])
def test_depends_on_non_job_raises(new_pipegraph, bad):
    fg("out/a")
    z = fg("out/z")
    with pytest.raises(ValueError):
        z.depends_on(bad)


def test_depends_on_callable_placeholder(new_pipegraph):
    def do_b():
        with open("out/b", "w") as fh:
            fh.write(read("out/a") + "B")

    b = ppg.FileGeneratingJob("out/b", do_b)
    holder = {}
    b.depends_on(lambda: holder["a"])
    # the job the placeholder returns is only created after depends_on was called
    holder["a"] = fg("out/a", "A")
    ppg.util.global_pipegraph.connect_graph()  # as run_pipegraph() does first
    assert holder["a"] in b.prerequisites
    ppg.run_pipegraph()
    assert read("out/b") == "AB"


def test_depends_on_placeholder_returning_list(new_pipegraph):
    z = fg("out/z")
    a, b = fg("out/a"), fg("out/b")
    z.depends_on(lambda: [a, b])
    ppg.util.global_pipegraph.connect_graph()  # as run_pipegraph() does first
    assert {a, b} <= z.prerequisites
    ppg.run_pipegraph()
    assert z.prerequisites is None  # released after the run, as in 0.197


def test_job_plus_job_is_joblist(new_pipegraph):
    a, b, c, d = (fg(f"out/{x}") for x in "abcd")
    ab = a + b
    assert isinstance(ab, ppg.JobList)
    assert list(ab) == [a, b]
    abc = ab + c
    assert isinstance(abc, ppg.JobList)
    assert list(abc) == [a, b, c]
    assert list(a + [b, c]) == [a, b, c]
    assert isinstance(a + [b, c], ppg.JobList)
    lc = [c] + a
    assert isinstance(lc, ppg.JobList)
    assert list(lc) == [c, a]
    assert list(ab + (c + d)) == [a, b, c, d]


def test_joblist_depends_on(new_pipegraph):
    a, b = fg("out/a"), fg("out/b")
    up = fg("out/up")
    jl = a + b
    jl.depends_on(up)
    assert up in a.prerequisites
    assert up in b.prerequisites
    ppg.run_pipegraph()
    assert read("out/a") == "done"


def test_depends_on_params(new_pipegraph):
    a = fg("out/a")
    a.depends_on_params((1, 2))
    ids = {p.job_id for p in a.prerequisites}
    assert "PIout/a" in ids
    pi = [p for p in a.prerequisites if p.job_id == "PIout/a"][0]
    assert isinstance(pi, ppg.ParameterInvariant)
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1
    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_params((1, 2))
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1
    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_params((1, 3))
    ppg.run_pipegraph()
    assert runs("out/a.count") == 2


def test_depends_on_func(new_pipegraph):
    def f1():
        return 1

    a = fg("out/a")
    a.depends_on_func("myfunc", f1)
    assert any(isinstance(p, ppg.FunctionInvariant) for p in a.prerequisites)
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1

    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_func("myfunc", f1)
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1

    def f2():
        return 2

    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_func("myfunc", f2)
    ppg.run_pipegraph()
    assert runs("out/a.count") == 2


def test_depends_on_file(new_pipegraph):
    Path("input.txt").write_text("one")
    a = fg("out/a")
    a.depends_on_file("input.txt")
    assert len(a.prerequisites) >= 1
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1

    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_file("input.txt")
    ppg.run_pipegraph()
    assert runs("out/a.count") == 1

    Path("input.txt").write_text("two, longer")
    new_pipegraph.new_pipegraph()
    fg("out/a").depends_on_file("input.txt")
    ppg.run_pipegraph()
    assert runs("out/a.count") == 2


def test_is_in_dependency_chain(new_pipegraph):
    a, b, c = fg("out/a"), fg("out/b"), fg("out/c")
    c.depends_on(b)
    b.depends_on(a)
    assert c.is_in_dependency_chain(b, 1)
    assert not c.is_in_dependency_chain(a, 1)
    assert c.is_in_dependency_chain(a, 2)
    assert c.is_in_dependency_chain(a, 10)
    assert not a.is_in_dependency_chain(c, 10)
    d = fg("out/d")
    assert not c.is_in_dependency_chain(d, 10)


# --- prune -------------------------------------------------------------------------


def test_prune(new_pipegraph):
    a, b, c = fg("out/a"), fg("out/b"), fg("out/c")
    b.depends_on(a)
    a.prune()
    ppg.run_pipegraph()
    assert not os.path.exists("out/a")
    assert not os.path.exists("out/b")
    assert read("out/c") == "done"
    assert not a.was_run and not b.was_run and c.was_run


def test_prune_downstream_of_downstream(new_pipegraph):
    a, b, c = fg("out/a"), fg("out/b"), fg("out/c")
    c.depends_on(b)
    b.depends_on(a)
    b.prune()
    ppg.run_pipegraph()
    assert read("out/a") == "done"
    assert not os.path.exists("out/b")
    assert not os.path.exists("out/c")


def test_unprune(new_pipegraph):
    a, b = fg("out/a"), fg("out/b")
    b.depends_on(a)
    a.prune()
    a.unprune()
    ppg.run_pipegraph()
    assert read("out/a") == "done"
    assert read("out/b") == "done"


# --- resources -------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -3, "2", 1.5])
def test_cores_needed_invalid(new_pipegraph, bad):
    job = fg("out/a")
    with pytest.raises(ValueError):
        job.cores_needed = bad
    with pytest.raises(ValueError):
        job.use_cores(bad)


def test_cores_needed_valid(new_pipegraph):
    job = fg("out/a")
    assert job.cores_needed == 1
    for value in (1, 2, -1, -2):
        job.cores_needed = value
        assert job.cores_needed == value


def test_use_cores_returns_job(new_pipegraph):
    job = fg("out/a")
    assert job.use_cores(-1) is job
    assert job.cores_needed == -1
    ppg.run_pipegraph()
    assert read("out/a") == "done"


def test_memory_needed_default(new_pipegraph):
    job = fg("out/a")
    assert job.memory_needed == -1


# --- cycles ------------------------------------------------------------------------


def test_three_job_cycle(new_pipegraph):
    a, b, c = fg("out/cycA"), fg("out/cycB"), fg("out/cycC")
    with pytest.raises(ppg.CycleError) as excinfo:
        a.depends_on(b)
        b.depends_on(c)
        c.depends_on(a)
        ppg.run_pipegraph()
    msg = str(excinfo.value)
    for name in ("out/cycA", "out/cycB", "out/cycC"):
        assert name in msg
    # the jobs are named in cycle order (either direction, any starting point)
    order = sorted("ABC", key=lambda x: msg.index("out/cyc" + x))
    rotations = {"ABC", "BCA", "CAB"}
    assert "".join(order) in rotations | {r[::-1] for r in rotations}
    for name in ("out/cycA", "out/cycB", "out/cycC"):
        assert not os.path.exists(name)


def test_cycle_nothing_runs(new_pipegraph):
    a, b, c = fg("out/a"), fg("out/b"), fg("out/c")
    independent = fg("out/d")
    a.depends_on(b)
    b.depends_on(c)
    c.depends_on(a)
    with pytest.raises(ppg.CycleError):
        ppg.run_pipegraph()
    assert not independent.was_run
    assert not os.path.exists("out/d")


def test_two_job_cycle(new_pipegraph):
    a, b = fg("out/a"), fg("out/b")
    with pytest.raises(ppg.CycleError):
        a.depends_on(b)
        b.depends_on(a)
        ppg.run_pipegraph()


def test_self_dependency(new_pipegraph):
    a = fg("out/a")
    with pytest.raises(ppg.CycleError):
        a.depends_on(a)
        ppg.run_pipegraph()
    assert not os.path.exists("out/a")
