"""Checks on built archives: forbidden entries, and bare workspace imports in shipped code."""

from __future__ import annotations

import ast
import fnmatch
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "FORBIDDEN_PATTERNS",
    "BareImport",
    "bare_imports",
    "forbidden_entries",
    "scan_source",
]

FORBIDDEN_PATTERNS: tuple[str, ...] = (
    # Tests never ship; the smoke session runs them against the installed wheel instead.
    "tests", "test", "conftest.py", "test_*.py", "*_test.py",
    # Bytecode and caches are built on the user's machine, not shipped.
    "__pycache__", "*.pyc", "*.pyo",
    # Secret-looking files (a dotfile such as .env, .netrc or .pypirc is caught as a dotfile).
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.kdbx", "id_rsa*", "id_dsa*", "id_ecdsa*",
    "id_ed25519*", "credentials.json", "*.secret", "*.secrets",
)
"""Path components no archive may hold, besides any component starting with a dot."""

_IMPORT_FUNCTIONS = frozenset({"import_module", "__import__", "find_spec", "resolve_name"})


@dataclass(frozen=True)
class BareImport:
    """A shipped module importing a workspace name without the package prefix."""

    path: str
    """The module's path inside the archive."""
    line: int
    """1-based line of the import."""
    col: int
    """1-based column of the import."""
    name: str
    """The dotted name imported bare."""


def forbidden_entries(names: Iterable[str]) -> list[str]:
    """Archive entries that must never ship: dotfiles, tests, bytecode, secret-looking files."""
    bad = []
    for name in names:
        parts = name.split("/")
        if any(
            (part.startswith(".") and part not in {".", ".."})
            or any(fnmatch.fnmatchcase(part, pattern) for pattern in FORBIDDEN_PATTERNS)
            for part in parts
        ):
            bad.append(name)
    return sorted(bad)


def _head(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def scan_source(code: bytes, names: frozenset[str], path: str) -> list[BareImport]:
    """Bare imports of ``names`` in one module: import statements and module-name strings."""
    found: list[BareImport] = []
    try:
        tree = ast.parse(code, filename=path)
    except SyntaxError as exc:
        return [BareImport(path, exc.lineno or 0, exc.offset or 0, f"<syntax error: {exc.msg}>")]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(
                BareImport(path, node.lineno, node.col_offset + 1, alias.name)
                for alias in node.names
                if _head(alias.name) in names
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _head(node.module) in names:
                found.append(BareImport(path, node.lineno, node.col_offset + 1, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                called in _IMPORT_FUNCTIONS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
                and _head(first.value) in names
            ):
                found.append(BareImport(path, node.lineno, node.col_offset + 1, first.value))
    return sorted(found, key=lambda b: (b.line, b.col))


def bare_imports(wheel: Path, names: frozenset[str]) -> list[BareImport]:
    """Every bare workspace import in every ``.py`` file the wheel ships."""
    found: list[BareImport] = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".py"):
                found.extend(scan_source(archive.read(info), names, info.filename))
    return sorted(found, key=lambda b: (b.path, b.line, b.col))
