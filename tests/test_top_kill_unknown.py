"""`ppg top --kill` of a job that is not running: an unknown id, a finished job or a number
off the list exits non-zero and says "no such job", and the run goes on untouched."""

from __future__ import annotations

from pathlib import Path

from test_console import (  # noqa: F401 - workdir: a fixture
    outcomes,
    release,
    runs,
    wait_for_files,
    workdir,
)
from test_top import headless, ppg, runtime_dir, serving  # noqa: F401 - fixtures


def test_kill_of_an_unknown_job_or_a_bad_number_exits_non_zero(headless):  # noqa: F811 - the fixture
    proc = headless(JOBS="3")
    wait_for_files("started/0", "started/1")
    serving(proc)
    unknown = ppg("top", "--kill", "out/nothing-like-this", check=False)
    assert unknown.returncode != 0
    assert "no such job" in unknown.stderr and "out/nothing-like-this" in unknown.stderr
    assert "not a job of the running pipeline" in unknown.stderr
    waiting = ppg("top", "--kill", "out/2", check=False)  # a job of the graph, not started yet
    assert waiting.returncode != 0 and "no such job" in waiting.stderr and "is not running" in waiting.stderr
    for number in ("7", "0"):
        bad = ppg("top", "--kill", number, check=False)
        assert bad.returncode != 0
        assert "no such job" in bad.stderr and "(1-2)" in bad.stderr
    release("all")
    assert proc.wait(timeout=60) == 0  # nothing was killed: every job ran
    assert [runs(i) for i in range(3)] == [1, 1, 1]
    assert set(outcomes().values()) == {"done"}
    assert "killed" not in Path("run.out").read_text()
