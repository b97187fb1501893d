"""Memory figures are the job's own: a worker forked from a master holding much data does
not report the master's pages, and the figure shown is the one the next run's
`memory_needed` estimate learns.

A real pipeline runs in its own process (the master holds ~200 MiB), with real workers
and a real store; `ppg status` and `ppg history` run as a user runs them.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest
from test_cli_store import ROOT, STORE, ok, run_pipeline, table_rows

MiB = 1 << 20

PIPELINE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import pypipegraph as ppg

    ppg.new_pipegraph(quiet=True, resource_coordinator=ppg.resource_coordinators.LocalSystem(2))
    DATA = bytearray(200 << 20)  # data the master loaded before the run
    DATA[::4096] = b"\\x01" * len(DATA[::4096])

    def tiny(of):
        Path(of).write_text("four")

    def big(of):
        block = bytearray(100 << 20)
        block[::4096] = b"\\x01" * len(block[::4096])
        Path(of).write_text(str(len(block)))

    ppg.FileGeneratingJob("out/tiny", tiny)
    ppg.FileGeneratingJob("out/big", big)
    ppg.run()
    """
)

UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def size(cells: list[str], at: int) -> float:
    """A "12.3 MiB" figure of a table row split on blanks (number at `at`, unit after it)."""
    return float(cells[at]) * UNITS[cells[at + 1]]


@pytest.fixture
def ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    Path("pipeline.py").write_text(PIPELINE.format(root=ROOT))
    run_pipeline()
    return tmp_path


def status_memory() -> dict[str, float]:
    rows = table_rows(ok("status"))  # last runtime s cpu s peak rss ...
    return {job: size(cells, 5) for job, cells in rows.items()}


def test_a_tiny_job_in_a_big_master_reports_its_own_few_mib(ran):
    memory = status_memory()
    assert memory["out/tiny"] < 16 * MiB  # not the master's 200 MiB
    assert 90 * MiB <= memory["out/big"] < 150 * MiB  # about the 100 MiB it allocated


def test_history_shows_the_same_figure(ran):
    memory = status_memory()
    lines = ok("history", "out/big").splitlines()
    cells = lines[1].split()  # run, date, time, outcome, runtime s, cpu s, peak rss unit
    assert size(cells, 8) == memory["out/big"]


def test_the_next_runs_estimate_is_the_figure_shown(ran):
    learned = dict(sqlite3.connect(STORE).execute("SELECT job_id, bytes FROM job_memory"))
    memory = status_memory()
    assert abs(learned["out/big"] - memory["out/big"]) < 0.1 * MiB  # the shown figure, rounded
    assert "out/tiny" not in learned  # too small to keep an estimate
