"""Who may import whom (docs/architecture.md): the scheduler only schedules, executors
know no graph, jobs, rebuilder or store."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pypipegraph"


def imported(path: Path) -> set[str]:
    """Top modules of the package `path` imports (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = path.relative_to(PACKAGE).parent.parts[: len(path.relative_to(PACKAGE).parent.parts)
                                                            - (node.level - 1)]
            parts = [*base, *(node.module.split(".") if node.module else [])]
            if not parts:
                names.update(alias.name for alias in node.names)
            else:
                names.add(".".join(parts))
    return names


def test_the_scheduler_imports_no_decision_store_log_console_or_report_module():
    forbidden = {"hashing", "history", "history_reader", "store_format", "rebuilder", "logs",
                 "console", "report", "listeners"}
    assert not imported(PACKAGE / "scheduler.py") & forbidden


def test_executors_import_nothing_of_jobs_graph_rebuilder_or_store():
    for path in (PACKAGE / "executors").glob("*.py"):
        for name in imported(path):
            top = name.split(".")[0]
            assert top not in {"jobs", "graph", "rebuilder", "history", "history_reader",
                                "store_format", "plan"}, f"{path.name} imports {name}"
