"""The smoke session's dependency check: deptry on the shipped package.

Every third-party import must be covered by a ``[project] dependencies`` entry and every
declared dependency must be imported somewhere; each problem is ``path:line:col: DEP00N ...``.
A pass is cached by the content of the package's modules (read from the wheel, which is what
ships), the declared dependencies, the dependency-to-module map and deptry's version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
import time
import zipfile
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from tooling.errors import ToolingError
from tooling.proc import run
from tooling.smoke.cache import load_entry, store_entry, tool_digest
from tooling.smoke.checks import CheckResult, elapsed, failed_check, output_tail

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["DEPS_CACHED_DETAIL", "check_deps", "requirement_names"]

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
) -> CheckResult:
    """Run deptry on the shipped package against the declared ``[project] dependencies``.

    With ``cache_dir``, a pass for identical inputs is served from there.
    """
    start = time.perf_counter()
    sources = _package_sources(wheel, package)
    mapping = ",".join(
        f"{dist}={'|'.join(mods)}" for dist, mods in sorted(module_map.items()) if mods
    )
    key = _deps_key(sources, [package, name, list(dependencies), mapping])
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
    failures = tuple(
        f"{i['location']['file']}"
        + (f":{i['location']['line']}:{i['location']['column']}" if i["location"]["line"] else "")
        + f": {i['error']['code']} {i['error']['message']}"
        for i in issues
    )
    if failures:
        return CheckResult(
            "deps", ok=False, detail=f"{len(failures)} issue(s), first {failures[0]}",
            failures=failures, seconds=elapsed(start),
        )
    detail = f"every import covered, every one of {len(dependencies)} dependencies used"
    if cache_dir is not None:
        store_entry(cache_dir, key, {"detail": detail})
    return CheckResult("deps", ok=True, detail=detail, seconds=elapsed(start))
