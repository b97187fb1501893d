"""Workers that die: a signal, a segfault, os._exit, an exhausted memory limit."""

import os
import signal
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import read


def run_expecting_failure():
    with pytest.raises(ppg.RuntimeError) as info:
        ppg.run()
    return info.value


def independent():
    return ppg.FileGeneratingJob("out/independent", lambda of: Path(of).write_text("ok") and None)


def test_sigkill(new_pipegraph):
    def die(of):
        Path(of).write_text("partial")
        os.kill(os.getpid(), signal.SIGKILL)

    job, other = ppg.FileGeneratingJob("out/k", die), independent()
    error = run_expecting_failure()
    assert job.error_reason.startswith("Died:") and "SIGKILL" in job.error_reason
    assert job.exception.exit_code == -signal.SIGKILL
    assert "out/k" in str(error) and not os.path.exists("out/k")
    assert other.was_run and "SIGKILL" in read("logs/ppg_errors.txt")


def test_segfault(new_pipegraph):
    def crash(of):
        import ctypes

        Path(of).write_text("partial")
        ctypes.string_at(0)

    job, other = ppg.FileGeneratingJob("out/segv", crash), independent()
    run_expecting_failure()
    assert "SIGSEGV" in job.error_reason
    assert job.exception.exit_code == -signal.SIGSEGV
    assert other.was_run and not os.path.exists("out/segv")
    assert "Segmentation fault" in job.stderr  # the crash's traceback reaches the user
    assert "out/segv" in read("logs/ppg_errors.txt")


def test_os_exit(new_pipegraph):
    def leave(of):
        print("last words")
        os._exit(7)

    job, other = ppg.FileGeneratingJob("out/exit", leave), independent()
    run_expecting_failure()
    assert job.error_reason.startswith("Died: The worker process (pid ")
    assert job.error_reason.endswith("running out/exit exited with code 7.")
    assert job.exception.exit_code == 7 and other.was_run
    assert job.stdout == "last words\n"  # what it printed before dying is kept


def test_memory_limit(new_pipegraph):
    def hog(of):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        Path(of).write_text("partial")
        blocks = [bytearray(1 << 28) for _ in range(16)]  # 4 GiB > the 1 GiB limit
        Path(of).write_text(str(len(blocks)))

    job, other = ppg.FileGeneratingJob("out/hog", hog), independent()
    run_expecting_failure()
    assert isinstance(job.exception, MemoryError) or "Died" in job.error_reason
    assert job.failed and other.was_run and not os.path.exists("out/hog")
    assert "MemoryError" in read("logs/ppg_errors.txt") or "Died" in read("logs/ppg_errors.txt")


def test_later_jobs_still_get_workers_after_deaths(new_pipegraph):
    """Each death costs a worker; the pool forks new ones and the run goes on."""
    new_pipegraph.new_pipegraph(resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
    for i in range(4):
        ppg.FileGeneratingJob(f"out/die{i}", lambda of: os._exit(1))
    survivors = [ppg.FileGeneratingJob(f"out/ok{i}", lambda of: Path(of).write_text("ok") and None)
                 for i in range(4)]
    run_expecting_failure()
    assert all(job.was_run for job in survivors)
