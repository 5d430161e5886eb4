"""Which commits count for the runtime's version: those that change a path it is made from.

In a monorepo the runtime is one folder among many; a ``fix:`` to the web canvas must not
release it.  A commit counts when it changes a file under ``source`` that ``exclude`` does not
leave out, the ``[project]`` table of pyproject.toml (an edit elsewhere in that file does
not count), or a file matching a ``release-paths`` glob (docs/versions.md).

``RuntimeScope.counts`` is pure; ``scoped_commits`` reads the whole window with one
``git log --raw`` and one ``git cat-file --batch`` (for the pyproject.toml versions only),
never a git call per commit.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.git import git
from tooling.versioning.history import Commit, parse_commit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "PYPROJECT",
    "Change",
    "RuntimeScope",
    "ScopedHistory",
    "scope_of",
    "scoped_commits",
    "verify_ref",
]

PYPROJECT = "pyproject.toml"
_ZERO = frozenset("0")


@dataclass(frozen=True)
class Change:
    """One file a commit changed, as ``git log --raw`` lists it."""

    path: str
    """The path, relative to the project root, POSIX style."""
    old_blob: str
    """The blob before the commit (all zeros when the file was added)."""
    new_blob: str
    """The blob after the commit (all zeros when the file was deleted)."""


@dataclass(frozen=True)
class RuntimeScope:
    """The paths the runtime is made from, as root-relative patterns."""

    source: str
    """``source`` relative to the root (``.`` for the root itself)."""
    exclude: tuple[str, ...]
    """``exclude`` globs, relative to ``source`` (gitignore-like, as the stage applies them)."""
    release_paths: tuple[str, ...]
    """Extra root-relative globs whose changes count (``release-paths``)."""

    def in_source(self, path: str) -> bool:
        """Whether ``path`` (root-relative) is a shipped file under ``source``."""
        if self.source != ".":
            if not path.startswith(self.source + "/"):
                return False
            path = path[len(self.source) + 1 :]
        parts = path.split("/")
        for depth in range(len(parts)):
            rel, base = "/".join(parts[: depth + 1]), parts[depth]
            for raw in self.exclude:
                pattern = raw.strip("/")
                if fnmatch.fnmatchcase(rel if "/" in pattern else base, pattern):
                    return False
        return True

    def in_release_paths(self, path: str) -> bool:
        """Whether ``path`` matches a ``release-paths`` glob (``**`` spans folders)."""
        return any(fnmatch.fnmatchcase(path, glob) for glob in self.release_paths)

    def counts(self, paths: Iterable[str], *, project_changed: bool) -> bool:
        """Whether a commit changing ``paths`` changes the runtime.

        ``project_changed`` says whether pyproject.toml's ``[project]`` table differs between
        the commit and its parent (the caller compares the parsed tables).
        """
        for path in paths:
            if path == PYPROJECT:
                if project_changed:
                    return True
            elif self.in_source(path) or self.in_release_paths(path):
                return True
        return False


@dataclass(frozen=True)
class ScopedHistory:
    """The commits of a window, split into those that count and those outside the runtime."""

    counted: tuple[Commit, ...]
    """Commits that change the runtime, oldest first."""
    outside: tuple[Commit, ...]
    """Commits that change nothing the runtime is made from, oldest first."""


def scope_of(config: Config) -> RuntimeScope:
    """The runtime's scope from the project's settings."""
    return RuntimeScope(config.source_rel, config.exclude, config.release_paths)


def verify_ref(repo: Path, ref: str, *, flag: str = "--against") -> str:
    """The commit ``ref`` names, or an error saying how to name another."""
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise ToolingError(
            f"{ref!r} is not a commit in {repo}; fetch it (git fetch --tags) or pass "
            f"{flag} with a tag, branch or sha that exists"
        )
    return done.stdout.strip()


def parse_raw_log(out: str) -> dict[str, list[Change]]:
    """Commit sha -> its changes, from ``git log -z --format=%x00%H --raw --no-abbrev``."""
    changes: dict[str, list[Change]] = {}
    tokens = out.split("\0")
    current: list[Change] | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index].lstrip("\n")
        index += 1
        if token.startswith(":") and current is not None and index < len(tokens):
            fields = token[1:].split()
            path = tokens[index]
            index += 1
            if len(fields) >= 4:
                current.append(Change(path, fields[2], fields[3]))
        elif token:
            current = changes.setdefault(token.strip(), [])
    return changes


def _project_tables(repo: Path, blobs: Sequence[str]) -> dict[str, object]:
    """Blob id -> its parsed ``[project]`` table (None when absent or not valid TOML)."""
    wanted = [b for b in dict.fromkeys(blobs) if set(b) - _ZERO]
    tables: dict[str, object] = {}
    if not wanted:
        return tables
    text = git(repo, "cat-file", "--batch", what="git cat-file --batch",
               stdin="\n".join(wanted) + "\n").stdout
    if "\ufffd" in text:
        # Not UTF-8 somewhere, so byte sizes cannot be trusted: count every such commit.
        return {blob: object() for blob in wanted}
    out = text.encode("utf-8")
    at = 0
    for blob in wanted:
        end = out.index(b"\n", at)
        header = out[at:end].decode("ascii", "replace").split()
        at = end + 1
        if len(header) < 3 or header[1] != "blob":
            tables[blob] = None
            continue
        size = int(header[2])
        body = out[at : at + size]
        at += size + 1
        try:
            tables[blob] = tomllib.loads(body.decode("utf-8")).get("project")
        except tomllib.TOMLDecodeError:
            tables[blob] = object()  # unreadable: differs from anything, so it counts
    return tables


def _project_changed(change: Change, tables: Mapping[str, object]) -> bool:
    return tables.get(change.old_blob) != tables.get(change.new_blob)


def scoped_commits(
    repo: Path, since: str | None, scope: RuntimeScope | None
) -> ScopedHistory:
    """The commits reachable from HEAD but not from ``since``, split by ``scope``.

    ``since`` is any commit-ish (None: the whole history).  Merges are read through as
    ``commits_since`` reads them: the commits a merge brings are listed, the merge is not.
    With ``scope`` None every commit counts (``--all-paths``).
    """
    revs = f"{since}..HEAD" if since is not None else "HEAD"
    messages = git(repo, "log", "-z", "--no-merges", "--reverse", "--topo-order",
                   "--format=%H%n%B", revs, "--", what="git log").stdout
    commits = []
    for record in messages.split("\0"):
        if record.strip():
            sha, _, message = record.partition("\n")
            commits.append(parse_commit(sha.strip(), message))
    if scope is None:
        return ScopedHistory(tuple(commits), ())
    raw = git(repo, "log", "-z", "--no-merges", "--root", "--relative", "--no-renames",
              "--raw", "--no-abbrev", "--format=%x00%H", revs, "--", what="git log --raw").stdout
    changes = parse_raw_log(raw)
    blobs = [b for found in changes.values() for c in found if c.path == PYPROJECT
             for b in (c.old_blob, c.new_blob)]
    tables = _project_tables(repo, blobs)
    counted, outside = [], []
    for commit in commits:
        found = changes.get(commit.sha, [])
        project = any(_project_changed(c, tables) for c in found if c.path == PYPROJECT)
        if scope.counts((c.path for c in found), project_changed=project):
            counted.append(commit)
        else:
            outside.append(commit)
    return ScopedHistory(tuple(counted), tuple(outside))
