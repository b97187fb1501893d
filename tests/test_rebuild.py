"""Rerun decisions across graphs in one directory: what runs again, and why."""

import os
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def chain(input_text=None, b_suffix="!", a_func=None):
    """in.txt -> out/a (first line of in.txt) -> out/b (a + suffix); plus independent out/c."""
    if input_text is not None:
        Path("in.txt").write_text(input_text)

    def make_a(of):
        append("out/a.count", "x")
        Path(of).write_text(read("in.txt").splitlines()[0])

    def make_b(of, suffix=b_suffix):
        append("out/b.count", "x")
        Path(of).write_text(read("out/a") + suffix)

    def make_c(of):
        append("out/c.count", "x")
        Path(of).write_text("c")

    job_a = ppg.FileGeneratingJob("out/a", a_func or make_a).depends_on(ppg.FileInvariant("in.txt"))
    job_b = ppg.FileGeneratingJob("out/b", make_b).depends_on(job_a)
    job_c = ppg.FileGeneratingJob("out/c", make_c)
    return job_a, job_b, job_c


def test_noop_rerun_runs_nothing(new_pipegraph):
    chain("hello\n")
    ppg.run()
    assert runs("out/a.count") == runs("out/b.count") == runs("out/c.count") == 1
    for _ in range(2):
        new_pipegraph.new_pipegraph()
        jobs = chain()
        ppg.run()
        assert not any(job.was_run for job in jobs)
    assert runs("out/a.count") == runs("out/b.count") == runs("out/c.count") == 1


def test_input_edit_reruns_only_downstream(new_pipegraph):
    chain("hello\n")
    ppg.run()
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain("goodbye\n")
    ppg.run()
    assert job_a.was_run and job_b.was_run and not job_c.was_run
    assert job_a.was_invalidated
    assert read("out/b") == "goodbye!"
    assert (runs("out/a.count"), runs("out/b.count"), runs("out/c.count")) == (2, 2, 1)
    assert "out/a: runs because input file in.txt changed" in read("logs/ppg_run.txt")


def test_touch_without_change_reruns_nothing(new_pipegraph):
    chain("hello\n")
    ppg.run()
    stat = os.stat("in.txt")
    os.utime("in.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    new_pipegraph.new_pipegraph()
    jobs = chain()
    ppg.run()
    assert not any(job.was_run for job in jobs)


def test_early_cutoff_identical_output_does_not_rerun_downstream(new_pipegraph):
    chain("hello\nsecond line\n")
    ppg.run()
    new_pipegraph.new_pipegraph()
    job_a, job_b, _ = chain("hello\na different second line\n")  # a's output is the same
    ppg.run()
    assert job_a.was_run
    assert not job_b.was_run
    assert runs("out/b.count") == 1
    assert "out/a: output unchanged" in read("logs/ppg_run.txt")


def test_function_change_reruns_and_cuts_off(new_pipegraph):
    chain("hello\n")
    ppg.run()

    def make_a_differently(of):
        append("out/a.count", "x")
        Path(of).write_text(read("in.txt").splitlines()[0].upper())

    new_pipegraph.new_pipegraph()
    job_a, job_b, _ = chain(a_func=make_a_differently)
    ppg.run()
    assert job_a.was_run and job_b.was_run
    assert read("out/b") == "HELLO!"
    assert "make_a_differently changed" in read("logs/ppg_run.txt")

    def same_output_new_code(of):
        append("out/a.count", "x")
        text = read("in.txt").splitlines()[0]
        Path(of).write_text(text.upper())

    new_pipegraph.new_pipegraph()
    job_a, job_b, _ = chain(a_func=same_output_new_code)
    ppg.run()
    assert job_a.was_run and not job_b.was_run


def test_default_argument_change_reruns(new_pipegraph):
    chain("hello\n")
    ppg.run()
    new_pipegraph.new_pipegraph()
    job_a, job_b, _ = chain(b_suffix="?")
    ppg.run()
    assert not job_a.was_run and job_b.was_run
    assert read("out/b") == "hello?"


def test_deleted_output_reruns_only_that_job(new_pipegraph):
    chain("hello\n")
    ppg.run()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain()
    ppg.run()
    assert job_a.was_run and not job_b.was_run and not job_c.was_run
    assert "out/a: runs because output out/a missing" in read("logs/ppg_run.txt")


def test_output_changed_outside_the_pipeline_is_rebuilt(new_pipegraph):
    chain("hello\n")
    ppg.run()
    Path("out/b").write_text("tampered")
    new_pipegraph.new_pipegraph()
    job_a, job_b, _ = chain()
    ppg.run()
    assert job_b.was_run and not job_a.was_run
    assert read("out/b") == "hello!"


def test_output_touched_only_reruns_nothing(new_pipegraph):
    chain("hello\n")
    ppg.run()
    os.utime("out/a", ns=(1, 1_000_000_000))
    new_pipegraph.new_pipegraph()
    jobs = chain()
    ppg.run()
    assert not any(job.was_run for job in jobs)
    new_pipegraph.new_pipegraph()
    chain()
    ppg.run()  # the refreshed mtime was recorded: still nothing
    assert runs("out/a.count") == 1


def test_added_and_removed_dependency_rerun(new_pipegraph):
    job_a, job_b, job_c = chain("hello\n")
    ppg.run()
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain()
    job_b.depends_on(job_c)
    ppg.run()
    assert job_b.was_run and not job_a.was_run and not job_c.was_run
    assert "out/b: runs because new input out/c" in read("logs/ppg_run.txt")
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain()
    ppg.run()
    assert job_b.was_run
    assert "input out/c removed" in read("logs/ppg_run.txt")


def test_parameter_change(new_pipegraph):
    def build(params):
        job = ppg.FileGeneratingJob("out/p", lambda of: Path(of).write_text(str(params)) and None)
        job.depends_on_params(params)
        return job

    build((1, 2))
    ppg.run()
    new_pipegraph.new_pipegraph()
    job = build((1, 2))
    ppg.run()
    assert not job.was_run
    new_pipegraph.new_pipegraph()
    job = build((1, 3))
    ppg.run()
    assert job.was_run and read("out/p") == "(1, 3)"
    assert "parameters PIout/p changed" in read("logs/ppg_run.txt")


def test_failure_isolation_and_recovery(new_pipegraph):
    def build():
        def fail_unless_flag(of):
            append("out/f.count", "x")
            if not os.path.exists("flag"):
                raise ValueError("no flag yet")
            Path(of).write_text("f")

        job_f = ppg.FileGeneratingJob("out/f", fail_unless_flag)
        job_g = ppg.FileGeneratingJob("out/g", lambda of: Path(of).write_text(read("out/f")) and None)
        job_g.depends_on(job_f)
        job_h = ppg.FileGeneratingJob("out/h", lambda of: append(of, "h"))
        return job_f, job_g, job_h

    job_f, job_g, job_h = build()
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run()
    assert "out/f" in str(info.value)
    assert job_f.failed and job_f.error_reason == "Exception"
    assert isinstance(job_f.exception, ValueError)
    assert job_g.failed and job_g.error_reason == "Indirect" and not job_g.was_run
    assert job_h.was_run and read("out/h") == "h"
    assert not os.path.exists("out/f") and not os.path.exists("out/g")

    Path("flag").write_text("")
    new_pipegraph.new_pipegraph()
    job_f, job_g, job_h = build()
    ppg.run()
    assert job_f.was_run and job_g.was_run and not job_h.was_run
    assert read("out/g") == "f"


def test_job_that_failed_after_writing_reruns(new_pipegraph):
    """A job that failed has no record, even if an old output is still there."""

    def build(fail):
        def work(of):
            append("out/w.count", "x")
            Path(of).write_text("w")
            if fail:
                raise ValueError("late failure")

        return ppg.FileGeneratingJob("out/w", work, rename_broken=True)

    build(False)
    ppg.run()
    new_pipegraph.new_pipegraph()
    ppg.ParameterInvariant("out/w", 1)
    job = build(True).depends_on(ppg.util.global_pipegraph.jobs["PIout/w"])
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert os.path.exists("out/w.broken") and not os.path.exists("out/w")
    new_pipegraph.new_pipegraph()
    job = build(False)
    ppg.run()
    assert job.was_run and runs("out/w.count") == 3


def test_worker_killed_by_signal(new_pipegraph):
    import signal

    def die(of):
        Path(of).write_text("partial")
        os.kill(os.getpid(), signal.SIGKILL)

    job = ppg.FileGeneratingJob("out/k", die)
    other = ppg.FileGeneratingJob("out/ok", lambda of: append(of, "ok"))
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert isinstance(job.exception, ppg.JobDiedException)
    assert job.exception.exit_code == -signal.SIGKILL
    assert "SIGKILL" in str(job.exception)
    assert not os.path.exists("out/k")
    assert other.was_run and read("out/ok") == "ok"


def test_upstream_of_many_jobs_decided_once(new_pipegraph):
    """A fan-in graph: 50 jobs into one; rerun after changing one input reruns two jobs."""

    def build():
        jobs = []
        for i in range(50):
            if not os.path.exists(f"in{i}"):
                Path(f"in{i}").write_text(str(i))
            job = ppg.FileGeneratingJob(
                f"out/{i}", lambda of, i=i: Path(of).write_text(read(f"in{i}")) and None
            ).depends_on(ppg.FileInvariant(f"in{i}"))
            jobs.append(job)

        def total(of):
            append("out/total.count", "x")
            Path(of).write_text(str(sum(int(read(f"out/{i}")) for i in range(50))))

        final = ppg.FileGeneratingJob("out/total", total).depends_on(jobs)
        return jobs, final

    build()
    ppg.run()
    assert read("out/total") == str(sum(range(50)))
    Path("in7").write_text("1007")
    new_pipegraph.new_pipegraph()
    jobs, final = build()
    ppg.run()
    assert [job.job_id for job in jobs if job.was_run] == ["out/7"]
    assert final.was_run and read("out/total") == str(sum(range(50)) + 1000)


def test_was_invalidated_reaches_everything_downstream_of_a_change(new_pipegraph):
    """0.197's outcome field: set downstream of a changed invariant (also where early cutoff
    then spares a job) and on jobs that are not done; unchanged jobs keep False."""
    chain("hello\nworld\n")
    ppg.run()
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain("hello\nthere\n")  # a reruns; its output is unchanged
    ppg.run()
    assert job_a.was_run and not job_b.was_run
    assert job_a.was_invalidated and job_b.was_invalidated and not job_c.was_invalidated
    os.unlink("out/c")
    new_pipegraph.new_pipegraph()
    job_a, job_b, job_c = chain()
    ppg.run()
    assert job_c.was_invalidated and not job_a.was_invalidated and not job_b.was_invalidated
