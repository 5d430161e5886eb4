"""The no-op check: a rewrite whose inputs and outputs are exactly as last time writes nothing.

After each successful run with a cache directory, a manifest records the settings, every input
file's content digest and mode, and every output entry's ``(size, mtime_ns, inode, mode)``.
The next run reads and hashes every input anyway (any content change is seen, whatever the
timestamps say); when all of it and the settings match and the outputs are untouched, the
previous result stands and nothing is written.  Anything else (an edit, a new or deleted file,
``__pycache__`` or a stray file in the output, a touched output) means a full rewrite, served
from the cache where possible.  The output of a no-op is therefore always the output of a cold
run: the one before it produced it and nothing has moved since.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from tooling.rewrite._cache import load_marshalled, store_marshalled

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["Manifest", "manifest_path", "scan_outputs"]

_FORMAT = b"rewrite-manifest-1"
# Builds rewrite into fresh temp dirs, whose manifests are never read again: keep the newest.
_KEEP = 32

Inputs: TypeAlias = tuple[tuple[str, int, bytes], ...]
"""(rel, mode, digest) of every input file, package tree then (after a marker) tests tree."""
Outputs: TypeAlias = tuple[tuple[str, int, int, int, int], ...]
"""(path, size, mtime_ns, inode, mode) of every output entry; size -1 for directories."""
Summary: TypeAlias = tuple[int, int, int, int, tuple[tuple[str, int], ...]]
"""The previous result: files seen, rewritten, prefiltered, cached, references."""


@dataclass(frozen=True)
class Manifest:
    """What one successful rewrite read and wrote."""

    settings: tuple[str, ...]
    """Everything besides file contents that shapes the output."""
    inputs: Inputs
    """The input files."""
    outputs: Outputs
    """The output entries right after the rewrite."""
    summary: Summary
    """The result to report again on a no-op."""

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """The manifest at ``path``, or None (absent, corrupt, other format)."""
        stored = load_marshalled(path, _FORMAT)
        if not isinstance(stored, tuple) or len(stored) != 4:
            return None
        settings, inputs, outputs, summary = stored
        return cls(settings, inputs, outputs, summary)

    def save(self, path: Path) -> None:
        """Write it (atomically, best effort), dropping all but the newest manifests."""
        store_marshalled(path, _FORMAT, (self.settings, self.inputs, self.outputs, self.summary))
        try:
            found = [(entry.stat().st_mtime_ns, entry.path) for entry in os.scandir(path.parent)
                     if entry.name.startswith("out-") and entry.name.endswith(".bin")]
        except OSError:
            return
        for _, old in sorted(found)[:-_KEEP]:
            with contextlib.suppress(OSError):
                os.unlink(old)


def manifest_path(cache_dir: Path, outputs: Sequence[Path]) -> Path:
    """Where the manifest of a rewrite into ``outputs`` lives (one per output location)."""
    where = "\0".join(map(str, outputs))
    return cache_dir / f"out-{hashlib.blake2b(where.encode(), digest_size=16).hexdigest()}.bin"


def scan_outputs(roots: Sequence[Path]) -> Outputs:
    """Every entry below ``roots`` with its stat fingerprint, in a stable order."""
    found: list[tuple[str, int, int, int, int]] = []

    def visit(directory: str) -> None:
        with os.scandir(directory) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            info = entry.stat(follow_symlinks=False)
            if entry.is_dir(follow_symlinks=False):
                found.append((entry.path, -1, 0, info.st_ino, info.st_mode))
                visit(entry.path)
            else:
                found.append(
                    (entry.path, info.st_size, info.st_mtime_ns, info.st_ino, info.st_mode)
                )

    for root in roots:
        try:
            info = root.stat()
        except OSError:
            found.append((str(root), -2, 0, 0, 0))  # absent
            continue
        found.append((str(root), -1, 0, info.st_ino, info.st_mode))
        visit(str(root))
    return tuple(found)
