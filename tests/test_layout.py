"""The shape of tooling/: one package per stage, no import cycles, dependencies one way.

Imports made inside functions count: deferring an import hides a cycle from Python, not from
a reader.  The graph is read with ``ast``; nothing under test is imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLING = REPO / "tooling"
FIXTURES = Path(__file__).parent / "fixtures"

STAGES = (
    "rewrite", "build", "smoke", "api", "versioning", "release", "cascade", "ci", "doctor",
)
# What each package may import besides the kernel (the top-level modules) and itself.
ALLOWED: dict[str, frozenset[str]] = {
    "kernel": frozenset(),
    "rewrite": frozenset(),
    "api": frozenset({"rewrite"}),
    "build": frozenset({"rewrite", "api"}),
    "smoke": frozenset({"rewrite"}),
    "versioning": frozenset(),
    "cascade": frozenset(),
    "ci": frozenset(),
    "doctor": frozenset({"rewrite", "smoke"}),
}
TOP = frozenset({"release", "bench", "e2e"})  # may import everything


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under the package directory ``root``."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same top package it imports, wherever the import sits."""
    files = module_files(root)

    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*head, *([base] if base else [])])
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                found = owner(target)
                if found and found != name and not name.startswith(f"{found}."):
                    graph[name].add(found)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` reaches through one or more imports."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that reach each other (a strongly connected set of two or more)."""
    reach = {node: reachable(graph, node) for node in graph}
    found: list[list[str]] = []
    for node in sorted(graph):
        if node in reach[node] and not any(node in group for group in found):
            found.append(sorted(m for m in reach[node] if node in reach[m]))
    return found


def layer(module: str) -> str:
    """The package a ``tooling`` module belongs to; top-level modules are the kernel."""
    parts = module.split(".")
    if len(parts) == 1:
        return "kernel"  # tooling/__init__.py
    if (TOOLING / parts[1]).is_dir() or parts[1] in TOP:
        return parts[1]
    return "kernel"


def test_tooling_has_no_import_cycle() -> None:
    assert cycles(import_graph(TOOLING)) == []


def test_a_cycle_hidden_in_a_function_is_found() -> None:
    # a imports b at the top; b imports a inside a function, as a lazy import would.
    assert cycles(import_graph(FIXTURES / "import-cycle" / "cyclic")) == [
        ["cyclic.a", "cyclic.b"]
    ]


def test_packages_depend_one_way() -> None:
    wrong = []
    for module, targets in import_graph(TOOLING).items():
        source = layer(module)
        if source in TOP:
            continue
        for target in targets:
            dest = layer(target)
            if dest not in {"kernel", source} and dest not in ALLOWED[source]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_kernel_error_imports_nothing_of_ours() -> None:
    assert import_graph(TOOLING)["tooling.errors"] == set()


def test_the_package_docstring_maps_every_stage() -> None:
    doc = ast.get_docstring(ast.parse((TOOLING / "__init__.py").read_text(encoding="utf-8")))
    assert doc is not None
    for stage in (*STAGES, "bench"):
        assert f"{stage}/" in doc, stage


@pytest.mark.parametrize("stage", [*STAGES, "bench"])
def test_every_stage_runs_as_a_module(stage: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"tooling.{stage}", "--help"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
