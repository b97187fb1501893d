"""Who may import whom: the walls of docs/architecture.md, checked on the source.

The forbidden table lives in docs/architecture.md ("## Walls"); this test reads it from
there, so the picture and the check cannot disagree. An import counts whether relative or
absolute, at module level or inside a function, and through any chain of other modules.
"""

from __future__ import annotations

import shutil

import networkx as nx
import pytest

from .imports import ENGINE, ROOT, edges, matches, path_to, reachable, read_package, walls

PACKAGE = ROOT / ENGINE
DOC = ROOT / "docs" / "architecture.md"


def violations(package_dir) -> list[str]:
    modules = read_package(package_dir)
    graph = edges(modules, lazy=True)
    found = []
    for subject, forbidden in walls(DOC):
        for name in modules:
            if not matches(name, subject):
                continue
            seen = reachable(graph, name)
            for target in seen:
                if any(matches(target, f) for f in forbidden):
                    found.append(f"{name} reaches {target}: {' -> '.join(path_to(seen, name, target))}")
    return found


def cycles(package_dir) -> list[list[str]]:
    graph = nx.DiGraph()
    for name, targets in edges(read_package(package_dir), lazy=False).items():
        graph.add_node(name)
        graph.add_edges_from((name, t) for t in targets)
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_the_walls_table_is_there_and_names_real_modules():
    rows = walls(DOC)
    assert len(rows) >= 8
    names = set(read_package(PACKAGE))
    for subject, forbidden in rows:
        for pattern in [subject, *forbidden]:
            assert any(matches(n, pattern) for n in names), f"docs/architecture.md names {pattern}"


def test_no_module_reaches_what_its_wall_forbids():
    assert violations(PACKAGE) == []


def test_no_import_cycle_among_module_level_imports():
    assert cycles(PACKAGE) == []


def test_every_function_local_import_of_the_engine_says_why():
    """A lazy import is deliberate (start-up time, an optional dependency, a class that is
    built from the importing one): the line says so with `# lazy: <reason>`."""
    unexplained = [
        f"{module.path.relative_to(ROOT)}:{imp.line}: {imp.text.strip()}"
        for module in read_package(PACKAGE).values() for imp in module.imports
        if imp.lazy and "# lazy:" not in imp.text
    ]
    assert unexplained == []


@pytest.fixture
def planted(tmp_path):
    """A copy of the package in which a test may plant an import."""
    copy = tmp_path / ENGINE
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "report_assets"))
    return copy


def plant(copy, module: str, line: str) -> None:
    path = copy / module
    path.write_text(path.read_text() + "\n" + line + "\n")


@pytest.mark.parametrize("line", [
    "import pypipegraph.store.writer",
    "from pypipegraph.rebuilder import Rebuilder",
    "import importlib\nimportlib.import_module('pypipegraph.graph')",
    "def later():\n    from ..store import reader  # lazy: planted\n    return reader",
])
def test_a_planted_import_through_the_wall_is_found(planted, line):
    assert violations(planted) == []
    plant(planted, "executors/zygote.py", line)
    assert violations(planted), f"planting {line!r} in executors/ went unseen"


def test_a_transitive_violation_is_found_with_its_chain(planted):
    # executors may import plumbing; plumbing importing the store puts the store behind executors
    plant(planted, "plumbing/host.py", "from ..store import lock")
    found = violations(planted)
    assert any("executors" in v and "plumbing.host -> pypipegraph.store" in v for v in found), found


def test_a_planted_cycle_is_found(planted):
    assert cycles(planted) == []
    plant(planted, "errors.py", "from . import scheduler")
    assert cycles(planted)
