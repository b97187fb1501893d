"""The shared result cache given as `ppg.ResultCache(DIR, trusted_groups=...)`: it is used,
its folders let every member of the trusted group add entries, and a result that cannot be
kept is said. The two-user tests create a real group and two real users (as root) and run
real pipelines as each of them."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import site
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import pypipegraph as ppg

from conftest import append, runs

ROOT = str(Path(__file__).resolve().parent.parent)
GROUP = "ppgcachelab"
USERS = ("ppgcache1", "ppgcache2")  # both in GROUP
OUTSIDER = "ppgcache3"  # not in GROUP


@ppg.work
def square(n):
    append("square.runs", "x")
    return n * n


def test_a_result_cache_object_is_used_and_its_folders_are_shared(new_pipegraph, tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared") / "results"  # made by the run
    group = os.getegid()
    new_pipegraph.new_pipegraph(result_cache=ppg.ResultCache(shared, trusted_groups=[group]))
    result = square(7)
    ppg.run_pipegraph()
    assert result.value() == 49
    pickles = list(shared.glob("*/*.pickle"))
    assert len(pickles) == 1  # the object was not dropped: the entry is there
    for folder in (shared, pickles[0].parent):
        st = folder.stat()
        assert stat.S_IMODE(st.st_mode) == 0o2775 and st.st_gid == group
    for entry in (pickles[0], pickles[0].with_suffix(".json")):
        st = entry.stat()
        assert stat.S_IMODE(st.st_mode) == 0o664 and st.st_gid == group

    shutil.rmtree("cache")  # this project's own copies go: the shared entry is used
    new_pipegraph.new_pipegraph(result_cache=ppg.ResultCache(shared, trusted_groups=[group]))
    again = square(7)
    ppg.run_pipegraph()
    assert again.value() == 49 and runs("square.runs") == 1
    assert "result reused by content key" in again.job.stdout and str(shared) in again.job.stdout


# --- two real users -------------------------------------------------------------------


def _ensure_account(name: str, group: str | None) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        command = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        if group:
            command[1:1] = ["-G", group]
        subprocess.run(command, check=True, capture_output=True)
    if group and name not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-a", "-G", group, name], check=True, capture_output=True)


def _interpreter() -> str | None:
    """This Python as another user can run it (the running one may sit in a private home)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, shutil.which(version) or "", f"/usr/bin/{version}"):
        if candidate and os.access(candidate, os.X_OK) and _world_reachable(candidate):
            return candidate
    return None


def _world_reachable(path: str) -> bool:
    real = os.path.realpath(path)
    parts = Path(real).parents
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in parts) and os.stat(real).st_mode & stat.S_IXOTH


@pytest.fixture(scope="module")
def accounts():
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root (to create a group and users) and setpriv")
    python = _interpreter()
    if python is None:
        pytest.skip("no Python interpreter other users can run")
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
    for user in USERS:
        _ensure_account(user, GROUP)
    _ensure_account(OUTSIDER, None)
    return python


SCRIPT = textwrap.dedent("""
    import sys
    import pypipegraph as ppg

    @ppg.work
    def square(n):
        with open("square.runs", "a") as fh:
            fh.write("x")
        return n * n

    ppg.new_pipegraph(quiet=True, dump_graph=False,
                      result_cache=ppg.ResultCache(sys.argv[1], trusted_groups=[{group!r}]))
    results = [square(int(n)) for n in sys.argv[2:]]
    ppg.run_pipegraph()
    print("values", *[r.value() for r in results])
    for r in results:
        sys.stderr.write(r.job.stderr)
""").format(group=GROUP)


def run_as(python: str, user: str, project: Path, cache: Path, *numbers: int) -> subprocess.CompletedProcess:
    paths = [ROOT, *site.getsitepackages()]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(paths), "HOME": str(project),
           "XDG_CONFIG_HOME": str(project / ".config"), "XDG_RUNTIME_DIR": str(project / ".run")}
    return subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", python,
                           "pipeline.py", str(cache), *map(str, numbers)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def project_of(base: Path, user: str) -> Path:
    project = base / user
    project.mkdir()
    (project / "pipeline.py").write_text(SCRIPT)
    shutil.chown(project, user, user)
    project.chmod(0o700)
    return project


@pytest.fixture
def base():
    """A directory the users can reach (pytest's own is private to root): like /tmp, anyone
    may create a directory in it."""
    base = Path(tempfile.mkdtemp(prefix="ppg-two-users-"))
    base.chmod(0o1777)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_members_of_the_trusted_group_add_entries_under_each_others_folders(accounts, base):
    first, second = USERS
    uid = {user: pwd.getpwnam(user).pw_uid for user in USERS}
    gid = grp.getgrnam(GROUP).gr_gid
    cache = base / "shared"  # made by the first run, for the group
    done = run_as(accounts, first, project_of(base, first), cache, *range(60))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result not kept" not in done.stderr, done.stderr
    assert stat.S_IMODE(cache.stat().st_mode) == 0o2775 and cache.stat().st_gid == gid
    folders = {folder: folder.stat() for folder in cache.iterdir()}
    assert all(st.st_uid == uid[first] and st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o2775
               for st in folders.values())

    done = run_as(accounts, second, project_of(base, second), cache, *range(100, 140))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result not kept" not in done.stderr, done.stderr
    theirs = [p for p in cache.glob("*/*.pickle") if p.stat().st_uid == uid[second]]
    assert len(theirs) == 40  # every result of the second member was kept
    assert any(p.parent in folders for p in theirs)  # also under folders the first member made
    assert all(p.stat().st_gid == gid and stat.S_IMODE(p.stat().st_mode) == 0o664 for p in theirs)

    # and the first member reuses the second's results instead of computing them
    done = run_as(accounts, first, base / first, cache, 100, 101)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "values 10000 10201"
    assert len((base / first / "square.runs").read_text()) == 60  # nothing more computed here


def test_a_result_that_cannot_be_kept_is_said(accounts, base):
    cache = base / "shared"
    cache.mkdir()
    cache.chmod(0o755)  # root's, not writable for the member
    shutil.chown(cache, "root", GROUP)
    done = run_as(accounts, USERS[0], project_of(base, USERS[0]), cache, 5)
    assert done.returncode == 0, done.stdout + done.stderr  # the call itself succeeded
    assert done.stdout.strip() == "values 25"
    assert f"result not kept in {cache}: Permission denied: {cache}/" in done.stderr

    outsider = run_as(accounts, OUTSIDER, project_of(base, OUTSIDER), base / "other", 6)
    assert outsider.returncode == 0, outsider.stdout + outsider.stderr
    assert f"result not kept in {base / 'other'}: this user is a member of none of the trusted groups" \
        in outsider.stderr
