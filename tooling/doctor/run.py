"""``python -m tooling.doctor [--json]``: every finding on the runtime tree, each with its fix.

Reads ``[project]``, ``[tool.runtime-build]``, the source and test trees and the test tree's
pytest configuration, and imports every module of the source layout in a clean subprocess
(only ``[tool.runtime-build.smoke] env`` set).  Exit 0 with no findings, 1 with findings, 2
when the tree cannot be read.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config
from tooling.doctor.findings import (
    Finding,
    FindingKind,
    env_findings,
    excluded_imports,
    ignore_findings,
    non_identifier_folders,
    optional_import_findings,
    readme_findings,
    shadow_findings,
    shipped_test_files,
    sources_read_by_path,
    template_findings,
)
from tooling.doctor.importer import MARKER
from tooling.errors import ToolingError
from tooling.proc import run
from tooling.rewrite import (
    discover_names,
    read_pytest_config,
    read_tree,
    shadowing_sources,
)
from tooling.smoke.deps import guarded_modules, optional_dependencies, requirement_names
from tooling.smoke.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tooling.config import Config

__all__ = ["diagnose", "main"]

_IMPORTER = Path(__file__).with_name("importer.py")
# What a clean subprocess keeps of our environment: enough to find programs and a home.
_KEPT_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SYSTEMROOT")


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else os.fspath(path)


def _python_files(root: Path) -> dict[str, bytes]:
    files, _ = read_tree(root, ("__pycache__", "*.pyc", ".*"))
    return {f.rel: f.code for f in files if f.rel.endswith(".py")}


def _test_findings(config: Config, workspace: frozenset[str]) -> list[Finding]:
    tests = config.tests
    if tests is None or not tests.is_dir():
        return []
    pytest_config = read_pytest_config(tests)
    folders = {
        _rel(folder, config.root): discover_names(folder)
        for folder in shadowing_sources(tests, config.source, pytest_config)
    }
    tests_rel = _rel(tests, config.root)
    test_files = {f"{tests_rel}/{rel}": code for rel, code in _python_files(tests).items()}
    top_conftest = config.source / "conftest.py"
    if top_conftest.is_file():
        test_files[_rel(top_conftest, config.root)] = top_conftest.read_bytes()
    return [
        *shadow_findings(folders, workspace, tests_rel),
        *sources_read_by_path(test_files, workspace, config.package),
        *template_findings(test_files, workspace, config.compat_aliases),
    ]


def _import_failures(
    config: Config, names: frozenset[str], env: Mapping[str, str]
) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k in _KEPT_ENV}
    argv = [sys.executable, "-I", "-B", os.fspath(_IMPORTER), os.fspath(config.source),
            *sorted(names)]
    done = run(argv, cwd=config.source, check=False, env={**clean, **env}, timeout=300,
               what="import every module")
    marker = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)), None)
    if marker is None:
        return {}
    data = json.loads(marker.removeprefix(MARKER))
    return {str(k): str(v) for k, v in data.items()}


def _module_files(config: Config, shipped: Mapping[str, bytes]) -> dict[str, str]:
    source_rel = _rel(config.source, config.root)
    out = {}
    for rel in shipped:
        dotted = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        out[dotted] = f"{source_rel}/{rel}"
    return out


def diagnose(config: Config, *, imports: bool = True) -> tuple[Finding, ...]:
    """Every finding on the project's tree, in the order of `FindingKind`."""
    settings = load_settings(config)
    workspace = discover_names(config.source)
    files, excluded = read_tree(config.source, config.exclude)
    shipped = {f.rel: f.code for f in files}
    shipped_py = {rel: code for rel, code in shipped.items() if rel.endswith(".py")}
    source_rel = _rel(config.source, config.root)
    excluded_names = set()
    for rel, is_dir in excluded:
        excluded_names.add(rel)
        if is_dir:
            excluded_names.update(
                f"{rel}/{p.relative_to(config.source / rel).as_posix()}"
                for p in (config.source / rel).rglob("*.py")
            )
    shipped_workspace = frozenset(
        n for n in workspace
        if any(rel == f"{n}.py" or rel.startswith(f"{n}/") for rel in shipped_py)
    )
    found: list[Finding] = [*_test_findings(config, shipped_workspace)]
    found.extend(template_findings(
        {f"{source_rel}/{r}": c for r, c in shipped_py.items()}, shipped_workspace,
        config.compat_aliases,
    ))
    found.extend(optional_import_findings(
        [(f"{source_rel}/{g.file}", g.line, g.module) for g in guarded_modules(shipped_py)],
        workspace=workspace, package=config.package,
        declared=[*requirement_names(config.dependencies),
                  *optional_dependencies(config.project)],
        optional_imports=settings.optional_imports,
        module_dists=importlib.metadata.packages_distributions(),
    ))
    found.extend(non_identifier_folders(shipped, source_rel))
    found.extend(shipped_test_files(shipped_py, source_rel))
    found.extend(excluded_imports(shipped_py, sorted(excluded_names), source_rel))
    if imports:
        failures = _import_failures(config, shipped_workspace, settings.env)
        found.extend(env_findings(failures, _module_files(config, shipped_py), settings.env))
    found.extend(readme_findings(config.project, _rel(config.pyproject, config.root)))
    gitignore = config.root / ".gitignore"
    found.extend(ignore_findings(
        gitignore.read_text(encoding="utf-8") if gitignore.is_file() else None
    ))
    order = list(FindingKind)
    return tuple(sorted(found, key=lambda f: order.index(f.kind)))


def finding_json(finding: Finding) -> dict[str, str]:
    """One finding as ``--json`` prints it."""
    return {"kind": finding.kind.value, "where": finding.where, "what": finding.what,
            "fix": finding.fix}


def main(argv: list[str] | None = None) -> int:
    """List every finding with its fix; exit 0 (none), 1 (findings) or 2 (unreadable tree)."""
    parser = argparse.ArgumentParser(prog="python -m tooling.doctor", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--no-imports", action="store_true",
                        help="skip importing every module (the import-needs-env finding)")
    args = parser.parse_args(argv)

    def work() -> int:
        try:
            config = load_config()
            findings = diagnose(config, imports=not args.no_imports)
        except ToolingError as exc:
            raise ToolingError(exc.message, path=exc.path, line=exc.line, col=exc.col,
                               exit_code=2) from exc
        if args.json:
            print(json.dumps({"ok": not findings, "root": str(config.root),
                              "findings": [finding_json(f) for f in findings]}, indent=2))
        elif not findings:
            print(f"doctor: no findings in {config.root}")
        else:
            print(f"doctor: {len(findings)} finding(s) in {config.root}")
            for f in findings:
                print(f"{f.where}: [{f.kind.value}] {f.what}\n    fix: {f.fix}")
        return 1 if findings else 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
