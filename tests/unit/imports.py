"""The package's import graph, read from the source: what the walls test checks.

Every `import`/`from ... import` (relative or absolute) and every
`importlib.import_module("pypipegraph...")` with a constant name counts. Imports at module
level (outside functions, and outside `if TYPE_CHECKING:`) are *eager*; the others are
*lazy*. Importing `a.b.c` imports `a` and `a.b` too, and `from a import b` imports the
module `a.b` when there is one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "pypipegraph"


@dataclass
class Import:
    target: str
    line: int
    lazy: bool
    text: str


@dataclass
class Module:
    name: str
    path: Path
    imports: list[Import] = field(default_factory=list)


def module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, lazy: bool, found: list[tuple[ast.AST, bool]]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            continue
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if isinstance(child, (ast.Import, ast.ImportFrom, ast.Call)):
            found.append((child, lazy))
        _walk(child, inner, found)


def read_package(package_dir: Path) -> dict[str, Module]:
    """Every module of the package under `package_dir`, with its imports resolved."""
    modules = {module_name(p, package_dir): Module(module_name(p, package_dir), p)
               for p in sorted(package_dir.rglob("*.py"))}
    for module in modules.values():
        source = module.path.read_text()
        lines = source.splitlines()
        is_package = module.path.name == "__init__.py"
        here = module.name.split(".") if is_package else module.name.split(".")[:-1]
        found: list[tuple[ast.AST, bool]] = []
        _walk(ast.parse(source), False, found)
        for node, lazy in found:
            text = lines[node.lineno - 1]
            for target in _targets(node, here, modules):
                if target.split(".")[0] == ENGINE:
                    module.imports.append(Import(target, node.lineno, lazy, text))
    return modules


def _targets(node: ast.AST, here: list[str], modules: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = here[: len(here) - (node.level - 1)]
            parent = ".".join([*base, *(node.module.split(".") if node.module else [])])
        else:
            parent = node.module or ""
        out = [parent]
        out += [f"{parent}.{alias.name}" for alias in node.names if f"{parent}.{alias.name}" in modules]
        return out
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in {"import_module", "__import__"} and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str) and not value.startswith("."):
                return [value]
    return []


def expand(target: str, modules: dict) -> list[str]:
    """The modules importing `target` loads: its parent packages and itself. The top package
    (the public face, which imports everything) is left out: it is nobody's layer."""
    parts = target.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in modules]


def edges(modules: dict[str, Module], lazy: bool) -> dict[str, set[str]]:
    """module -> modules it imports (eager only, or eager and lazy)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for imp in module.imports:
            if imp.lazy and not lazy:
                continue
            graph[name].update(t for t in expand(imp.target, modules)
                               if t != name and not name.startswith(t + "."))  # not its own package
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Modules reachable from `start`, each with the module that first imported it."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for nxt in sorted(graph.get(current, ())):
            if nxt not in seen and nxt != start:
                seen[nxt] = current
                todo.append(nxt)
    return seen


def path_to(seen: dict[str, str], start: str, target: str) -> list[str]:
    chain = [target]
    while chain[-1] != start:
        chain.append(seen[chain[-1]])
    return chain[::-1]


WALL_ROW = re.compile(r"^\|\s*`([\w.*]+)`\s*\|\s*(.+?)\s*\|\s*$")


def walls(doc: Path) -> list[tuple[str, list[str]]]:
    """The table under "## Walls" in docs/architecture.md: (modules, forbidden) rows."""
    text = doc.read_text().split("## Walls", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        match = WALL_ROW.match(line)
        if match:
            rows.append((match.group(1), re.findall(r"`([\w.*]+)`", match.group(2))))
    return rows


def matches(name: str, pattern: str) -> bool:
    """`pkg.*` is the package and everything in it; otherwise the module itself."""
    full = f"{ENGINE}.{pattern}"
    if full.endswith(".*"):
        return name == full[:-2] or name.startswith(full[:-1])
    return name == full
