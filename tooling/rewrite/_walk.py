"""Walking the source: the names to prefix, the files that ship, their bytes."""

from __future__ import annotations

import fnmatch
import keyword
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.rewrite._cache import content_digest

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ALWAYS_EXCLUDED", "SourceFile", "discover_names", "read_tree"]

# Bytecode and caches never ship, whatever the caller's excludes say.
ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", "*.pyo")


@dataclass(frozen=True)
class SourceFile:
    """One shipped file, read."""

    rel: str
    """Path below the tree root, POSIX separators."""
    path: str
    """Where it was read (for messages)."""
    code: bytes
    """Its content."""
    mode: int
    """Permission bits (``0o777``)."""
    digest: bytes
    """``content_digest(code)``."""


def _is_name(candidate: str) -> bool:
    return (
        candidate.isidentifier()
        and not keyword.iskeyword(candidate)
        and not (candidate.startswith("__") and candidate.endswith("__"))
    )


def _holds_python(directory: Path) -> bool:
    for _root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        if any(f.endswith(".py") for f in files):
            return True
    return False


def discover_names(source: Path) -> frozenset[str]:
    """Top-level ``*.py`` stems and top-level directories holding ``.py`` files (identifiers)."""
    names: set[str] = set()
    for entry in sorted(source.iterdir()):
        if entry.is_file() and entry.suffix == ".py" and _is_name(entry.stem):
            names.add(entry.stem)
        elif entry.is_dir() and _is_name(entry.name) and _holds_python(entry):
            names.add(entry.name)
    return frozenset(names)


def _matches(rel: str, base: str, patterns: Sequence[str]) -> bool:
    """gitignore-like: a pattern with a slash is anchored at the root, else matches a basename."""
    for raw in patterns:
        pattern = raw.strip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(rel, pattern):
                return True
        elif fnmatch.fnmatchcase(base, pattern):
            return True
    return False


def _read(path: str) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            return fh.read(), mode
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ToolingError(
            f"{path}: cannot read: {reason}; fix the file or exclude it with --exclude",
            path=Path(path),
        ) from exc


def read_tree(
    root: Path, patterns: Sequence[str]
) -> tuple[list[SourceFile], list[tuple[str, bool]]]:
    """Shipped files (read), and excluded entries as (rel, is_dir), sorted by path."""
    files: list[SourceFile] = []
    excluded: list[tuple[str, bool]] = []
    seen: set[tuple[int, int]] = set()

    def visit(directory: str, prefix: str) -> None:
        info = Path(directory).stat()
        if (info.st_dev, info.st_ino) in seen:  # a symlink loop
            return
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(directory) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            rel = f"{prefix}{entry.name}"
            is_dir = entry.is_dir()
            if _matches(rel, entry.name, patterns):
                excluded.append((rel, is_dir))
            elif is_dir:
                visit(entry.path, f"{rel}/")
            else:
                code, mode = _read(entry.path)
                files.append(SourceFile(rel, entry.path, code, mode, content_digest(code)))

    visit(str(root), "")
    return files, excluded
