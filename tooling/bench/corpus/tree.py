"""A released project laid out as a bare-module tree: ``src/`` and its tests, converted."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from tooling.bench.corpus.convert import Layout, convert_source, layout_for, rebound_names
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["BareTree", "convert_tree"]


@dataclass(frozen=True)
class BareTree:
    """A converted project."""

    source: Path
    """The bare modules (what ``--source`` of the rewriter gets)."""
    tests: Path
    """The converted test tree."""
    layout: Layout
    """How the names were mapped."""
    files: int
    """Python files converted."""


def _top_names(package_dir: Path) -> set[str]:
    names = set()
    for entry in package_dir.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_file() and entry.suffix == ".py" and entry.stem != "__init__":
            names.add(entry.stem)
        elif entry.is_dir() and entry.name.isidentifier() and any(entry.rglob("*.py")):
            names.add(entry.name)
    return names


def _convert_file(src: Path, dest: Path, layout: Layout, module: str | None,
                  is_package: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        converted = convert_source(src.read_bytes(), layout, module, is_package=is_package)
    except cst.ParserSyntaxError as exc:
        raise ToolingError(f"{src}:{exc.raw_line}:{exc.raw_column}: cannot convert: "
                           f"{exc.message}") from exc
    dest.write_bytes(converted)


def _convert_dir(src: Path, dest: Path, layout: Layout, prefix: str | None) -> int:
    """Convert every ``.py`` below ``src`` into ``dest``; copy everything else."""
    count = 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if "__pycache__" in rel.parts or path.is_dir():
            continue
        target = dest / rel
        if path.suffix != ".py":
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            continue
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        module = ".".join([prefix, *parts]) if prefix is not None else None
        _convert_file(path, target, layout, module, is_package)
        count += 1
    return count


def convert_tree(
    package_dir: Path,
    tests_dir: Path,
    out: Path,
    *,
    keep: Sequence[Path] = (),
    extra_tests: Sequence[Path] = (),
) -> BareTree:
    """Lay out ``package_dir`` and ``tests_dir`` bare under ``out`` (``out/src``, ``out/TESTS``).

    ``keep`` are further top-level packages of the release that stay packages (their imports
    of ``package_dir`` are converted); ``extra_tests`` are files or directories converted into
    the test tree's root (a ``conftest.py`` at the project root, an ``examples/`` the tests
    import).
    """
    package = package_dir.name
    init = package_dir / "__init__.py"
    layout = layout_for(
        package, _top_names(package_dir), {tests_dir.name, *(p.name for p in keep)},
        rebound_names(init.read_bytes()) if init.is_file() else (),
    )
    source = out / "src"
    source.mkdir(parents=True)
    count = 0
    for entry in sorted(package_dir.iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.name == "__init__.py":
            _convert_file(entry, source / f"{layout.api}.py", layout, package, is_package=True)
            count += 1
        elif entry.is_dir() and entry.name in layout.modules:
            count += _convert_dir(entry, source / layout.top(entry.name), layout,
                                  f"{package}.{entry.name}")
        elif entry.suffix == ".py" and entry.stem in layout.modules:
            _convert_file(entry, source / f"{layout.top(entry.stem)}.py", layout,
                          f"{package}.{entry.stem}", is_package=False)
            count += 1
        elif entry.is_file():
            shutil.copy2(entry, source / entry.name)
        else:
            shutil.copytree(entry, source / entry.name)
    for extra in keep:
        count += _convert_dir(extra, source / extra.name, layout, extra.name)
    tests = out / tests_dir.name
    count += _convert_dir(tests_dir, tests, layout, None)
    for extra in extra_tests:
        if extra.is_dir():
            count += _convert_dir(extra, tests / extra.name, layout, None)
        else:
            _convert_file(extra, tests / extra.name, layout, None, is_package=False)
            count += 1
    return BareTree(source, tests, layout, count)
