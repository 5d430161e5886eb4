"""The smoke session's dependency check: deptry on the shipped package.

Every third-party import must be covered by a ``[project] dependencies`` entry and every
declared dependency must be imported somewhere; each problem is ``path:line:col: DEP00N ...``.
Imports guarded by ``try: ... except ImportError`` (or ``ModuleNotFoundError``) or made under
``if TYPE_CHECKING:`` are optional: fine when ``[project.optional-dependencies]`` declares
them or ``[tool.runtime-build.smoke] optional-imports`` lists them.  A declared dependency
that only excluded code imports is reported as such (docs/build.md "Dependency check").
A pass is cached by the content of the package's modules (read from the wheel, which is what
ships), the declared dependencies, the dependency-to-module map and deptry's version.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from tooling.errors import ToolingError
from tooling.proc import run
from tooling.rewrite import read_tree
from tooling.smoke.cache import load_entry, store_entry, tool_digest
from tooling.smoke.checks import CheckResult, elapsed, failed_check, output_tail

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "DEPS_CACHED_DETAIL",
    "GuardedImport",
    "check_deps",
    "excluded_sources",
    "guarded_imports",
    "guarded_modules",
    "optional_dependencies",
    "requirement_names",
]

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})

DEPS_CACHED_DETAIL = (
    "passed (cached: identical package modules, dependencies and deptry; --no-cache re-runs)"
)
"""What a deps check served from the cache reports."""


def requirement_names(dependencies: Sequence[str]) -> tuple[str, ...]:
    """The distribution names of declared requirement strings."""
    names = []
    for text in dependencies:
        try:
            names.append(Requirement(text).name)
        except InvalidRequirement as exc:
            raise ToolingError(f"[project] dependencies: {text!r} is invalid: {exc}") from exc
    return tuple(names)


def optional_dependencies(project: Mapping[str, object]) -> tuple[str, ...]:
    """Distribution names of every ``[project.optional-dependencies]`` requirement."""
    extras = project.get("optional-dependencies", {})
    if not isinstance(extras, dict):
        return ()
    texts = [t for reqs in extras.values() if isinstance(reqs, list) for t in reqs
             if isinstance(t, str)]
    return requirement_names(texts)


def excluded_sources(config: Config) -> dict[str, bytes]:
    """Excluded ``.py`` files of the source (``SRC/rel`` to bytes): code that never ships."""
    _shipped, excluded = read_tree(config.source, config.exclude)
    found: dict[str, bytes] = {}
    for rel, is_dir in excluded:
        path = config.source / rel
        members = sorted(path.rglob("*.py")) if is_dir else [path]
        for member in members:
            if member.suffix == ".py" and "__pycache__" not in member.parts:
                found[member.relative_to(config.source).as_posix()] = member.read_bytes()
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds] if kinds else []
    return any(
        (n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else "")
        in _IMPORT_ERRORS for n in names
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _guarded_lines(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        body: list[ast.stmt] = []
        if isinstance(node, ast.Try):
            body = node.body if any(_catches_import_error(h) for h in node.handlers) else []
        elif isinstance(node, ast.If):
            body = node.body if _is_type_checking(node.test) else []
        for stmt in body:
            for inner in ast.walk(stmt):
                if isinstance(inner, ast.Import):
                    yield from ((inner.lineno, a.name.split(".")[0]) for a in inner.names)
                elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                    yield inner.lineno, inner.module.split(".")[0]


@dataclass(frozen=True, order=True)
class GuardedImport:
    """One optional import of the shipped code."""

    file: str
    """The file, as named in the sources mapping."""
    line: int
    """1-based line of the import statement."""
    module: str
    """The top-level module imported."""


def guarded_modules(sources: Mapping[str, bytes]) -> tuple[GuardedImport, ...]:
    """``(file, line, top-level module)`` of every optional import.

    Optional: guarded by ``except ImportError`` (or ``ModuleNotFoundError``) or made under
    ``if TYPE_CHECKING:``; absolute imports only.
    """
    found: set[GuardedImport] = set()
    for member, code in sources.items():
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        found.update(GuardedImport(member, line, module) for line, module in _guarded_lines(tree))
    return tuple(sorted(found))


def guarded_imports(sources: Mapping[str, bytes]) -> frozenset[tuple[str, int]]:
    """``(file, line)`` of every optional import (see `guarded_modules`)."""
    return frozenset((g.file, g.line) for g in guarded_modules(sources))


def _top_imports(code: bytes) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _users(modules: Sequence[str], excluded: Mapping[str, bytes]) -> list[str]:
    """Top-level excluded paths (``molecule_audit/``, ``tools.py``) importing ``modules``."""
    users = set()
    for rel, code in excluded.items():
        if _top_imports(code) & set(modules):
            head, _, rest = rel.partition("/")
            users.add(f"{head}/" if rest else head)
    return sorted(users)


def _judge(
    issue: Mapping[str, object],
    *,
    guarded: frozenset[tuple[str, int]],
    optional: Sequence[str],
    optional_imports: Sequence[str],
    module_map: Mapping[str, Sequence[str]],
    excluded: Mapping[str, bytes],
) -> str | None:
    """The failure line for one deptry issue, or None when it is fine."""
    location = issue["location"]
    error = issue["error"]
    assert isinstance(location, dict)  # noqa: S101 - deptry's documented JSON shape
    assert isinstance(error, dict)  # noqa: S101
    module = str(issue.get("module", ""))
    file, line = str(location["file"]), location.get("line")
    where = file + (f":{line}:{location['column']}" if line else "")
    code = str(error["code"])
    if code == "DEP001" and (file, line) in guarded:
        if module in optional_imports or _normal(module) in {_normal(o) for o in optional}:
            return None
        return (f"{where}: {code} optional import {module!r} (guarded) is in no extra: declare "
                "it in [project.optional-dependencies] or list it in "
                "[tool.runtime-build.smoke] optional-imports")
    if code == "DEP002":
        users = _users(tuple(module_map.get(module, ())) or (module.replace("-", "_"),), excluded)
        if users:
            return (f"{where}: {code} {module!r} is used only by excluded {', '.join(users)}: "
                    "ship it or drop the dependency")
    return f"{where}: {code} {error['message']}"


def _package_sources(wheel: Path, package: str) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            member: archive.read(member)
            for member in sorted(archive.namelist())
            if member.startswith(f"{package}/") and member.endswith(".py")
        }


def _deps_key(sources: Mapping[str, bytes], material: Sequence[object]) -> str:
    try:
        deptry = importlib.metadata.version("deptry")
    except importlib.metadata.PackageNotFoundError:
        deptry = "absent"
    digest = hashlib.sha256(json.dumps(["deps", tool_digest(), deptry, *material]).encode())
    for member, code in sources.items():
        digest.update(member.encode() + b"\0" + code + b"\0")
    return digest.hexdigest()


def check_deps(
    wheel: Path,
    package: str,
    name: str,
    dependencies: Sequence[str],
    *,
    module_map: Mapping[str, Sequence[str]],
    scratch: Path,
    cache_dir: Path | None = None,
    optional: Sequence[str] = (),
    optional_imports: Sequence[str] = (),
    excluded_sources: Mapping[str, bytes] | None = None,
) -> CheckResult:
    """Run deptry on the shipped package against the declared ``[project] dependencies``.

    With ``cache_dir``, a pass for identical inputs is served from there.
    """
    start = time.perf_counter()
    sources = _package_sources(wheel, package)
    mapping = ",".join(
        f"{dist}={'|'.join(mods)}" for dist, mods in sorted(module_map.items()) if mods
    )
    excluded = excluded_sources or {}
    users_digest = hashlib.sha256(b"".join(
        k.encode() + b"\0" + v + b"\0" for k, v in sorted(excluded.items())
    )).hexdigest()
    key = _deps_key(sources, [package, name, list(dependencies), mapping, list(optional),
                              list(optional_imports), users_digest])
    if cache_dir is not None and load_entry(cache_dir, key) is not None:
        return CheckResult(
            "deps", ok=True, detail=DEPS_CACHED_DETAIL, cached=True, seconds=elapsed(start)
        )
    root = scratch / "deptry"
    root.mkdir(parents=True)
    for member, code in sources.items():
        target = root / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(code)
    # deptry reads the declared dependencies from a [project] table; JSON strings are TOML.
    (root / "pyproject.toml").write_text(
        f'[project]\nname = {json.dumps(name)}\nversion = "0"\n'
        f"dependencies = {json.dumps(list(dependencies))}\n",
        encoding="utf-8",
    )
    report = scratch / "deptry.json"
    argv = [
        sys.executable, "-m", "deptry", ".", "--no-ansi", "--known-first-party", package,
        "--json-output", os.fspath(report),
        *(["--package-module-name-map", mapping] if mapping else []),
    ]
    done = run(argv, cwd=root, check=False, timeout=300, what="deptry")
    if not report.is_file():
        why = output_tail(done.stderr or done.stdout)
        return failed_check("deps", f"deptry did not run: {why}", start)
    issues = json.loads(report.read_text(encoding="utf-8"))
    guarded = guarded_imports(sources)
    judged = (
        _judge(i, guarded=guarded, optional=optional, optional_imports=optional_imports,
               module_map=module_map, excluded=excluded)
        for i in issues
    )
    failures = tuple(line for line in judged if line is not None)
    if failures:
        return CheckResult(
            "deps", ok=False, detail=f"{len(failures)} issue(s), first {failures[0]}",
            failures=failures, seconds=elapsed(start),
        )
    detail = f"every import covered, every one of {len(dependencies)} dependencies used"
    if cache_dir is not None:
        store_entry(cache_dir, key, {"detail": detail})
    return CheckResult("deps", ok=True, detail=detail, seconds=elapsed(start))
