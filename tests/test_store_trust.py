"""The store keeps the truth: it refuses files it cannot trust, survives being deleted
mid-run, records what a job really ran with, and never runs code it did not sign.

The attacker of the security tests is a planted record (a neighbour on a shared file
system who can write the store): whatever it holds, no `ppg` command and no run may
execute it. Real runs, real subprocesses, a real SQLite store.
"""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest

import pypipegraph as ppg
from pypipegraph.store import key as store_key
from pypipegraph.store.format import decode_record, encode_record, is_legacy

STORE = ".pypipegraph_status_robust"


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    """Each test has its own user config dir (its store key), also for subprocesses."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    store_key._keys.clear()
    yield config
    store_key._keys.clear()


def write(of):
    Path(of).write_text("x")


def run_script(text: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    Path("pipeline.py").write_text(text)
    return subprocess.run([sys.executable, "pipeline.py", *args], capture_output=True, text=True,
                          timeout=timeout)


def ppg_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True,
                          text=True, timeout=120)


def records() -> dict:
    with sqlite3.connect(STORE) as conn:
        rows = dict(conn.execute("SELECT job_id, record FROM jobs"))
    conn.close()
    return rows


def plant(job_id: str, raw: bytes) -> None:
    conn = sqlite3.connect(STORE)
    with conn:
        conn.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?)", (job_id, raw))
    conn.close()


# --- files that are not a store (items 9 and 11) ---------------------------------------


def test_an_empty_store_file_is_refused_and_left_alone(new_pipegraph):
    Path(STORE).write_bytes(b"")
    ppg.FileGeneratingJob("out/a.txt", write)
    with pytest.raises(ppg.StoreError) as info:
        ppg.run_pipegraph()
    assert str(info.value).startswith(f"{STORE} is empty (0 bytes), not a pypipegraph status store.")
    assert "move it away" in str(info.value)
    assert not Path("out/a.txt").exists()
    assert Path(STORE).stat().st_size == 0


def test_a_new_store_is_complete_when_it_appears(new_pipegraph):
    """A store is created aside and linked into place: never a 0-byte file of ours."""
    ppg.FileGeneratingJob("out/a.txt", write)
    ppg.run_pipegraph()
    assert Path(STORE).stat().st_size > 0
    assert not Path(STORE + ".new").exists()
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a.txt", write)
    ppg.run_pipegraph()
    assert not job.was_run


def _chattr(flag: str, path: str) -> bool:
    try:
        return subprocess.run(["chattr", flag, path], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def test_a_read_only_store_file_is_a_store_error(new_pipegraph):
    ppg.FileGeneratingJob("out/a.txt", write)
    ppg.run_pipegraph()
    os.unlink("out/a.txt")
    os.chmod(STORE, 0o444)
    if os.geteuid() == 0 and not _chattr("+i", STORE):
        pytest.skip("root ignores file modes and chattr +i is not available")
    try:
        new_pipegraph.new_pipegraph()
        ppg.FileGeneratingJob("out/a.txt", write)
        with pytest.raises(ppg.StoreError) as info:
            ppg.run_pipegraph()
    finally:
        _chattr("-i", STORE)
    assert str(info.value).startswith(f"cannot write the status store {STORE} (attempt to write a "
                                      "readonly database)")
    assert not Path("out/a.txt").exists()


def test_damage_in_any_page_is_a_store_error_never_a_bare_sqlite_error(new_pipegraph):
    for i in range(3):
        ppg.FileGeneratingJob(f"out/{i}", write).depends_on_params(i)
    ppg.run_pipegraph()
    ppg.util.global_pipegraph = None
    pristine = Path(STORE).read_bytes()
    page = 4096
    outcomes = {}
    for number in range(1, len(pristine) // page):  # page 0 is the header: covered by case 47
        damaged = bytearray(pristine)
        damaged[number * page:(number + 1) * page] = b"\xde\xad\xbe\xef" * (page // 4)
        for name in (STORE + "-wal", STORE + "-shm"):
            if os.path.exists(name):
                os.unlink(name)
        Path(STORE).write_bytes(bytes(damaged))
        new_pipegraph.new_pipegraph()
        for i in range(3):
            ppg.FileGeneratingJob(f"out/{i}", write).depends_on_params(i)
        try:
            ppg.run_pipegraph()
            outcomes[number] = "ran"
        except ppg.StoreError as exc:
            assert STORE in str(exc)
            outcomes[number] = "refused"
    assert "refused" in outcomes.values(), outcomes


# --- the store deleted during a run (item 10) ------------------------------------------

DELETING = '''
import os, sys, time
from pathlib import Path
import pypipegraph as ppg

ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(1))
Path("out").mkdir(exist_ok=True)
def work(of):
    with open("runs.log", "a") as fh:
        fh.write(of + "\\n")
    if of == "out/020" and sys.argv[1:] in (["delete"], ["replace"]):
        for suffix in {suffixes!r}:
            os.unlink(".pypipegraph_status_robust" + suffix)
        if sys.argv[1:] == ["replace"]:
            Path(".pypipegraph_status_robust").write_text("someone else's file")
    time.sleep(0.01)
    Path(of).write_text(of)
for i in range(40):
    ppg.FileGeneratingJob("out/%03d" % i, work).depends_on_params(i)
ppg.run()
'''


@pytest.mark.parametrize("suffixes", [("",), ("", "-wal", "-shm")], ids=["store", "store-wal-shm"])
def test_a_store_deleted_during_the_run_is_written_again(tmp_path, monkeypatch, suffixes):
    monkeypatch.chdir(tmp_path)
    script = DELETING.format(suffixes=list(suffixes))
    proc = run_script(script, "delete")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "deleted during the run" in line]
    assert len(warnings) == 1, proc.stderr
    assert re.fullmatch(f"pypipegraph: warning: the status store {STORE} was deleted during the run; "
                        r"wrote what this run knows \(\d+ job records\) to a new one", warnings[0])
    conn = sqlite3.connect(STORE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM jobs WHERE job_id GLOB 'out/[0-9][0-9][0-9]'").fetchone()[0] == 40
    assert conn.execute("SELECT outcome FROM runs").fetchall() == [("ok",)]
    conn.close()
    ran = Path("runs.log").read_text().split()
    again = run_script(script)
    assert again.returncode == 0, again.stderr
    assert Path("runs.log").read_text().split() == ran  # nothing was redone
    assert ppg_command("status").returncode == 0


def test_a_store_replaced_during_the_run_is_not_written_into(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proc = run_script(DELETING.format(suffixes=[""]), "replace")
    assert proc.returncode != 0
    kept = re.search(r"this run's records were saved to (\S+)\. ", proc.stderr)
    assert kept, proc.stderr
    assert f"StoreError: the status store {STORE} was replaced by another file during the run" in proc.stderr
    assert Path(STORE).read_text() == "someone else's file"
    conn = sqlite3.connect(kept.group(1))
    assert conn.execute("SELECT count(*) FROM jobs WHERE job_id LIKE 'out/%'").fetchone()[0] >= 20
    conn.close()


# --- an input that changes while jobs read it (item 12) --------------------------------

READERS = '''
import time
from pathlib import Path
import pypipegraph as ppg

ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
Path("out").mkdir(exist_ok=True)
def read(of):
    with open("runs.log", "a") as fh:
        fh.write(of + "\\n")
    text = Path("samples.tsv").read_text()
    time.sleep(0.1)
    Path(of).write_text(text)
for i in range(30):
    ppg.FileGeneratingJob("out/%02d" % i, read).depends_on_file("samples.tsv")
ppg.run()
'''


def test_an_input_changed_while_jobs_read_it_makes_them_run_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("samples.tsv").write_text("sample\tgood\n")
    Path("pipeline.py").write_text(READERS)
    proc = subprocess.Popen([sys.executable, "pipeline.py"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not Path("runs.log").exists() or len(Path("runs.log").read_text().split()) < 6:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    Path("samples.tsv").write_text("BAD!")
    seen = len(Path("runs.log").read_text().split())
    while len(Path("runs.log").read_text().split()) < seen + 4:  # jobs started while it was bad
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    Path("samples.tsv").write_text("sample\tgood\n")
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    bad = sorted(str(p) for p in Path("out").iterdir() if p.read_text() == "BAD!")
    assert bad, "the change was not seen by any job: nothing to test"

    why = ppg_command("why", "pipeline.py", "--jobs")  # one line per job
    for name in bad:
        assert f"{name}: input samples.tsv changed while the job last ran" in why.stdout

    ran = len(Path("runs.log").read_text().split())
    again = run_script(READERS)
    assert again.returncode == 0, again.stderr
    rerun = Path("runs.log").read_text().split()[ran:]
    assert set(bad) <= set(rerun)
    assert not [p for p in Path("out").iterdir() if p.read_text() == "BAD!"]
    ran = len(Path("runs.log").read_text().split())
    assert run_script(READERS).returncode == 0
    assert len(Path("runs.log").read_text().split()) == ran  # up to date now


# --- no code from the store (item 14) ----------------------------------------------------


class Planted:
    """What an attacker pickles: unpickling it creates PWNED (it never may)."""

    def __reduce__(self):
        return (open, (os.path.abspath("PWNED"), "w"))


class Threshold:
    """A parameter value that is not plain data (kept as a signed pickle)."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is Threshold and other.value == self.value


VICTIM = '''
import sys
from pathlib import Path
import pypipegraph as ppg

ppg.new_pipegraph(quiet=True)
Path("out").mkdir(exist_ok=True)
def write(of):
    with open("runs.log", "a") as fh:
        fh.write(of + "\\n")
    Path(of).write_text("x")
ppg.FileGeneratingJob("out/a.txt", write)
ppg.FileGeneratingJob("out/b.txt", write).depends_on(
    ppg.ParameterInvariant("b", {"k": int(sys.argv[1]) if sys.argv[1:] else 3},
                           accept_as_unchanged_func=lambda old: True))
ppg.run()
'''


def _forged_sealed(mac: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(4, mac + pickle.dumps(Planted()))


def test_planted_records_never_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_script(VICTIM).returncode == 0
    b_record = decode_record(records()["PIb"])
    # an earlier version's format (a pickle): the whole record, and a parameter pickle inside
    plant("out/a.txt", pickle.dumps(Planted()))
    plant("PIx", pickle.dumps(({}, (), 1, 0.0, 0.0, ("pickle", pickle.dumps(Planted())), "invariant")))
    # this version's format with a forged signature, and one signed with another user's key
    forged = msgpack.packb((b_record.inputs, b_record.outputs, b_record.fingerprint, 0.0, 0.0,
                            ("value", "{'k': 3}", _forged_sealed(b"\0" * 32)), "invariant"))
    plant("PIb", forged)
    other_key = b"attacker key"
    import hashlib
    import hmac
    payload = pickle.dumps(Planted())
    mac = hmac.digest(other_key, b"pypipegraph store value v1\x00" + payload, hashlib.sha256)
    plant("PIc", msgpack.packb(({}, (), 1, 0.0, 0.0, ("value", "x", msgpack.ExtType(4, mac + payload)),
                                "invariant")))
    for command in (["status"], ["status", "--all"], ["status", "--runs"], ["why", "pipeline.py", "--args", "4"],
                    ["report", "-o", "report.html"], ["history", "out/a.txt"], ["history", "PIb"],
                    ["log", "out/a.txt"], ["forget", "-n", "PIc"]):
        ppg_command(*command)
        assert not Path("PWNED").exists(), command
    why = ppg_command("why", "pipeline.py", "--args", "4")
    assert "out/a.txt" in why.stdout
    assert "could not be verified" in why.stdout, why.stdout

    before = Path("runs.log").read_text().split()
    proc = run_script(VICTIM, "4")  # a change the accept function would accept, if it saw {'k': 3}
    assert proc.returncode == 0, proc.stderr
    assert not Path("PWNED").exists()
    rerun = Path("runs.log").read_text().split()[len(before):]
    assert sorted(rerun) == ["out/a.txt", "out/b.txt"]  # its record is unreadable; PIb unverifiable


def test_parameters_come_back_by_value_for_accept_functions(new_pipegraph):
    seen = []

    def accept(old, new):
        seen.append(old)
        return True

    plain = {"k": (1, [2, 3]), 5: {b"x"}}
    for params in ({"k": (0, [2, 3]), 5: {b"x"}}, plain, Threshold(1), Threshold(2)):
        new_pipegraph.new_pipegraph()
        job = ppg.FileGeneratingJob("out/a.txt", write)
        job.depends_on(ppg.ParameterInvariant("a", params, accept_as_unchanged_func=accept))
        ppg.run_pipegraph()
    assert seen[0] == {"k": (0, [2, 3]), 5: {b"x"}} and type(seen[0]["k"][1]) is list
    assert seen[1] == plain
    assert seen[2] == Threshold(1)
    key = Path(os.environ["XDG_CONFIG_HOME"], "pypipegraph", "store.key")
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.parent.stat().st_mode & 0o777 == 0o700


def test_without_this_users_key_a_stored_value_counts_as_changed(new_pipegraph, monkeypatch, tmp_path):
    seen = []

    def accept(old):
        seen.append(old)
        return True

    def define(value):
        new_pipegraph.new_pipegraph()
        job = ppg.FileGeneratingJob("out/a.txt", write)
        job.depends_on(ppg.ParameterInvariant("a", Threshold(value), accept_as_unchanged_func=accept))
        return job

    define(1)
    ppg.run_pipegraph()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "another user"))
    store_key._keys.clear()
    job = define(2)
    ppg.run_pipegraph()
    assert job.was_run and seen == []  # never unpickled, never accepted
    assert "stored parameters could not be verified" in Path("logs/ppg_run.txt").read_text()


def test_a_store_key_others_can_read_is_refused(new_pipegraph):
    job = ppg.FileGeneratingJob("out/a.txt", write)
    job.depends_on(ppg.ParameterInvariant("a", Threshold(1), accept_as_unchanged_func=lambda old: True))
    ppg.run_pipegraph()
    key = store_key.key_path()
    os.chmod(key, 0o644)
    store_key._keys.clear()
    new_pipegraph.new_pipegraph()
    job = ppg.FileGeneratingJob("out/a.txt", write)
    job.depends_on(ppg.ParameterInvariant("a", Threshold(2), accept_as_unchanged_func=lambda old: True))
    with pytest.raises(ppg.StoreError) as info:  # an invariant's error escapes the run, as in 0.197
        ppg.run_pipegraph()
    assert type(info.value) is ppg.StoreError
    assert str(info.value).startswith(f"the store key {key} is not private (the file has mode 644)")
    assert not ppg.util.global_pipegraph.jobs["out/a.txt"].was_run


def test_records_of_the_previous_version_are_read_as_plain_data(new_pipegraph):
    accepted = []

    def define(k):
        new_pipegraph.new_pipegraph()
        job = ppg.FileGeneratingJob("out/a.txt", write)
        job.depends_on(ppg.ParameterInvariant(
            "a", {"k": k}, accept_as_unchanged_func=lambda old: accepted.append(old) or True))
        return job

    define(1)
    ppg.run_pipegraph()
    conn = sqlite3.connect(STORE)  # as the previous version wrote them: pickles
    with conn:
        for job_id, raw in list(conn.execute("SELECT job_id, record FROM jobs")):
            record = decode_record(raw)
            if job_id == "PIa":
                record = record._replace(extra=("pickle", pickle.dumps(record.extra[2], protocol=4)))
            conn.execute("UPDATE jobs SET record = ? WHERE job_id = ?",
                         (pickle.dumps(tuple(record), protocol=5), job_id))
    conn.close()
    job = define(2)
    ppg.run_pipegraph()
    assert not job.was_run and accepted == [{"k": 1}]
    assert not any(is_legacy(raw) for raw in records().values())  # rewritten as data


def test_encoding_keeps_types_and_runs_nothing():
    from pypipegraph.store.format import Record

    value = {"t": (1, [2, (3,)]), 7: frozenset({b"\x00"}), "s": {1.5}, "big": 1 << 80, "none": None,
             "name": os.fsdecode(b"Probe_M\xfcller.txt")}
    record = Record({"FIin": 1 << 63, "PIx": None}, (("out/a", 1, 2, (1 << 64) - 1),), 5, 0.5, 1.0,
                    value, "invariant")
    back = decode_record(encode_record(record))
    assert back == record
    assert type(back.extra["t"][1]) is list and type(back.extra["s"]) is set
    assert decode_record(b"\x97garbage") is None
    assert decode_record(pickle.dumps(Planted())) is None
    assert not Path("PWNED").exists()


def test_the_store_key_is_made_private_and_never_read_through_a_link(private_config):
    signed = store_key.sign(b"payload")
    key = Path(store_key.key_path())
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700
    assert store_key.verified(signed) == b"payload"
    with pytest.raises(store_key.Unverifiable):
        store_key.verified(signed[:-1] + b"X")  # edited payload

    planted = private_config / "neighbour.key"
    planted.write_text("n" * 64)
    planted.chmod(0o600)
    key.unlink()
    key.symlink_to(planted)  # a link to a key someone else knows
    store_key._keys.clear()
    with pytest.raises(ppg.StoreError, match="cannot read the store key"):
        store_key.sign(b"payload")
    with pytest.raises(store_key.Unverifiable):
        store_key.verified(signed)
