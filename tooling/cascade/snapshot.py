"""What one branch head of a consumer holds: the files the cascade reads, in one batch.

All reads are one `git cat-file --batch` call on a bare clone (or a repository on this machine).
"""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from git.objects.fun import tree_entries_from_data

from tooling.cascade.gitenv import GIT_TIMEOUT, fail_line
from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["FILE_MODES", "TREE_MODE", "Snapshot", "local_git_dir", "read_snapshot"]

TREE_MODE = 0o040000
"""The git mode of a directory entry."""
FILE_MODES = frozenset({0o100644, 0o100755})
"""The git modes of regular files (plain and executable)."""
_KINDS = {0o120000: "symlink", TREE_MODE: "directory", 0o160000: "submodule"}
_WORKFLOW_DIRS = (".github/workflows", ".gitea/workflows")


@dataclass(frozen=True)
class Snapshot:
    """The files the cascade looks at, as one branch head holds them, read in one batch."""

    head: str
    """The branch head's commit sha."""
    trees: Mapping[str, bytes]
    """Raw tree objects by directory path (`""` is the root): every parent of a read file."""
    blobs: Mapping[str, bytes]
    """Contents of the requested paths that are files."""

    def read(self, path: str) -> bytes | None:
        """Return the bytes of ``path``, None when it is not a regular file there."""
        parent, _, name = path.rpartition("/")
        tree = self.trees.get(parent)
        if tree is None or path not in self.blobs:
            return None
        modes = {n: mode for _, mode, n in tree_entries_from_data(tree)}
        return self.blobs[path] if modes.get(name) in FILE_MODES else None

    def kind(self, path: str) -> str | None:
        """Return what ``path`` is: `file`, `symlink`, `directory`, `submodule`; None: absent.

        A path below something that is not a directory (a symlinked folder) says so.
        """
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            parent, name = "/".join(parts[: depth - 1]), parts[depth - 1]
            tree = self.trees.get(parent)
            if tree is None:
                return None
            mode = {n: m for _, m, n in tree_entries_from_data(tree)}.get(name)
            if mode is None:
                return None  # absent: written with its directories
            if depth == len(parts):
                return "file" if mode in FILE_MODES else _KINDS.get(mode, "special entry")
            if mode != TREE_MODE:
                shown = "file" if mode in FILE_MODES else _KINDS.get(mode, "special entry")
                return f"path below the {shown} {'/'.join(parts[:depth])}"
        return None

    def workflows(self) -> tuple[str, ...]:
        """Return the workflow files under `.github/workflows/` and `.gitea/workflows/`."""
        found: list[str] = []
        for directory in _WORKFLOW_DIRS:
            tree = self.trees.get(directory)
            if tree is not None:
                found.extend(
                    f"{directory}/{name}"
                    for _, mode, name in tree_entries_from_data(tree)
                    if mode in FILE_MODES
                )
        return tuple(found)


def read_snapshot(
    git_dir: Path, branch: str, paths: Sequence[str], *, env: Mapping[str, str]
) -> Snapshot:
    """Read ``paths`` and the workflow directories at ``branch`` of the repository ``git_dir``.

    One `git cat-file --batch` answers everything, so reading costs one short process.
    """
    ref = f"refs/heads/{branch}"
    dirs = {""} | set(_WORKFLOW_DIRS)
    for path in paths:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    specs = [ref, *(f"{ref}:{d}" if d else f"{ref}^{{tree}}" for d in sorted(dirs))]
    specs += [f"{ref}:{p}" for p in paths]
    found = _cat_batch(git_dir, specs, env)
    head = found.get(ref)
    if head is None or head[1] != "commit":
        raise ToolingError(f"branch {branch!r} does not exist on the remote")
    trees: dict[str, bytes] = {}
    for directory in dirs:
        got = found.get(f"{ref}:{directory}" if directory else f"{ref}^{{tree}}")
        if got is not None and got[1] == "tree":
            trees[directory] = got[2]
    blobs = {}
    for path in paths:
        got = found.get(f"{ref}:{path}")
        if got is not None and got[1] == "blob":
            blobs[path] = got[2]
    return Snapshot(head[0], trees, blobs)


def _cat_batch(
    git_dir: Path, specs: Sequence[str], env: Mapping[str, str]
) -> dict[str, tuple[str, str, bytes]]:
    """Map each object name in ``specs`` to (sha, type, content); missing ones are left out."""
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        input="".join(f"{s}\n" for s in specs).encode(),
        capture_output=True,
        env={**os.environ, **env},
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if proc.returncode:
        tail = fail_line(proc.stderr.decode("utf-8", errors="replace"))
        raise ToolingError(redact(f"reading {git_dir.name} failed: {tail}"))
    out = proc.stdout
    found: dict[str, tuple[str, str, bytes]] = {}
    pos = 0
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("utf-8", errors="replace").split(" ")
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue  # `<name> missing` / `ambiguous`
        size = int(header[2])
        found[spec] = (header[0], header[1], out[pos : pos + size])
        pos += size + 1
    return found


def local_git_dir(url: str) -> Path | None:
    """Return the git directory of a remote on this machine (path or file://), else None."""
    if url.startswith("file://"):
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    elif "://" not in url and Path(url).is_absolute():
        path = Path(url)
    else:
        return None
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    if (path / ".git" / "HEAD").is_file():
        return path / ".git"
    return None
