"""``compat.json``: what a runtime release offers its consumers, and checking their needs.

Every wheel ships ``<package>/compat.json`` (written by the build while staging):

- ``runtime_version``, ``requires_python``, ``distribution``, ``package``;
- ``adapter_protocol_version`` and ``plugin_api_version``: module-level literals
  (``ADAPTER_PROTOCOL_VERSION``, ``PLUGIN_API_VERSION``) found by searching the package, so
  they are read, never hard-coded (``[tool.runtime-build.compat]`` renames or drops them);
- ``api_fingerprint``: sha256 of the sorted public signatures, equal for two builds that
  expose the same API;
- ``stable_imports``: the ``[tool.runtime-build] stable-imports`` entries, sorted.

A consumer declares what it needs in ``runtime-needs.toml`` or in ``[tool.runtime]`` of its
pyproject.toml, e.g. ``adapter-protocol = ">=1,<2"``, and ``--check`` says whether a release
satisfies each need.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tooling
from tooling.cli import guarded
from tooling.config import Config, load_config
from tooling.errors import ToolingError
from tooling.needs import (
    COMPAT_FILE,
    COMPAT_FORMAT,
    check_needs,
    format_check,
    read_compat,
    read_needs,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "COMPAT_FILE",
    "COMPAT_FORMAT",
    "ConstantValue",
    "build_compat",
    "compat_constants",
    "dumps_compat",
    "find_constant",
    "main",
    "read_compat",
    "write_compat",
]

# Keep this many API cache entries (one per distinct staged package seen).
_API_CACHE_KEEP = 16


@dataclass(frozen=True)
class ConstantValue:
    """A module-level literal found in the package."""

    name: str
    """The constant's name, e.g. ``ADAPTER_PROTOCOL_VERSION``."""
    value: int | float | str | tuple[int, ...]
    """Its literal value."""
    file: Path
    """The module assigning it."""
    line: int
    """The line of the assignment."""


def compat_constants(config: Config) -> tuple[Mapping[str, str], bool]:
    """compat.json field -> constant name, and whether a missing constant is an error.

    From ``[tool.runtime-build.compat]`` as parsed by the configuration: ``constants`` (a table;
    default the adapter protocol and plugin API versions) and ``required`` (default true).
    """
    return config.compat_constants, config.compat_required


def _literal(node: ast.expr, name: str, file: Path) -> int | float | str | tuple[int, ...]:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ToolingError(
            f"{file}:{node.lineno}: {name} must be a literal (int, str or tuple of ints) so it "
            "can be read without importing the package",
            path=file, line=node.lineno,
        ) from exc
    if isinstance(value, bool) or not isinstance(value, (int, float, str, tuple)):
        raise ToolingError(f"{file}:{node.lineno}: {name} must be an int, str or tuple of ints",
                           path=file, line=node.lineno)
    return value


def _assignments(file: Path, name: str) -> list[ConstantValue]:
    code = file.read_bytes()
    if name.encode() not in code:
        return []
    try:
        tree = ast.parse(code, filename=str(file))
    except SyntaxError as exc:
        raise ToolingError(f"{file}:{exc.lineno}: syntax error: {exc.msg}", path=file,
                           line=exc.lineno) from exc
    found: list[ConstantValue] = []
    for stmt in tree.body:
        value = _assigned_value(stmt, name)
        if value is not None:
            found.append(ConstantValue(name, _literal(value, name, file), file, stmt.lineno))
    return found


def _assigned_value(stmt: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in stmt.targets
    ):
        return stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.value if stmt.target.id == name else None
    return None


def find_constant(package_dir: Path, name: str) -> ConstantValue | None:
    """The module-level literal ``name = ...`` in the package, searched for, not assumed.

    Two modules assigning different values is an error naming both; None if no module does.
    """
    found: list[ConstantValue] = []
    for file in sorted(package_dir.rglob("*.py")):
        if "__pycache__" not in file.parts:
            found += _assignments(file, name)
    if not found:
        return None
    first = found[0]
    for other in found[1:]:
        if other.value != first.value:
            raise ToolingError(
                f"{other.file}:{other.line}: {name} = {other.value!r} disagrees with "
                f"{first.file}:{first.line} ({first.value!r}); define it once and import it",
                path=other.file, line=other.line,
            )
    return first


def build_compat(
    config: Config, package_dir: Path, *, cache_dir: Path | None = None
) -> dict[str, object]:
    """compat.json's content for the staged package at ``package_dir`` (OUT/PKG).

    The griffe-derived API summary is cached under ``cache_dir`` (default ``build/.cache``).
    """
    constants, required = compat_constants(config)
    data: dict[str, object] = {
        "compat_format": COMPAT_FORMAT,
        "distribution": config.name,
        "package": package_dir.name,
        "runtime_version": config.version,
        "requires_python": config.requires_python,
        # The imports the release promises to keep: the smoke and the API gate hold them.
        "stable_imports": sorted(config.stable_imports),
    }
    for field, name in sorted(constants.items()):
        found = find_constant(package_dir, name)
        if found is None and required:
            raise ToolingError(
                f"{package_dir}: no module-level `{name} = <literal>` in the package; define it, "
                f"or change [tool.runtime-build.compat] constants / required in {config.pyproject}"
            )
        value = found.value if found else None
        data[field] = list(value) if isinstance(value, tuple) else value
    cache = cache_dir if cache_dir is not None else config.root / "build" / ".cache"
    data["api_fingerprint"], data["api_objects"] = _api_summary(package_dir, cache / "compat")
    return data


def _api_key(package_dir: Path) -> str:
    """Digest of everything the API summary depends on: the package's files and the loader."""
    digest = hashlib.sha256()
    tools = Path(__file__).parent
    try:
        griffe_version = importlib.metadata.version("griffe")
    except importlib.metadata.PackageNotFoundError:
        griffe_version = "?"
    for part in (package_dir.name, tooling.__version__, griffe_version):
        digest.update(part.encode() + b"\0")
    for module in ("model.py", "loader.py", "public.py", "values.py", "source.py"):
        digest.update((tools / module).read_bytes() + b"\0")
    for file in sorted(package_dir.rglob("*")):
        rel = file.relative_to(package_dir).as_posix()
        if file.is_file() and rel != COMPAT_FILE and "__pycache__" not in file.parts:
            digest.update(rel.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _api_summary(package_dir: Path, cache_dir: Path) -> tuple[str, int]:
    """``api_fingerprint`` and ``api_objects``, from the cache when the package is unchanged.

    griffe (the slow part of a no-op build) is imported only on a miss; the
    key covers every file of the package, griffe's version and the loader's own source.
    """
    entry = cache_dir / f"api-{_api_key(package_dir)}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(entry.read_text(encoding="utf-8"))
        fingerprint, objects = cached["api_fingerprint"], cached["api_objects"]
        if isinstance(fingerprint, str) and isinstance(objects, int):
            return fingerprint, objects
    from tooling.api.loader import load_api
    from tooling.api.values import api_fingerprint

    model = load_api(package_dir.parent, package_dir.name)
    fingerprint, objects = api_fingerprint(model), len(model.objects)
    with contextlib.suppress(OSError):  # an unwritable cache only costs speed
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".api-", suffix=".json", dir=cache_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"api_fingerprint": fingerprint, "api_objects": objects}, fh)
        Path(tmp).replace(entry)
        entries = sorted(cache_dir.glob("api-*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-_API_CACHE_KEEP]:
            old.unlink(missing_ok=True)
    return fingerprint, objects


def dumps_compat(data: Mapping[str, object]) -> str:
    """The one serialisation: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_compat(config: Config, package_dir: Path, *, cache_dir: Path | None = None) -> Path:
    """Write ``package_dir/compat.json`` (atomically) and return its path."""
    text = dumps_compat(build_compat(config, package_dir, cache_dir=cache_dir))
    target = package_dir / COMPAT_FILE
    fd, tmp = tempfile.mkstemp(prefix=".compat-", suffix=".json", dir=package_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _current_compat(config: Config) -> dict[str, object]:
    # Imported here: staging needs the rewriter (libcst), reading a compat.json does not.
    from tooling.rewrite import rewrite_tree

    with tempfile.TemporaryDirectory(prefix="compat-") as tmp:
        rewrite_tree(config.source, config.package, Path(tmp), exclude=config.exclude)
        return build_compat(config, Path(tmp) / config.package)


def main(argv: list[str] | None = None) -> int:
    """Print this tree's compat.json, or check a consumer's declared needs against it."""
    parser = argparse.ArgumentParser(prog="python -m tooling.api.compat", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="PATH", type=Path,
                        help="consumer directory, runtime-needs.toml or pyproject.toml to check")
    parser.add_argument("--compat", metavar="FILE", type=Path,
                        help="check against this compat.json or wheel instead of the current tree")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--root", type=Path, default=None, help="project root (default: here)")
    args = parser.parse_args(argv)

    def work() -> int:
        if args.compat is not None:
            compat = read_compat(args.compat)
        else:
            compat = _current_compat(load_config(args.root))
        if args.check is None:
            if args.json:
                print(dumps_compat(compat), end="")
            else:
                for key in sorted(compat):
                    print(f"{key}: {compat[key]}")
            return 0
        needs_file, needs = read_needs(args.check)
        check = check_needs(needs_file, needs, compat)
        print(format_check(check, compat, as_json=args.json))
        if not check.satisfied:
            failed = ", ".join(r.need for r in check.results if not r.satisfied)
            raise ToolingError(f"{needs_file}: runtime {compat.get('runtime_version')} does not "
                               f"satisfy: {failed}; pick a runtime release that does")
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
