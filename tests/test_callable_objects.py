"""A callable object (an instance of a class with `__call__`) as a job's callback: its
attributes count in the fingerprint as a closure's values do, so changing `Scale(1)` to
`Scale(2)` reruns the job and `ppg why` shows the attribute that changed. Run as real
scripts, so fingerprints are compared across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)

PIPELINE = textwrap.dedent(f"""
    import os, sys
    sys.path.insert(0, {ROOT!r})
    from pathlib import Path
    import pypipegraph as ppg

    class Helper:  # no repr of its own: counts by its class
        pass

    class Scale:
        def __init__(self, k, label="x"):
            self.k = k
            self.label = label
            self.helper = Helper()
            self.table = {{"a": [1, 2], "b": (3,)}}

        def __call__(self, of):
            with open("runs", "a") as fh:
                fh.write("x")
            Path(of).write_text(self.label * self.k)

    class Doubling(Scale):  # __call__ inherited
        pass

    ppg.new_pipegraph(quiet=True, dump_graph=False)
    kind = Doubling if os.environ.get("SUBCLASS") else Scale
    ppg.FileGeneratingJob("out.txt", kind(int(os.environ.get("K", "1")), os.environ.get("LABEL", "x")))
    ppg.run_pipegraph()
""")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pipeline.py").write_text(PIPELINE)
    return tmp_path


def run(*command: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def runs() -> int:
    return len(Path("runs").read_text())


@pytest.mark.parametrize("subclass", ["", "1"])
def test_changing_an_attribute_of_a_callable_object_reruns_its_job(project, subclass):
    run("pipeline.py", K="1", SUBCLASS=subclass)
    run("pipeline.py", K="1", SUBCLASS=subclass)  # a new instance with the same state, in a new process
    assert runs() == 1
    why = run("-m", "pypipegraph", "why", K="2", SUBCLASS=subclass).stdout
    assert "will run: 1" in why.splitlines()
    assert "out.txt (FileGeneratingJob): function __main__.Scale.__call__ changed" in why
    assert "-#   k = 1" in why and "+#   k = 2" in why
    assert "0x" not in why  # no memory address, anywhere
    run("pipeline.py", K="2", SUBCLASS=subclass)
    assert runs() == 2 and Path("out.txt").read_text() == "xx"
    run("pipeline.py", K="2", LABEL="y", SUBCLASS=subclass)
    assert runs() == 3 and Path("out.txt").read_text() == "yy"


def test_a_callable_object_with_the_same_state_is_up_to_date(project):
    run("pipeline.py")
    done = run("-m", "pypipegraph", "why")
    assert done.stdout.splitlines()[0] == "will run: 0"
    assert done.stderr == ""  # and no warning: its attributes count
