"""Differential harness: run one script under pypipegraph 0.197 and under this engine.

The reference interpreter is $PPG_REFERENCE_PYTHON, else `.venv-ref/bin/python` in the
repository root (CI installs it: .ci/run); tests using it are skipped when it is absent.
A script runs `steps` times in one directory (STEP=0, 1, ... in its environment;
`before(step, directory)` may edit files in between) and reports with `emit(name,
value)`: outcome fields of jobs, exception types, file contents. The harness returns
what each engine emitted, step by step, so a test asserts they are equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def reference_python() -> str | None:
    candidate = os.environ.get("PPG_REFERENCE_PYTHON") or str(ROOT / ".venv-ref" / "bin" / "python")
    return candidate if os.path.exists(candidate) else None


needs_reference = pytest.mark.skipif(
    reference_python() is None,
    reason="pypipegraph 0.197 not installed (.venv-ref, or set PPG_REFERENCE_PYTHON)",
)

PRELUDE = '''
import json, os, sys
import pypipegraph as ppg
STEP = int(os.environ["STEP"])

def new_graph(cores=2):
    return ppg.new_pipegraph(ppg.resource_coordinators.LocalSystem(cores, interactive=False),
                             quiet=True, dump_graph=False)

def emit(name, value):
    print("@@" + json.dumps([name, value], sort_keys=True, default=repr), flush=True)

def error(exc):
    """What code written for 0.197 can see of an exception: its type and base classes."""
    return None if exc is None else [type(exc).__name__, isinstance(exc, ValueError),
                                     isinstance(exc, ppg.PyPipeGraphError)]

def jobs(*ids):
    g = ppg.util.global_pipegraph
    return {i: {"was_run": bool(g.jobs[i].was_run), "failed": bool(g.jobs[i].failed),
                "exception": error(g.jobs[i].exception)} for i in ids}

def run(*ids):
    try:
        ppg.run_pipegraph()
        emit("run", None)
    except Exception as exc:
        emit("run", error(exc))
        emit("run_exceptions", [error(e) for e in getattr(exc, "exceptions", [])])
    emit("jobs", jobs(*ids))

def files(*names):
    emit("files", {n: (open(n).read() if os.path.exists(n) else None) for n in names})

def attempt(label, func):
    try:
        func()
        emit(label, None)
    except Exception as exc:
        emit(label, error(exc))

for d in ("out", "logs", "cache"):
    os.makedirs(d, exist_ok=True)
'''


def run_script(python: str, script: str, directory: Path, steps: int = 1,
               before: Callable[[int, Path], None] | None = None) -> list[list]:
    """Run `script` (after PRELUDE) `steps` times in `directory`; the emitted records per step."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "script.py"
    path.write_text(PRELUDE + script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "PYPIPEGRAPH_"))}
    results = []
    for step in range(steps):
        if before is not None:
            before(step, directory)
        done = subprocess.run([python, "script.py"], cwd=directory, env=dict(env, STEP=str(step)),
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        records = [json.loads(line[2:]) for line in done.stdout.splitlines() if line.startswith("@@")]
        if done.returncode != 0:
            records.append(["exit", done.returncode, done.stderr.strip().splitlines()[-1:]])
        results.append(records)
    return results


def run_both(tmp_path: Path, script: str, steps: int = 1,
             before: Callable[[int, Path], None] | None = None) -> tuple[list, list]:
    """(reference records, our records) for the script; skips without the reference."""
    reference = reference_python()
    if reference is None:
        pytest.skip("pypipegraph 0.197 not installed")
    theirs = run_script(reference, script, tmp_path / "ref", steps, before)
    ours = run_script(sys.executable, script, tmp_path / "ours", steps, before)
    return theirs, ours


def assert_same(tmp_path: Path, script: str, steps: int = 1,
                before: Callable[[int, Path], None] | None = None) -> list:
    """Both engines emit the same records at every step; returns ours."""
    theirs, ours = run_both(tmp_path, script, steps, before)
    assert len(theirs) == len(ours)
    for step, (a, b) in enumerate(zip(theirs, ours, strict=True)):
        assert a == b, f"step {step}:\n0.197: {a}\nours:  {b}"
    return ours
