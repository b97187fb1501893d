"""Jobs are isolated: each sees the master's state and nothing another job did, whichever
zygote loop runs (compiled or pure Python).

Also: an exception the master cannot rebuild fails only its job, and a process a job
leaves running does not lock out the next run.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import pypipegraph as ppg
from pypipegraph.executors import zygote

from conftest import read


@pytest.fixture(autouse=True, params=["compiled loop", "python loop"])
def zygote_loop(request, monkeypatch):
    """Every isolation test runs on both zygote loops (the pure-Python one is the fallback
    where the extension was not built)."""
    if request.param == "compiled loop" and zygote._forkserver is None:
        pytest.skip("built without a C compiler: no compiled zygote loop")
    monkeypatch.setenv(zygote.PURE_PYTHON_ENV, "1" if request.param == "python loop" else "0")

SEEN = []
LOADED = {}


def _write(of, text) -> None:
    Path(of).write_text(text)


def _seen_job(i):
    def write(of):
        SEEN.append(i)
        Path(of).write_text(",".join(map(str, SEEN)))

    return ppg.FileGeneratingJob(f"out/{i}", write)


def test_module_globals_do_not_travel_between_jobs(new_pipegraph):
    for i in range(8):
        _seen_job(i)
    ppg.run()
    assert [read(f"out/{i}") for i in range(8)] == [str(i) for i in range(8)]
    assert SEEN == []  # nor back to the master


def test_each_job_gets_its_own_random_sequence(new_pipegraph):
    import random

    random.seed(1)  # the master's state; a job must not replay it, nor another job's

    for i in range(6):
        ppg.FileGeneratingJob(f"out/{i}", lambda of: _write(of, repr(random.random())))
    ppg.run()
    values = {read(f"out/{i}") for i in range(6)}
    assert len(values) == 6
    assert repr(random.random()) not in values


def test_no_job_replays_the_masters_cached_gauss_value(new_pipegraph):
    import random

    random.gauss(0, 1)  # the master draws one of a pair: the other is cached in its state

    for i in range(4):
        ppg.FileGeneratingJob(f"out/{i}", lambda of: _write(of, repr(random.gauss(0, 1))))
    ppg.run()
    values = {read(f"out/{i}") for i in range(4)}
    assert len(values) == 4
    assert repr(random.gauss(0, 1)) not in values  # the master's cached one


def test_an_output_whose_name_is_not_utf8_is_recorded(new_pipegraph):
    name = os.fsdecode(b"out/caf\xe9")  # Latin-1 bytes: a lone surrogate in the str
    ran = Path("ran")

    def write(of):
        Path(of).write_text("x")
        with open(ran, "a") as fh:
            fh.write("x")

    ppg.FileGeneratingJob(name, write)
    ppg.run()
    assert os.path.exists(os.fsencode(name)) and ran.read_text() == "x"
    new_pipegraph.new_pipegraph()
    ppg.FileGeneratingJob(name, write)
    ppg.run()
    assert ran.read_text() == "x"  # its outputs' record came back intact: nothing reran


def _chain(writers):
    """FileGeneratingJobs out/0, out/1, ... each depending on the previous (one after another)."""
    jobs = [ppg.FileGeneratingJob(f"out/{i}", w) for i, w in enumerate(writers)]
    for before, after in zip(jobs, jobs[1:], strict=False):
        after.depends_on(before)
    return jobs


def test_chdir_in_one_job_does_not_affect_the_next(new_pipegraph):
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.LocalSystem(1))  # one job after another
    os.mkdir("sub")

    def wander(of):
        os.chdir("sub")  # and stays there: its own output check then fails, nothing else may

    ppg.FileGeneratingJob("out/wander", wander).priority = 10  # runs first
    for i in range(3):
        ppg.FileGeneratingJob(f"out/{i}", lambda of: _write(of, os.getcwd()))
    with pytest.raises(ppg.RuntimeError, match="1 job"):
        ppg.run()
    assert {read(f"out/{i}") for i in range(3)} == {os.getcwd()}
    assert os.listdir("sub") == []


def test_environment_and_interpreter_state_do_not_leak(new_pipegraph):
    def pollute(of):
        import warnings

        os.environ["PPG_LEAK"] = "yes"
        sys.path.insert(0, "/leaked")
        warnings.simplefilter("error")
        Path(of).write_text("polluted")

    def look(of):
        import warnings

        Path(of).write_text(repr((os.environ.get("PPG_LEAK"), "/leaked" in sys.path,
                                  warnings.filters[:1] == [("error", None, Warning, None, 0)])))

    _chain([pollute, look, look])
    ppg.run()
    assert read("out/1") == read("out/2") == "(None, False, False)"


def test_a_loaders_data_is_visible_to_jobs(new_pipegraph):
    def load():
        LOADED["table"] = list(range(1000))

    loader = ppg.DataLoadingJob("load", load)
    ppg.FileGeneratingJob("out/sum", lambda of: _write(of, str(sum(LOADED["table"])))).depends_on(loader)
    ppg.run()
    assert read("out/sum") == str(sum(range(1000)))


def _pid_chain(n):
    return _chain([lambda of: _write(of, str(os.getpid()))] * n)


def test_every_isolated_job_has_its_own_process(new_pipegraph):
    _pid_chain(6)
    ppg.run()
    pids = {read(f"out/{i}") for i in range(6)}
    assert len(pids) == 6 and str(os.getpid()) not in pids


def test_reuse_workers_runs_many_jobs_in_one_process(new_pipegraph):
    new_pipegraph.new_pipegraph(reuse_workers=True)
    _pid_chain(6)
    ppg.run()
    assert len({read(f"out/{i}") for i in range(6)}) < 6  # one after another: a worker serves several


def test_reuse_worker_per_job(new_pipegraph):
    jobs = _pid_chain(6)
    for job in jobs[:4]:
        job.reuse_worker()
    jobs[3].reuse_worker(False)
    ppg.run()
    pids = [read(f"out/{i}") for i in range(6)]
    assert len(set(pids[:3])) < 3  # the reusing jobs share a process
    assert len(set(pids[3:])) == 3 and not set(pids[3:]) & set(pids[:3])  # the others each their own


def test_reuse_worker_rejects_non_bools(new_pipegraph):
    job = ppg.FileGeneratingJob("out/a", lambda of: None)
    with pytest.raises(ValueError, match="out/a: reuse_worker"):
        job.reuse_worker("yes")
    with pytest.raises(ValueError, match="reuse_workers"):
        new_pipegraph.new_pipegraph(reuse_workers=1)


def test_a_killed_isolated_job_leaves_its_worker_usable(new_pipegraph):
    def die(of):
        os.kill(os.getpid(), signal.SIGKILL)

    ppg.FileGeneratingJob("out/dead", die)
    others = [ppg.FileGeneratingJob(f"out/ok{i}", lambda of: _write(of, "ok")) for i in range(4)]
    with pytest.raises(ppg.RuntimeError):
        ppg.run()
    assert all(job.was_run for job in others)
    assert "SIGKILL" in ppg.util.global_pipegraph.jobs["out/dead"].error_reason


class ParseError(Exception):
    def __init__(self, line, reason):
        super().__init__(f"line {line}: {reason}")


class BadStr(Exception):
    def __str__(self):
        raise ValueError("no text for you")


def _raise_parse_error(of):
    raise ParseError(3, "unexpected tab")


def _raise_bad_str(of):
    raise BadStr("hidden")


@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize(("raiser", "message", "name"), [
    (_raise_parse_error, "line 3: unexpected tab", "ParseError"),
    (_raise_bad_str, "<str() failed: ValueError>", "BadStr"),
])
def test_exception_the_master_cannot_rebuild_fails_only_its_job(new_pipegraph, reuse, raiser, message, name):
    for attempt in range(2):  # the rerun fails the same way, cleanly
        new_pipegraph.new_pipegraph(reuse_workers=reuse)
        bad = ppg.FileGeneratingJob("out/bad", raiser)
        good = ppg.FileGeneratingJob("out/good", lambda of: _write(of, "ok"))
        with pytest.raises(ppg.RuntimeError, match="1 job"):
            ppg.run()
        assert bad.failed and f"{name}: {message}" in str(bad.exception)
        assert f"raise {name}(" in read("logs/ppg_errors.txt")  # the job's traceback
        assert good.was_run == (attempt == 0) and read("out/good") == "ok"
    status = subprocess.run([sys.executable, "-m", "pypipegraph", "status"], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent)), timeout=60)
    assert "out/bad" in status.stdout  # the store recorded the failure


LINGER = """
import os, sys, time, multiprocessing
from pathlib import Path
import pypipegraph as ppg
ppg.new_pipegraph(quiet=True, dump_graph=False, reuse_workers={reuse})
def spawn(of):
    if {use_mp}:
        child = multiprocessing.Process(target=time.sleep, args=(60,))
        child.start()
        pid = child.pid
    else:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
    Path("lingering.pid").write_text(str(pid))
    Path(of).write_text(sys.argv[1])
ppg.FileGeneratingJob("out/spawn", spawn).depends_on(ppg.ParameterInvariant("p", sys.argv[1]))
ppg.run()
"""


@pytest.mark.parametrize(("reuse", "use_mp"), [(False, False), (True, False), (False, True)])
def test_a_process_left_running_by_a_job_does_not_lock_out_the_next_run(new_pipegraph, reuse, use_mp):
    Path("pipeline.py").write_text(LINGER.format(reuse=reuse, use_mp=use_mp))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    first = subprocess.run([sys.executable, "pipeline.py", "1"], capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    lingering = int(read("lingering.pid"))
    try:
        os.kill(lingering, 0)  # still sleeping after the run ended
        second = subprocess.run([sys.executable, "pipeline.py", "2"], capture_output=True, text=True, env=env,
                                timeout=60)
        assert second.returncode == 0, second.stderr
        assert read("out/spawn") == "2"
    finally:
        try:
            os.kill(lingering, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_lock_recorded_by_a_dead_process_is_not_a_lock(new_pipegraph):
    """A leftover holding the lock's file (here: one that inherited it before workers closed it)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open('.pypipegraph_status_robust.lock', os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, b'999999999', 0)\n"  # no such pid: as if the run that took it had died
        "print('locked', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        ppg.FileGeneratingJob("out/a", lambda of: _write(of, "ran"))
        ppg.run()
        assert read("out/a") == "ran"
        assert read(".pypipegraph_status_robust.lock") == str(os.getpid())
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_held_by_a_live_run_still_refuses(new_pipegraph):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, time\n"
        "fd = os.open('.pypipegraph_status_robust.lock', os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        ppg.FileGeneratingJob("out/a", lambda of: _write(of, "ran"))
        with pytest.raises(ppg.StoreError, match=f"pid {holder.pid}"):
            ppg.run()
        assert not os.path.exists("out/a")
    finally:
        holder.kill()
        holder.wait()
