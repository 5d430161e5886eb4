"""Files written whole or not at all, and file digests.

One durability rule for every file the pipeline writes in place (the journal, pyproject.toml,
the changelog): write a temp file beside it, fsync it, ``os.replace`` it over the old one, fsync
the directory.  A crash leaves the old file or the new one, never a torn one.  Directories
(the stage tree, ``dist/``, the rewriter's output) are swapped the same way by ``replace_dir``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["outputs_ignored", "replace_dir", "sha256_of", "write_atomic"]


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8, newlines untouched), durably."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        Path(temp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temp).unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def replace_dir(new: Path, dest: Path) -> None:
    """Put the finished directory ``new`` at ``dest``, replacing what was there.

    Both renames stay on one file system, so ``dest`` is at every moment either the old
    complete tree, absent for an instant, or the new complete tree: never a partial one.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}-old-{os.getpid()}-{time.monotonic_ns()}")
        dest.rename(old)
    try:
        new.rename(dest)
    except OSError:
        if old is not None:
            old.rename(dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# Build outputs and local state at a repository's top level; the same names deeper down (the
# ``tooling/build/`` stage package) are source.
_OUTPUTS = frozenset({"build", "dist", ".nox", ".release", ".cache", ".git"})
_ANYWHERE = (
    "__pycache__", "*.pyc", ".venv*", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis",
)


def outputs_ignored(root: Path) -> Callable[[str, list[str]], set[str]]:
    """A ``shutil.copytree`` ignore that leaves out ``root``'s build outputs and caches."""
    anywhere = shutil.ignore_patterns(*_ANYWHERE)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(anywhere(directory, names))
        if Path(directory).resolve() == root.resolve():
            skipped |= _OUTPUTS.intersection(names)
        return skipped

    return ignore
