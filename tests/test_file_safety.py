"""What the engine writes in the project directory, and what it removes (docs/security.md).

Links planted where the engine writes (logs/*, the report, graph dumps) are replaced, never
followed: their target, a file outside the project, is untouched. A failed job's dangling
link output is removed like any partial output. Names that are not UTF-8 go everywhere a
name is written. A full disk or read-only logs/ never takes a run down.
"""

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pypipegraph as ppg
from pypipegraph.plumbing import safe_files
from pypipegraph.views.logs import RunLog

UMLAUT = os.fsdecode(b"out/Probe_M\xfcller.txt")  # a name that is not valid UTF-8
SHOWN = "out/Probe_M\\xfcller.txt"  # how text files and the console show it


# --- item 6: a failed job's dangling link -------------------------------------------------


def _link_then_fail_unless_allowed(of):
    os.symlink("nowhere", of)
    if not Path("allowed").exists():
        raise ValueError("failed after making the link")
    os.unlink(of)
    Path(of).write_text("done")


@pytest.mark.parametrize("rename_broken", [False, True])
def test_a_failed_jobs_dangling_link_is_removed(new_pipegraph, rename_broken):
    ppg.FileGeneratingJob("out/a.txt", _link_then_fail_unless_allowed, rename_broken=rename_broken)
    with pytest.raises(ppg.RuntimeError, match="failed after making the link"):
        ppg.run()
    assert not os.path.lexists("out/a.txt")
    assert os.path.islink("out/a.txt.broken") == rename_broken
    Path("allowed").write_text("")
    new_pipegraph.new_pipegraph()
    ppg.FileGeneratingJob("out/a.txt", _link_then_fail_unless_allowed, rename_broken=rename_broken)
    ppg.run()  # before the fix: FileExistsError, in every run from now on
    assert Path("out/a.txt").read_text() == "done"


def _dangling(of):
    os.symlink("nowhere", of)


def test_a_dangling_link_as_the_only_output_is_missing_and_removed(new_pipegraph):
    ppg.FileGeneratingJob("out/a.txt", _dangling)
    with pytest.raises(ppg.RuntimeError, match="did not create its file"):
        ppg.run()
    assert not os.path.lexists("out/a.txt")


# --- item 7: names that are not UTF-8 -----------------------------------------------------


def _write(of):
    Path(of).write_text("x")


def test_text_shows_undecodable_bytes_as_escapes():
    assert safe_files.printable(UMLAUT) == SHOWN
    assert safe_files.printable("plain ü") == "plain ü"
    assert safe_files.from_store(safe_files.store_key(UMLAUT)) == UMLAUT
    assert safe_files.store_key("plain ü") == "plain ü"


def test_logs_and_console_take_an_undecodable_name(new_pipegraph, capfd):
    new_pipegraph.new_pipegraph(quiet=False, dump_graph=True)
    job = ppg.FileGeneratingJob(UMLAUT, _write)
    graph = ppg.util.global_pipegraph
    runlog = RunLog()
    runlog.write_graph(graph.prepare(), gml=True)  # where the run crashed before
    runlog.decision(job.job_id, ["never ran"])
    runlog.close()
    assert f"{SHOWN} (FileGeneratingJob)\n" in Path("logs/ppg_graph.txt").read_text()
    assert f'label "{SHOWN}"' in Path("logs/ppg_graph.gml").read_text()
    assert f"{SHOWN}: runs because never ran\n" in Path("logs/ppg_run.txt").read_text()
    assert runlog.problem is None
    ppg.console.Console(quiet=False, interactive=False, stream=sys.stdout).print(f"FAILED {job.job_id}")
    assert f"FAILED {SHOWN}\n" in capfd.readouterr().out


SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import pypipegraph as ppg
    ppg.new_pipegraph(quiet=True)
    name = os.fsdecode(b"out/Probe_M\\xfcller.txt")
    def write(of):
        with open("runs", "a") as fh:
            fh.write("x")
        Path(of).write_text("x")
    ppg.FileGeneratingJob(name, write)
    ppg.run()
    """)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True,
                          timeout=120)


def test_a_full_run_and_rerun_with_an_undecodable_output_name(ppg_dir):
    Path("pipeline.py").write_text(SCRIPT)
    for _ in range(2):
        done = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
    assert Path("runs").read_text() == "x"  # the rerun found the record
    assert os.path.exists(os.fsencode(UMLAUT))
    status = _cli("status")
    assert status.returncode == 0 and SHOWN.encode() in status.stdout
    log = _cli("log", os.fsencode(UMLAUT))
    assert log.returncode == 0, log.stderr


# --- item 16: links planted where the engine writes ------------------------------------------


@pytest.fixture
def outside(tmp_path_factory):
    """A file outside the project that a planted link points to."""
    target = tmp_path_factory.mktemp("home") / "precious.txt"
    target.write_text("precious")
    return target


@pytest.mark.parametrize("name", ["ppg_graph.txt", "ppg_run.txt", "ppg_errors.txt",
                                  "ppg_graph.gml", "ppg_report.html"])
def test_a_link_planted_in_logs_is_replaced_not_followed(new_pipegraph, outside, name):
    os.symlink(outside, f"logs/{name}")
    new_pipegraph.new_pipegraph(dump_graph=True)
    ppg.FileGeneratingJob("out/a.txt", _write)
    ppg.run(report=True)
    assert outside.read_text() == "precious"
    assert not os.path.islink(f"logs/{name}")
    assert Path(f"logs/{name}").stat().st_size > 0 or name == "ppg_errors.txt"


def test_a_hard_link_planted_in_logs_is_replaced(new_pipegraph, outside):
    os.link(outside, "logs/ppg_run.txt")
    ppg.FileGeneratingJob("out/a.txt", _write)
    ppg.run()
    assert outside.read_text() == "precious"
    assert "out/a.txt: runs because" in Path("logs/ppg_run.txt").read_text()


def test_cli_outputs_replace_a_planted_link(ppg_dir, outside):
    Path("pipeline.py").write_text("import pypipegraph as ppg\nppg.new_pipegraph(quiet=True)\n"
                                   "ppg.FileGeneratingJob('out/a.txt', lambda of: None)\nppg.run()\n")
    os.symlink(outside, "graph.dot")
    assert _cli("graph", "pipeline.py", "-o", "graph.dot").returncode == 0
    assert outside.read_text() == "precious"
    assert "out/a.txt" in Path("graph.dot").read_text()


def test_the_lock_file_helper_refuses_links(tmp_path, outside):
    lock = tmp_path / "store.lock"
    os.symlink(outside, lock)
    with pytest.raises(OSError) as info:
        safe_files.open_lock_file(str(lock))
    assert str(info.value) == f"it is a symbolic link (to '{outside}'); remove the link and run again"
    lock.unlink()
    os.link(outside, lock)
    with pytest.raises(OSError, match="^it has 2 hard links; remove it and run again$"):
        safe_files.open_lock_file(str(lock))
    assert outside.read_text() == "precious"
    lock.unlink()
    fd = safe_files.open_lock_file(str(lock))
    os.close(fd)
    assert lock.is_file()


def test_a_link_planted_at_the_lock_file_stops_the_run(new_pipegraph, outside):
    os.symlink(outside, ".pypipegraph_status_robust.lock")
    ppg.FileGeneratingJob("out/a.txt", _write)
    with pytest.raises(ppg.StoreError, match="is a symbolic link"):
        ppg.run()
    assert outside.read_text() == "precious"
    assert not Path("out/a.txt").exists()


# --- item 8: logging never takes a run down -------------------------------------------------

FULL_DISK_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import pypipegraph as ppg
    ppg.new_pipegraph(quiet=True, dump_graph=True)
    def work(of):
        with open("runs", "a") as fh:
            fh.write("x")
        if of.endswith("7"):
            raise ValueError("seven is bad " + "x" * 2000)  # ppg_errors.txt grows fast
        Path(of).write_text(of)
    for i in range(300):
        ppg.FileGeneratingJob("out/a_rather_long_name_for_a_job_output_%03d" % i, work)
    try:
        ppg.run()
    except ppg.RuntimeError as exc:
        print("SUMMARY:", str(exc).splitlines()[0])
    """)


def _mount_small_tmpfs(path: str, size: str = "8k") -> bool:
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                              capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


def _chattr(flag: str, path: str) -> bool:
    try:
        return subprocess.run(["chattr", flag, path], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("trouble", ["full disk", "disk full mid-run", "read-only logs"])
def test_a_full_disk_under_logs_does_not_stop_the_run(ppg_dir, trouble):
    Path("pipeline.py").write_text(FULL_DISK_SCRIPT)
    if trouble != "read-only logs":
        # 8k: not even the graph dumps fit (133 kB); 160k: they do, the tracebacks do not
        if not _mount_small_tmpfs("logs", "8k" if trouble == "full disk" else "160k"):
            pytest.skip("cannot mount a small tmpfs here")
        undo = ["umount", "logs"]
        expected = "No space left on device"
    else:
        if not _chattr("+i", "logs"):
            pytest.skip("chattr +i is not available here")
        undo = ["chattr", "-i", "logs"]
        expected = "Operation not permitted"
    try:
        done = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True,
                              timeout=300)
    finally:
        subprocess.run(undo, check=True)
    assert "SUMMARY: 30 job(s) failed:\n" in done.stdout, done.stdout + done.stderr
    warning, = done.stderr.splitlines()  # one warning, no traceback
    failed = {"full disk": "logs/ppg_graph.txt",  # the run log is empty until its buffer fills
              "disk full mid-run": "logs/ppg_errors.txt",
              "read-only logs": "logs/ppg_run.txt"}[trouble]  # the first file opened
    assert warning == (f"pypipegraph: warning: logging failed: could not write {failed} "
                       f"({expected}); the run went on without it")
    made = sorted(p.name for p in Path("out").iterdir())
    assert len(made) == 270 and not any(name.endswith("7") for name in made)
    assert len(Path("runs").read_text()) == 300
    rerun = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True,
                           timeout=300)
    assert "SUMMARY: 30 job(s) failed:\n" in rerun.stdout and rerun.stderr == ""
    assert len(Path("runs").read_text()) == 330  # the store knew: only the failed jobs ran again


def test_log_file_appends_and_refuses_a_planted_link(new_pipegraph, outside, capfd):
    new_pipegraph.new_pipegraph(log_file="logs/mine.log", log_level=logging.DEBUG)
    ppg.FileGeneratingJob("out/a.txt", _write)
    ppg.run()
    new_pipegraph.new_pipegraph(log_file="logs/mine.log", log_level=logging.DEBUG)
    ppg.FileGeneratingJob("out/b.txt", _write)
    ppg.run()
    text = Path("logs/mine.log").read_text()
    assert "out/a.txt: runs because" in text and "out/b.txt: runs because" in text
    os.symlink(outside, "logs/linked.log")
    new_pipegraph.new_pipegraph(log_file="logs/linked.log")
    ppg.FileGeneratingJob("out/c.txt", _write)
    ppg.run()
    assert outside.read_text() == "precious" and Path("out/c.txt").exists()
    assert capfd.readouterr().err == ("pypipegraph: warning: not logging to logs/linked.log: it is "
                                      "a symbolic link\n")


def test_log_file_on_a_full_disk_warns_once(ppg_dir):
    Path("pipeline.py").write_text(FULL_DISK_SCRIPT.replace("dump_graph=True",
                                                            "log_file='logs/mine.log', log_level=10"))
    if not _mount_small_tmpfs("logs"):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        done = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True,
                              timeout=300)
    finally:
        subprocess.run(["umount", "logs"], check=True)
    assert "SUMMARY: 30 job(s) failed:\n" in done.stdout, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("pypipegraph: warning: logging failed: could not write logs/mine.log")
    assert lines[1].startswith("pypipegraph: warning: logging failed: could not write logs/ppg_")


def test_links_planted_in_a_command_jobs_log_directory_are_not_followed(new_pipegraph, outside):
    """The replay script and the streamed output files are new files; a link planted in place
    of the job's log directory is replaced by a real directory."""
    from pypipegraph.paths import job_log_dir

    job = ppg.CommandJob("out/c.txt", ["sh", "-c", "echo hi; echo hi > out/c.txt"])
    directory = job_log_dir(job.job_id)
    os.makedirs(directory)
    for name in ("command", "stdout", "stderr"):
        os.symlink(outside, os.path.join(directory, name))
    ppg.run()
    assert outside.read_text() == "precious"
    assert Path(directory, "stdout").read_text() == "hi\n"
    assert "out/c.txt" in Path(directory, "command").read_text()

    elsewhere = outside.parent / "elsewhere"
    elsewhere.mkdir()
    new_pipegraph.new_pipegraph()
    job = ppg.CommandJob("out/c.txt", ["sh", "-c", "echo again; echo again > out/c.txt"])
    shutil.rmtree(directory)
    os.symlink(elsewhere, directory)
    ppg.run()
    assert not os.path.islink(directory)
    assert list(elsewhere.iterdir()) == []
    assert Path(directory, "stdout").read_text() == "again\n"
