"""FileGeneratingJob / MultiFileGeneratingJob (API.md: "Output jobs", "Errors", "Files the engine writes")."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, read, runs


def write(filename, text):
    with open(filename, "w") as fh:
        fh.write(text)


def wait_for(filename, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(filename):
            return True
        time.sleep(0.01)
    return False


# --- callback signatures ------------------------------------------------------------


def test_callback_without_argument(new_pipegraph):
    def work():
        write("out/a", "zero")

    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert read("out/a") == "zero"
    assert job.was_run
    assert not job.failed
    assert job.error_reason == "no error"


def test_callback_gets_filename(new_pipegraph):
    def work(of):
        write(of, "name:" + of)

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert read("out/a") == "name:out/a"


def test_default_argument_idiom_called_without_argument(new_pipegraph):
    jobs = []
    for name in ("A", "B", "C"):
        filename = Path("out") / name

        def work(filename=filename):
            # a str here would mean the engine passed the output name in
            Path(filename).write_text(type(filename).__name__ + ":" + str(filename))

        jobs.append(ppg.FileGeneratingJob(filename, work))
    ppg.run_pipegraph()
    for name in ("A", "B", "C"):
        assert read(f"out/{name}") == f"{Path().__class__.__name__}:out/{name}"


def test_multi_callback_gets_list(new_pipegraph):
    def work(filenames):
        for fn in filenames:
            write(fn, f"{type(filenames).__name__}:{','.join(filenames)}")

    job = ppg.MultiFileGeneratingJob(["out/a", "out/b"], work)
    ppg.run_pipegraph()
    assert read("out/a") == "list:out/a,out/b"
    assert read("out/b") == "list:out/a,out/b"
    assert job.was_run


def test_multi_callback_without_argument(new_pipegraph):
    def work():
        write("out/a", "a")
        write("out/b", "b")

    ppg.MultiFileGeneratingJob(["out/a", "out/b"], work)
    ppg.run_pipegraph()
    assert read("out/a") == "a" and read("out/b") == "b"


def test_multi_bare_string_value_error(new_pipegraph):
    with pytest.raises(ValueError):
        ppg.MultiFileGeneratingJob("out/a", lambda: None)


def test_multi_non_iterable_type_error(new_pipegraph):
    with pytest.raises(TypeError):
        ppg.MultiFileGeneratingJob(5, lambda: None)


def test_multi_missing_one_output_is_contract_error(new_pipegraph):
    def work():
        write("out/a", "a")

    job = ppg.MultiFileGeneratingJob(["out/a", "out/b"], work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ppg.JobContractError)


def test_multi_reruns_when_one_output_missing(new_pipegraph):
    def work(filenames):
        append("out/count", "x")
        for fn in filenames:
            write(fn, "x")

    ppg.MultiFileGeneratingJob(["out/a", "out/b"], work)
    ppg.run_pipegraph()
    assert runs("out/count") == 1
    os.unlink("out/b")
    new_pipegraph.new_pipegraph()
    ppg.MultiFileGeneratingJob(["out/a", "out/b"], work)
    ppg.run_pipegraph()
    assert runs("out/count") == 2
    assert read("out/b") == "x"


# --- contract errors ---------------------------------------------------------------


def test_not_creating_output(new_pipegraph):
    def work():
        pass

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ppg.JobContractError)


def test_return_value_is_ignored(new_pipegraph):
    # 0.197 idiom: lambda of: open(of, "w").write(x) returns the number of characters
    job = ppg.FileGeneratingJob("out/a", lambda of: open(of, "w").write("hello"))
    ppg.run_pipegraph()
    assert not job.failed
    assert read("out/a") == "hello"


def test_exception_removes_partial_output(new_pipegraph):
    def work(of):
        write(of, "partial")
        raise ValueError("boom")

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ValueError)
    assert "boom" in str(job.exception)
    assert job.error_reason == "Exception"
    assert not os.path.exists("out/a")
    assert not os.path.exists("out/a.broken")


def test_exception_rename_broken(new_pipegraph):
    def work(of):
        write(of, "partial")
        raise ValueError("boom")

    job = ppg.FileGeneratingJob("out/x", work, rename_broken=True)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert not os.path.exists("out/x")
    assert read("out/x.broken") == "partial"


def test_failed_job_reruns_next_time(new_pipegraph):
    def bad(of):
        append("out/count", "x")
        raise ValueError("boom")

    ppg.FileGeneratingJob("out/a", bad)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()

    def good(of):
        append("out/count", "x")
        write(of, "ok")

    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", good)
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2
    assert read("out/a") == "ok"


def test_runtime_error_names_job_and_lists_exceptions(new_pipegraph):
    def work(of):
        raise KeyError("the-key")

    job = ppg.FileGeneratingJob("out/failing_job", work)
    with pytest.raises(ppg.RuntimeError) as excinfo:
        ppg.run_pipegraph()
    err = excinfo.value
    assert isinstance(err, ppg.PyPipeGraphError)
    assert "out/failing_job" in str(err)
    assert job.exception in err.exceptions
    assert any(isinstance(e, KeyError) for e in err.exceptions)


def test_two_jobs_same_file(new_pipegraph):
    ppg.FileGeneratingJob("out/a", lambda of: write(of, "1"))
    with pytest.raises(ValueError):
        ppg.MultiFileGeneratingJob(["out/a", "out/b"], lambda: None)


def test_two_multi_jobs_overlapping(new_pipegraph):
    ppg.MultiFileGeneratingJob(["out/a", "out/b"], lambda: None)
    with pytest.raises(ValueError):
        ppg.MultiFileGeneratingJob(["out/b", "out/c"], lambda: None)


def test_same_id_different_function_raises(new_pipegraph):
    def one(of):
        write(of, "1")

    def two(of):
        write(of, "2")

    ppg.FileGeneratingJob("out/a", one)
    with pytest.raises(ValueError):
        ppg.FileGeneratingJob("out/a", two)


# --- output captured -----------------------------------------------------------


def test_stdout_stderr_captured(new_pipegraph):
    def work(of):
        print("hello from print")
        sys.stderr.write("hello from stderr\n")
        os.system("echo hello-from-shell")
        os.system("echo shell-err 1>&2")
        write(of, "x")

    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert "hello from print" in job.stdout
    assert "hello-from-shell" in job.stdout
    assert "hello from stderr" in job.stderr
    assert "shell-err" in job.stderr
    assert "hello from stderr" not in job.stdout


def test_stdout_captured_on_failure(new_pipegraph):
    def work(of):
        print("said before failing")
        raise ValueError("boom")

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert "said before failing" in job.stdout


# --- dying workers ---------------------------------------------------------------


def test_sys_exit(new_pipegraph):
    def work(of):
        sys.exit(3)

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ppg.JobDiedException)
    assert job.exception.exit_code == 3


def test_os_exit(new_pipegraph):
    def work(of):
        write(of, "partial")
        os._exit(3)

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ppg.JobDiedException)
    assert job.exception.exit_code == 3
    # nothing half-written is taken for done
    assert not os.path.exists("out/a")


def test_sigkill(new_pipegraph):
    def work(of):
        os.kill(os.getpid(), signal.SIGKILL)

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert job.failed
    assert isinstance(job.exception, ppg.JobDiedException)
    assert job.exception.exit_code == -9


def test_died_job_does_not_stop_independent_jobs(new_pipegraph):
    def dies(of):
        os._exit(1)

    def fine(of):
        time.sleep(0.1)
        write(of, "fine")

    ppg.FileGeneratingJob("out/a", dies)
    ok = ppg.FileGeneratingJob("out/b", fine)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert ok.was_run
    assert read("out/b") == "fine"


# --- failure propagation -----------------------------------------------------------


def test_failure_stops_only_downstream(new_pipegraph):
    def fails(of):
        raise ValueError("upstream broke")

    def downstream(of):
        write(of, "should not run")

    def independent(of):
        time.sleep(0.2)
        write(of, "independent")

    a = ppg.FileGeneratingJob("out/a", fails)
    b = ppg.FileGeneratingJob("out/b", downstream)
    c = ppg.FileGeneratingJob("out/c", downstream)
    b.depends_on(a)
    c.depends_on(b)
    d = ppg.FileGeneratingJob("out/d", independent)
    with pytest.raises(ppg.RuntimeError) as excinfo:
        ppg.run_pipegraph()
    assert a.failed and a.error_reason == "Exception"
    assert b.error_reason == "Indirect"
    assert c.error_reason == "Indirect"
    assert not b.was_run and not c.was_run
    assert not os.path.exists("out/b") and not os.path.exists("out/c")
    assert d.was_run and not d.failed
    assert read("out/d") == "independent"
    assert "out/a" in str(excinfo.value)


# --- empty output ----------------------------------------------------------------


def test_empty_output_fails_and_reruns(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "")

    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert isinstance(job.exception, ppg.JobContractError)
    assert "empty" in str(job.exception)
    assert runs("out/count") == 1
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    assert runs("out/count") == 2


def test_empty_ok(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "")

    ppg.FileGeneratingJob("out/a", work, empty_ok=True)
    ppg.run_pipegraph()
    assert runs("out/count") == 1
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work, empty_ok=True)
    ppg.run_pipegraph()
    assert not job.was_run
    assert runs("out/count") == 1


def test_missing_output_reruns(new_pipegraph):
    def work(of):
        append("out/count", "x")
        write(of, "x")

    ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    os.unlink("out/a")
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    assert job.was_run
    assert runs("out/count") == 2


def test_upstream_output_change_reruns_downstream(new_pipegraph):
    def make_a(text):
        def work(of):
            write(of, text)

        return work

    def b_work(of):
        append("out/b.count", "x")
        write(of, read("out/a") + "!")

    ppg.FileGeneratingJob("out/b", b_work).depends_on(ppg.FileGeneratingJob("out/a", make_a("1")))
    ppg.run_pipegraph()
    assert runs("out/b.count") == 1
    new_pipegraph.new_pipegraph()
    ppg.FileGeneratingJob("out/b", b_work).depends_on(ppg.FileGeneratingJob("out/a", make_a("2")))
    ppg.run_pipegraph()
    assert runs("out/b.count") == 2
    assert read("out/b") == "2!"


# --- outcome attributes ----------------------------------------------------------


def test_start_stop_time(new_pipegraph):
    def work(of):
        time.sleep(0.05)
        write(of, "x")

    before = time.time()
    job = ppg.FileGeneratingJob("out/a", work)
    ppg.run_pipegraph()
    after = time.time()
    assert job.start_time is not None and job.stop_time is not None
    assert before - 1 <= job.start_time <= job.stop_time <= after + 1
    assert job.stop_time - job.start_time >= 0.04


# --- log files -------------------------------------------------------------------


def test_errors_log(new_pipegraph):
    def failing_callback_xyz(of):
        print("stdout-marker-123")
        raise ValueError("error-marker-456")

    ppg.FileGeneratingJob("out/failing", failing_callback_xyz)
    with pytest.raises(ppg.RuntimeError) as excinfo:
        ppg.run_pipegraph()
    text = read("logs/ppg_errors.txt")
    assert "out/failing" in text
    assert "Traceback" in text
    assert "error-marker-456" in text
    assert "failing_callback_xyz" in text
    assert "stdout-marker-123" in text
    assert "ppg_errors.txt" in str(excinfo.value)


def test_tracebacks_start_at_the_users_code(new_pipegraph):
    """The engine's frames before the callback (worker loop, job wrapper) are left out."""
    def helper_that_fails():
        raise ValueError("deep")

    def callback_abc(of):
        helper_that_fails()

    def loader_abc():
        raise KeyError("loader")

    ppg.FileGeneratingJob("out/failing", callback_abc)
    ppg.FileGeneratingJob("out/loaded", lambda of: None).depends_on(ppg.DataLoadingJob("load", loader_abc))
    with pytest.raises(ppg.RuntimeError):
        ppg.run_pipegraph()
    text = read("logs/ppg_errors.txt")
    for frames in text.split("Traceback (most recent call last):")[1:]:
        first = frames.strip().splitlines()[0]
        assert "pypipegraph" not in first, first
    assert 'in callback_abc' in text and "in helper_that_fails" in text and "in loader_abc" in text
    assert "executors" not in text and "run_in_worker" not in text


def test_run_log_exists(new_pipegraph):
    ppg.FileGeneratingJob("out/a", lambda of: write(of, "x"))
    ppg.run_pipegraph()
    assert os.path.exists("logs/ppg_run.txt")
    assert "out/a" in read("logs/ppg_run.txt")


def test_graph_log_lists_jobs(new_pipegraph):
    a = ppg.FileGeneratingJob("out/a", lambda of: write(of, "x"))
    b = ppg.FileGeneratingJob("out/b", lambda of: write(of, "x"))
    b.depends_on(a)
    ppg.run_pipegraph()
    text = read("logs/ppg_graph.txt")
    assert "out/a" in text
    assert "out/b" in text


def test_no_logs_dir_still_runs(new_pipegraph):
    os.rmdir("logs")
    ppg.FileGeneratingJob("out/a", lambda of: write(of, "x"))
    ppg.run_pipegraph()
    assert read("out/a") == "x"
    assert not os.path.exists("logs")


# --- parallelism -----------------------------------------------------------------


def test_jobs_run_in_parallel(ppg_dir):
    ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(max_cores_to_use=2), quiet=True,
                      dump_graph=False)

    def make(me, other):
        def work(of):
            write(f"out/{me}.started", "x")
            if not wait_for(f"out/{other}.started", timeout=3):
                raise ValueError(f"{me}: {other} did not run at the same time")
            write(of, "ok")

        return work

    a = ppg.FileGeneratingJob("out/a", make("a", "b"))
    b = ppg.FileGeneratingJob("out/b", make("b", "a"))
    ppg.run_pipegraph()
    assert not a.failed and not b.failed
    assert read("out/a") == "ok" and read("out/b") == "ok"


def test_single_core_never_overlaps(ppg_dir):
    ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(max_cores_to_use=1), quiet=True,
                      dump_graph=False)

    def work(of):
        start = time.time()
        time.sleep(0.05)
        write(of, f"{start} {time.time()}")

    names = [f"out/{x}" for x in "abcd"]
    for name in names:
        ppg.FileGeneratingJob(name, work)
    ppg.run_pipegraph()
    intervals = sorted(tuple(map(float, read(n).split())) for n in names)
    for (_, stop), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert stop <= start, intervals
