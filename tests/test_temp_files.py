"""TempFileGeneratingJob, MultiTempFileGeneratingJob, TempFilePlusGeneratingJob and prune()
(API.md: "Output jobs")."""

import os
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def make_temp(of):
    append("out/temp.count", "x")
    Path(of).write_text("temp data")


def temp_chain(b_func=None, extra_dependant=False):
    """out/temp (temporary) -> out/b (reads it); optionally out/c reads it too."""
    temp = ppg.TempFileGeneratingJob("out/temp", make_temp)

    def make_b(of):
        append("out/b.count", "x")
        Path(of).write_text(read("out/temp") + " via b")

    job_b = ppg.FileGeneratingJob("out/b", b_func or make_b).depends_on(temp)
    jobs = [temp, job_b]
    if extra_dependant:

        def make_c(of):
            append("out/c.count", "x")
            Path(of).write_text(read("out/temp") + " via c")

        jobs.append(ppg.FileGeneratingJob("out/c", make_c).depends_on(temp))
    return jobs


def fail_unless_flag(of):
    append("out/b.count", "x")
    if not os.path.exists("flag"):
        raise ValueError("no flag yet")
    Path(of).write_text(read("out/temp") + " via b")


# --- TempFileGeneratingJob -----------------------------------------------------------


def test_temp_file_used_then_removed(new_pipegraph):
    temp, job_b = temp_chain()
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "temp data via b"
    assert not os.path.exists("out/temp")
    assert runs("out/temp.count") == 1


def test_temp_job_without_dependants_does_not_run(new_pipegraph):
    temp = ppg.TempFileGeneratingJob("out/temp", make_temp)
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    ppg.run()
    assert other.was_run
    assert not temp.was_run
    assert runs("out/temp.count") == 0
    assert not os.path.exists("out/temp")


def test_temp_job_not_run_on_noop_rerun(new_pipegraph):
    temp_chain()
    ppg.run()
    for _ in range(2):
        new_pipegraph.new_pipegraph()
        temp, job_b = temp_chain()
        ppg.run()
        assert not temp.was_run and not job_b.was_run
    assert runs("out/temp.count") == 1 and runs("out/b.count") == 1
    assert not os.path.exists("out/temp")


def test_temp_job_reruns_when_dependant_must_run(new_pipegraph):
    temp_chain()
    ppg.run()
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    temp, job_b = temp_chain()
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "temp data via b"
    assert runs("out/temp.count") == 2
    assert not os.path.exists("out/temp")


def test_temp_job_runs_when_dependant_invalidated_by_own_invariant(new_pipegraph):
    def build(suffix):
        temp = ppg.TempFileGeneratingJob("out/temp", make_temp)

        def make_b(of, suffix=suffix):
            Path(of).write_text(read("out/temp") + suffix)

        return temp, ppg.FileGeneratingJob("out/b", make_b).depends_on(temp)

    build("!")
    ppg.run()
    new_pipegraph.new_pipegraph()
    temp, job_b = build("?")
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "temp data?"


def test_temp_removed_only_after_all_direct_dependants(new_pipegraph):
    temp = ppg.TempFileGeneratingJob("out/temp", make_temp)
    readers = []
    for i, delay in enumerate((0.0, 0.15, 0.3)):

        def reader(of, delay=delay):
            time.sleep(delay)
            Path(of).write_text(read("out/temp"))

        readers.append(ppg.FileGeneratingJob(f"out/r{i}", reader).depends_on(temp))
    ppg.run()
    for i in range(3):
        assert read(f"out/r{i}") == "temp data"
    assert not os.path.exists("out/temp")
    assert runs("out/temp.count") == 1


def test_temp_kept_when_dependant_fails_and_reused_on_rerun(new_pipegraph):
    temp, job_b = temp_chain(b_func=fail_unless_flag)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert temp.was_run and not temp.failed
    assert job_b.failed
    assert read("out/temp") == "temp data"

    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    temp, job_b = temp_chain(b_func=fail_unless_flag)
    ppg.run()
    assert job_b.was_run and read("out/b") == "temp data via b"
    assert not temp.was_run
    assert runs("out/temp.count") == 1
    assert not os.path.exists("out/temp")


def test_temp_kept_when_one_of_two_dependants_fails(new_pipegraph):
    def build():
        temp = ppg.TempFileGeneratingJob("out/temp", make_temp)
        job_b = ppg.FileGeneratingJob("out/b", fail_unless_flag).depends_on(temp)

        def make_c(of):
            append("out/c.count", "x")
            Path(of).write_text(read("out/temp") + " via c")

        job_c = ppg.FileGeneratingJob("out/c", make_c).depends_on(temp)
        return temp, job_b, job_c

    temp, job_b, job_c = build()
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert job_c.was_run and read("out/c") == "temp data via c"
    assert os.path.exists("out/temp")

    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    temp, job_b, job_c = build()
    ppg.run()
    assert job_b.was_run and not job_c.was_run and not temp.was_run
    assert runs("out/temp.count") == 1 and runs("out/c.count") == 1
    assert not os.path.exists("out/temp")


def test_kept_temp_file_not_reused_when_its_input_changed(new_pipegraph):
    def build():
        def make(of):
            append("out/temp.count", "x")
            Path(of).write_text(read("in.txt"))

        temp = ppg.TempFileGeneratingJob("out/temp", make).depends_on(ppg.FileInvariant("in.txt"))
        return temp, ppg.FileGeneratingJob("out/b", fail_unless_flag).depends_on(temp)

    Path("in.txt").write_text("old")
    build()
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert read("out/temp") == "old"
    Path("in.txt").write_text("new")
    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    temp, job_b = build()
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "new via b"
    assert runs("out/temp.count") == 2
    assert not os.path.exists("out/temp")


def test_new_dependant_triggers_temp_without_rerunning_old_one(new_pipegraph):
    temp_chain()
    ppg.run()
    new_pipegraph.new_pipegraph()
    temp, job_b, job_c = temp_chain(extra_dependant=True)
    ppg.run()
    assert temp.was_run and job_c.was_run
    assert not job_b.was_run
    assert read("out/c") == "temp data via c"
    assert (runs("out/temp.count"), runs("out/b.count"), runs("out/c.count")) == (2, 1, 1)
    assert not os.path.exists("out/temp")


def test_temp_function_change_reruns_dependant_and_output_follows(new_pipegraph):
    def build(temp_func):
        temp = ppg.TempFileGeneratingJob("out/temp", temp_func)

        def make_b(of):
            append("out/b.count", "x")
            Path(of).write_text(read("out/temp") + " via b")

        return temp, ppg.FileGeneratingJob("out/b", make_b).depends_on(temp)

    def make_temp_v2(of):
        Path(of).write_text("new temp data")

    build(make_temp)
    ppg.run()
    new_pipegraph.new_pipegraph()
    temp, job_b = build(make_temp_v2)
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "new temp data via b"
    new_pipegraph.new_pipegraph()
    temp, job_b = build(make_temp_v2)
    ppg.run()
    assert not temp.was_run and not job_b.was_run
    assert runs("out/b.count") == 2


def test_temp_file_invariant_change_reruns_chain(new_pipegraph):
    def build():
        def make(of):
            append("out/temp.count", "x")
            Path(of).write_text(read("in.txt"))

        temp = ppg.TempFileGeneratingJob("out/temp", make).depends_on(ppg.FileInvariant("in.txt"))
        job_b = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text(read("out/temp")) and None)
        return temp, job_b.depends_on(temp)

    Path("in.txt").write_text("one")
    build()
    ppg.run()
    new_pipegraph.new_pipegraph()
    temp, job_b = build()
    ppg.run()
    assert not temp.was_run and not job_b.was_run
    Path("in.txt").write_text("two")
    new_pipegraph.new_pipegraph()
    temp, job_b = build()
    ppg.run()
    assert temp.was_run and job_b.was_run
    assert read("out/b") == "two"
    assert not os.path.exists("out/temp")


def test_temp_job_failure_removes_file_and_fails_dependant(new_pipegraph):
    def broken(of):
        Path(of).write_text("partial")
        raise ValueError("temp broken")

    temp = ppg.TempFileGeneratingJob("out/temp", broken)
    job_b = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text("b") and None).depends_on(temp)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert temp.failed and isinstance(temp.exception, ValueError)
    assert job_b.failed and job_b.error_reason == "Indirect" and not job_b.was_run
    assert not os.path.exists("out/temp") and not os.path.exists("out/b")


def test_failing_upstream_of_temp_fails_dependant_indirectly(new_pipegraph):
    def fail(of):
        raise ValueError("src broken")

    src = ppg.FileGeneratingJob("out/src", fail)
    temp = ppg.TempFileGeneratingJob("out/temp", make_temp).depends_on(src)
    job_b = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text("b") and None).depends_on(temp)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert not temp.was_run and not job_b.was_run
    assert job_b.failed
    assert job_b.error_reason == "Indirect"


def test_chained_temp_jobs(new_pipegraph):
    def build():
        def make_t1(of):
            append("out/t1.count", "x")
            Path(of).write_text("t1")

        def make_t2(of):
            append("out/t2.count", "x")
            Path(of).write_text(read("out/t1") + "+t2")

        t1 = ppg.TempFileGeneratingJob("out/t1", make_t1)
        t2 = ppg.TempFileGeneratingJob("out/t2", make_t2).depends_on(t1)
        job = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text(read("out/t2")) and None)
        return t1, t2, job.depends_on(t2)

    t1, t2, job = build()
    ppg.run()
    assert read("out/b") == "t1+t2"
    assert not os.path.exists("out/t1") and not os.path.exists("out/t2")
    new_pipegraph.new_pipegraph()
    t1, t2, job = build()
    ppg.run()
    assert not (t1.was_run or t2.was_run or job.was_run)
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    t1, t2, job = build()
    ppg.run()
    assert t1.was_run and t2.was_run and job.was_run
    assert runs("out/t1.count") == runs("out/t2.count") == 2


def test_temp_file_read_by_loader(new_pipegraph):
    """temp -> DataLoadingJob -> out/b: the chain of lazy jobs runs when out/b must."""

    def build():
        store = {}

        def load():
            store["text"] = read("out/temp")

        temp = ppg.TempFileGeneratingJob("out/temp", make_temp)
        loader = ppg.DataLoadingJob("load", load).depends_on(temp)
        job_b = ppg.FileGeneratingJob("out/b", lambda of: Path(of).write_text(store["text"]) and None)
        return temp, loader, job_b.depends_on(loader)

    build()
    ppg.run()
    assert read("out/b") == "temp data"
    new_pipegraph.new_pipegraph()
    temp, loader, job_b = build()
    ppg.run()
    assert not temp.was_run and not loader.was_loaded and not job_b.was_run
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    temp, loader, job_b = build()
    ppg.run()
    assert temp.was_run and loader.was_loaded and job_b.was_run
    assert read("out/b") == "temp data"


def test_temp_bad_arguments_and_reused_id(new_pipegraph):
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.TempFileGeneratingJob("out/t", "not callable")
    with pytest.raises(ValueError, match="was not a callable"):
        ppg.TempFilePlusGeneratingJob("out/t2", "out/k2", None)
    with pytest.raises(ValueError):
        ppg.MultiTempFileGeneratingJob(["out/m1", "out/m2"], 42)
    with pytest.raises(ValueError):
        ppg.MultiTempFileGeneratingJob("out/single", lambda of: None)
    job = ppg.TempFileGeneratingJob("out/t3", make_temp)
    assert ppg.TempFileGeneratingJob("out/t3", make_temp) is job
    with pytest.raises(ValueError):
        ppg.TempFileGeneratingJob("out/t3", lambda of: None)
    with pytest.raises(ValueError):
        ppg.FileGeneratingJob("out/t3", make_temp)


# --- MultiTempFileGeneratingJob ------------------------------------------------------


def multi_chain(b_func=None):
    def make(filenames):
        append("out/multi.count", "x")
        for name in filenames:
            Path(name).write_text(name)

    def make_b(of):
        append("out/b.count", "x")
        Path(of).write_text(read("out/m1") + "," + read("out/m2"))

    multi = ppg.MultiTempFileGeneratingJob(["out/m1", "out/m2"], make)
    return multi, ppg.FileGeneratingJob("out/b", b_func or make_b).depends_on(multi)


def test_multi_temp_files_used_then_removed(new_pipegraph):
    multi, job_b = multi_chain()
    ppg.run()
    assert read("out/b") == "out/m1,out/m2"
    assert not os.path.exists("out/m1") and not os.path.exists("out/m2")
    new_pipegraph.new_pipegraph()
    multi, job_b = multi_chain()
    ppg.run()
    assert not multi.was_run and not job_b.was_run
    assert runs("out/multi.count") == 1


def test_multi_temp_without_dependants_does_not_run(new_pipegraph):
    multi = ppg.MultiTempFileGeneratingJob(["out/m1", "out/m2"], lambda fns: append("out/multi.count", "x"))
    ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    ppg.run()
    assert not multi.was_run
    assert runs("out/multi.count") == 0


def test_multi_temp_kept_when_dependant_fails(new_pipegraph):
    def b_func(of):
        append("out/b.count", "x")
        if not os.path.exists("flag"):
            raise ValueError("no flag yet")
        Path(of).write_text(read("out/m1") + "," + read("out/m2"))

    multi, job_b = multi_chain(b_func)
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert os.path.exists("out/m1") and os.path.exists("out/m2")
    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    multi, job_b = multi_chain(b_func)
    ppg.run()
    assert job_b.was_run and not multi.was_run
    assert read("out/b") == "out/m1,out/m2"
    assert runs("out/multi.count") == 1
    assert not os.path.exists("out/m1") and not os.path.exists("out/m2")


# --- TempFilePlusGeneratingJob -------------------------------------------------------


def plus_chain():
    def make(of):
        append("out/plus.count", "x")
        Path(of).write_text("temp part")
        append("out/keep.log", "made ")

    plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/keep.log", make)

    def make_b(of):
        append("out/b.count", "x")
        Path(of).write_text(read("out/tp") + "!")

    return plus, ppg.FileGeneratingJob("out/b", make_b).depends_on(plus)


def test_temp_plus_keep_file_stays(new_pipegraph):
    plus, job_b = plus_chain()
    ppg.run()
    assert read("out/b") == "temp part!"
    assert not os.path.exists("out/tp")
    assert read("out/keep.log") == "made "


def test_temp_plus_rerun_behaviour(new_pipegraph):
    plus_chain()
    ppg.run()
    new_pipegraph.new_pipegraph()
    plus, job_b = plus_chain()
    ppg.run()
    assert not plus.was_run and not job_b.was_run
    assert read("out/keep.log") == "made "
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    plus, job_b = plus_chain()
    ppg.run()
    assert plus.was_run and job_b.was_run
    assert read("out/keep.log") == "made made "
    assert not os.path.exists("out/tp")


def test_temp_plus_without_dependants_does_not_run(new_pipegraph):
    plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/keep.log", lambda of: append("out/plus.count", "x"))
    ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    ppg.run()
    assert not plus.was_run
    assert not os.path.exists("out/keep.log")


def test_temp_plus_kept_when_dependant_fails(new_pipegraph):
    def make(of):
        append("out/plus.count", "x")
        Path(of).write_text("temp part")
        Path("out/keep.log").write_text("kept")

    def build():
        plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/keep.log", make)
        job_b = ppg.FileGeneratingJob("out/b", fail_unless_flag_plus).depends_on(plus)
        return plus, job_b

    plus, job_b = build()
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert os.path.exists("out/tp") and os.path.exists("out/keep.log")
    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    plus, job_b = build()
    ppg.run()
    assert job_b.was_run and not plus.was_run
    assert runs("out/plus.count") == 1
    assert read("out/b") == "temp part!"
    assert not os.path.exists("out/tp") and os.path.exists("out/keep.log")


def fail_unless_flag_plus(of):
    if not os.path.exists("flag"):
        raise ValueError("no flag yet")
    Path(of).write_text(read("out/tp") + "!")


# --- prune ----------------------------------------------------------------------------


def test_temp_needed_only_by_pruned_job_does_not_run(new_pipegraph):
    temp, job_b = temp_chain()
    other = ppg.FileGeneratingJob("out/other", lambda of: Path(of).write_text("o") and None)
    job_b.prune()
    ppg.run()
    assert other.was_run
    assert not temp.was_run and not job_b.was_run
    assert runs("out/temp.count") == 0
    assert not os.path.exists("out/temp") and not os.path.exists("out/b")


def test_temp_runs_for_unpruned_dependant_only(new_pipegraph):
    temp, job_b, job_c = temp_chain(extra_dependant=True)
    job_b.prune()
    ppg.run()
    assert temp.was_run and job_c.was_run and not job_b.was_run
    assert not os.path.exists("out/b")
    assert read("out/c") == "temp data via c"
    assert not os.path.exists("out/temp")


def test_pruned_temp_job_prunes_its_dependants(new_pipegraph):
    temp, job_b = temp_chain()
    temp.prune()
    ppg.run()
    assert not temp.was_run and not job_b.was_run
    assert not os.path.exists("out/b")
    new_pipegraph.new_pipegraph()
    temp, job_b = temp_chain()
    job_b.prune()
    job_b.unprune()
    ppg.run()
    assert temp.was_run and job_b.was_run


def test_missing_keep_file_reruns_temp_plus_job_and_its_dependants(new_pipegraph):
    """0.197: a TempFilePlusGeneratingJob whose kept file (its log) is gone is not done:
    it reruns, and so does every dependant; afterwards a rerun is a no-op again."""

    def build():
        def make():
            append("out/tp.count", "x")
            Path("out/tp").write_text("t")
            append("out/tp.log", "made;")

        def use(of):
            append("out/user.count", "x")
            Path(of).write_text(read("out/tp") + "u")

        plus = ppg.TempFilePlusGeneratingJob("out/tp", "out/tp.log", make)
        return ppg.FileGeneratingJob("out/user", use).depends_on(plus)

    build()
    ppg.run()
    os.unlink("out/tp.log")
    new_pipegraph.new_pipegraph()
    user = build()
    ppg.run()
    assert user.was_run and user.was_invalidated
    assert "kept file out/tp.log is missing" in read("logs/ppg_run.txt")
    assert (runs("out/tp.count"), runs("out/user.count")) == (2, 2)
    assert read("out/tp.log") == "made;" and not os.path.exists("out/tp")
    new_pipegraph.new_pipegraph()
    user = build()
    ppg.run()
    assert not user.was_run and (runs("out/tp.count"), runs("out/user.count")) == (2, 2)
