"""Store records that decode but have the wrong shape, written into a real store with
sqlite3: the run takes each for "never ran" (one warning naming the job) and the read
commands show it as unreadable, none of them crashes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
STORE = ".pypipegraph_status_robust"

PIPELINE = f"""
import os, sys
sys.path.insert(0, {ROOT!r})
from pathlib import Path
import pypipegraph as ppg

def make(name):
    def work(of):
        with open("counts/" + name, "a") as fh:
            fh.write("x")
        Path(of).write_text(name)
    return work

ppg.new_pipegraph(quiet=True, dump_graph=False)
a = ppg.FileGeneratingJob("out/a", make("a"))
b = ppg.FileGeneratingJob("out/b", make("b"))
a.depends_on_params({{"k": int(os.environ.get("K", "1"))}})
ppg.run_pipegraph()
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("out", "counts"):
        (tmp_path / name).mkdir()
    Path("pipeline.py").write_text(PIPELINE)
    return tmp_path


def run_pipeline(k: int = 1) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "K": str(k)})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def ppg(*args: str, k: int = 1) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pypipegraph", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "K": str(k)})


def runs(name: str) -> int:
    path = Path("counts") / name
    return len(path.read_text()) if path.exists() else 0


def rewrite(job_id: str, change) -> None:
    """Decode the job's record as stored, give `change` its fields, store what it returns."""
    conn = sqlite3.connect(STORE)
    with conn:
        (raw,) = conn.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        fields = list(msgpack.unpackb(raw, use_list=False, strict_map_key=False))
        conn.execute("UPDATE jobs SET record = ? WHERE job_id = ?", (msgpack.packb(tuple(change(fields))), job_id))
    conn.close()


def with_field(index: int, value):
    def change(fields):
        fields[index] = value
        return fields
    return change


OUTPUT_DAMAGE = {
    "outputs of pairs": lambda fields: with_field(1, tuple(entry[:2] for entry in fields[1]))(fields),
    "outputs of numbers": with_field(1, (1, 2, 3)),
    "inputs a list": with_field(0, ["PIout/a", 5]),
    "inputs with text fingerprints": lambda fields: with_field(0, {k: "x" for k in fields[0]})(fields),
    "fingerprint a text": with_field(2, "abc"),
    "runtime a list": with_field(3, [1.0]),
    "kind a number": with_field(6, 3),
}


DAMAGE_WORDS = {
    "outputs of pairs": "its outputs are not (name, mtime, size, hash) entries",
    "outputs of numbers": "its outputs are not (name, mtime, size, hash) entries",
    "inputs a list": "its inputs are not a mapping",
    "inputs with text fingerprints": "its inputs are not job ids with fingerprints",
    "fingerprint a text": "its fingerprint is not a number",
    "runtime a list": "its runtime is not a number",
    "kind a number": "its kind is not a name",
}


@pytest.mark.parametrize("damage", sorted(OUTPUT_DAMAGE))
def test_an_output_record_of_the_wrong_shape_counts_as_never_ran(project, damage):
    run_pipeline()
    assert (runs("a"), runs("b")) == (1, 1)
    rewrite("out/a", OUTPUT_DAMAGE[damage])

    status = ppg("status")
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()[1:-1]}
    assert rows == {"out/a": "unreadable", "out/b": "done"}
    assert status.stdout.splitlines()[-1].startswith("2 jobs, 0 failed, 1 with an unreadable record (they run next time)")
    assert "Traceback" not in status.stderr

    why = ppg("why", "--jobs")
    assert why.returncode == 0, why.stdout + why.stderr
    lines = why.stdout.splitlines()
    assert lines[:2] == ["will run: 1", f"  out/a: its record in the store cannot be used ({DAMAGE_WORDS[damage]}): "
                         "counts as never ran"]
    assert "up to date: 1" in lines

    for command in (["history", "out/a"], ["log", "out/a"]):
        done = ppg(*command)
        assert "Traceback" not in done.stderr, (command, done.stderr)

    second = run_pipeline()
    assert (runs("a"), runs("b")) == (2, 1)  # the damaged one ran again, the other did not
    warnings = [line for line in second.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, second.stderr
    assert warnings[0].startswith("pypipegraph: warning: the store's record of out/a cannot be used (")
    assert warnings[0].endswith("): it counts as never ran")

    third = run_pipeline()  # the record was written anew: all up to date, nothing said
    assert (runs("a"), runs("b"), third.stderr) == (2, 1, "")
    assert {line.split()[0]: line.split()[1] for line in ppg("status").stdout.splitlines()[1:-1]} == {
        "out/a": "done", "out/b": "done"}


@pytest.mark.parametrize("state", [5, ("a", "b")])
def test_a_function_invariant_state_of_the_wrong_shape_is_taken_for_none(project, state):
    run_pipeline()
    rewrite("out/a_func", with_field(5, state))
    why = ppg("why", "--all")
    assert why.returncode == 0 and "Traceback" not in why.stderr, why.stdout + why.stderr
    assert "will run: 0" in why.stdout.splitlines()  # the function did not change
    done = run_pipeline()
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert (runs("a"), runs("b")) == (1, 1)
    assert len(warnings) <= 1 and all(w.startswith("pypipegraph: warning: the store's record of out/a_func cannot "
                                                   "be used (") for w in warnings), done.stderr
    assert run_pipeline().stderr == ""  # checked afresh and stored anew


@pytest.mark.parametrize("state", [7, ("value", 1, 2, 3)])
def test_a_parameter_invariant_state_of_the_wrong_shape_still_sees_the_change(project, state):
    run_pipeline()
    rewrite("PIout/a", with_field(5, state))
    why = ppg("why", k=2)
    assert why.returncode == 0 and "Traceback" not in why.stderr, why.stdout + why.stderr
    assert why.stdout.splitlines()[0] == "will run: 1"
    assert why.stdout.splitlines()[1].startswith("  out/a (make.work): parameters PIout/a changed")
    run_pipeline(k=2)
    assert (runs("a"), runs("b")) == (2, 1)
    assert run_pipeline(k=2).stderr == ""
