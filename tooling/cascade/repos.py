"""Git work on one consumer repository: shallow clone, read files, commit, push, read back.

Each clone is bare and `--depth 1` on one branch: the cascade reads a few blobs and writes one
commit, so no work tree is checked out.  All reads are one `git cat-file --batch` call
(``tooling.cascade.snapshot``); the new blobs, trees and commit are written in-process through
GitPython; so a consumer costs a clone, that read and a push.  The token reaches git as
``tooling.cascade.gitenv`` describes.  The names of both stay importable from here.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

from git import Actor, Commit, Git, Repo
from git.objects.fun import tree_entries_from_data, tree_to_stream
from git.objects.tree import Tree
from gitdb.base import IStream

from tooling.cascade.gitenv import (
    GIT_TIMEOUT,
    fail_line,
    transport_url,
)
from tooling.cascade.snapshot import FILE_MODES, TREE_MODE, read_snapshot
from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from git.db import GitCmdObjectDB

__all__ = [
    "Checkout",
    "PushOutcome",
    "clone_branch",
]

_NEW_FILE_MODE = 0o100644
# GitPython's object layer shares process-wide state (`Repo.close` walks gitdb's global
# memory-map manager while other threads may add to it), so every in-process object access
# holds this lock; clone, fetch and push run outside it.
_ODB_LOCK = threading.RLock()
_RETRYABLE = re.compile(
    r"fetch first|non-fast-forward|stale info|failed to update ref|cannot lock ref|"
    r"incorrect old value"
)


@dataclass(frozen=True)
class PushOutcome:
    """How one push went."""

    ok: bool
    """The remote ref now points at the pushed commit."""
    retryable: bool
    """Rejected because the remote moved meanwhile: fetch, re-apply and push again."""
    message: str
    """Git's own one-line account (redacted), for the table."""


def _execute(argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    status, out, err = Git(str(cwd)).execute(
        argv,
        with_extended_output=True,
        with_exceptions=False,
        env=dict(env),
        kill_after_timeout=GIT_TIMEOUT,
    )
    return int(status or 0), str(out), str(err)


class Checkout:
    """A shallow bare clone of one branch of one consumer: read in a batch, written in-process."""

    def __init__(
        self, path: Path, url: str, branch: str, env: Mapping[str, str], paths: Sequence[str]
    ) -> None:
        """Open the clone at ``path`` (made by `clone_branch`) and read ``paths`` from it."""
        self.path = path
        self.url = url
        self.branch = branch
        self.env = dict(env)
        self.paths = tuple(paths)
        self.snapshot = read_snapshot(path, branch, self.paths, env=self.env)

    @property
    def head(self) -> str:
        """The branch head's commit sha as cloned (or last fetched)."""
        return self.snapshot.head

    def read(self, path: str) -> bytes | None:
        """Return the bytes of ``path`` (one of the paths read), None when it is not a file."""
        return self.snapshot.read(path)

    def kind(self, path: str) -> str | None:
        """Return what ``path`` (one of the paths read) is; None when absent."""
        return self.snapshot.kind(path)

    def workflows(self) -> tuple[str, ...]:
        """Return the workflow files under `.github/workflows/` and `.gitea/workflows/`."""
        return self.snapshot.workflows()

    def close(self) -> None:
        """Nothing stays open between calls; kept so callers can always close."""

    def commit(
        self, files: Mapping[str, bytes], message: str, author: tuple[str, str] | None = None
    ) -> str:
        """Write a commit on top of the head with ``files`` (replaced or added); return its sha.

        ``author`` (name, email) is used as author and committer when given; else git's own
        identity, else a bot one.  Not pushed.
        """
        with _ODB_LOCK:
            repo = Repo(str(self.path))
            try:
                changes = {tuple(p.split("/")): data for p, data in files.items()}
                tree_sha = _rewrite_tree(repo.odb, self.snapshot.trees, "", changes)
                made = Commit.create_from_tree(
                    repo,
                    Tree(repo, tree_sha, TREE_MODE, ""),
                    message,
                    parent_commits=[Commit(repo, bytes.fromhex(self.head))],
                    head=False,
                    author=Actor(*author) if author else _actor(repo, "author"),
                    committer=Actor(*author) if author else _actor(repo, "committer"),
                )
                return str(made.hexsha)
            finally:
                repo.close()

    def push(self, sha: str, branch: str, *, force: bool = False) -> PushOutcome:
        """Push commit ``sha`` to ``branch`` on the remote; tell a race from a refusal."""
        refspec = f"{'+' if force else ''}{sha}:refs/heads/{branch}"
        status, out, err = _execute(
            ["git", "push", "--porcelain", "origin", refspec], cwd=self.path, env=self.env
        )
        summary = ""
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1].endswith(f":refs/heads/{branch}"):
                flag, summary = parts[0], parts[2]
                if flag != "!" and status == 0:
                    return PushOutcome(ok=True, retryable=False, message=summary)
        if not summary:
            summary = fail_line(err)
        remote = [ln.removeprefix("remote:").strip() for ln in err.splitlines()]
        said = [ln for ln in remote if ln and not ln.startswith(("error:", "hint:", "To "))]
        hook = f"; remote said: {said[-1]}" if said and "remote rejected" in summary else ""
        message = redact(f"push to {branch} failed: {summary}{hook}")
        return PushOutcome(ok=False, retryable=bool(_RETRYABLE.search(summary)), message=message)

    def refresh(self) -> None:
        """Fetch the branch head again (someone pushed meanwhile) and re-open the clone."""
        refspec = f"+refs/heads/{self.branch}:refs/heads/{self.branch}"
        status, _, err = _execute(
            ["git", "fetch", "--depth", "1", "--update-head-ok", "--no-tags", "origin", refspec],
            cwd=self.path, env=self.env,
        )
        if status:
            raise ToolingError(redact(f"fetch of {self.branch} failed: {fail_line(err)}"))
        self.snapshot = read_snapshot(self.path, self.branch, self.paths, env=self.env)


def clone_branch(
    url: str, branch: str, dest: Path, *, env: Mapping[str, str], paths: Sequence[str] = ()
) -> Checkout:
    """Shallow-clone ``branch`` of ``url`` (bare, depth 1) into ``dest`` and read ``paths``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "git", "clone", "--bare", "--quiet", "--depth", "1", "--single-branch", "--no-tags",
        "--branch", branch, transport_url(url), str(dest),
    ]
    status, _, err = _execute(argv, cwd=dest.parent, env=env)
    if status:
        line = fail_line(err)
        if "not found in upstream" in line or "Remote branch" in line:
            line = f"branch {branch!r} does not exist on the remote"
        raise ToolingError(redact(f"clone of {_printable(url)} failed: {line}"))
    return Checkout(dest, url, branch, env, paths)


def _printable(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def _actor(repo: Repo, role: str) -> Actor:
    """Pick the author or committer: git's own environment and config, else a bot identity."""
    reader = repo.config_reader()
    has_name = os.environ.get(f"GIT_{role.upper()}_NAME") or reader.has_option("user", "name")
    if not has_name:
        return Actor("molecule-runtime-cascade", "runtime-cascade@users.noreply.invalid")
    return Actor.author(reader) if role == "author" else Actor.committer(reader)


def _rewrite_tree(
    odb: GitCmdObjectDB,
    trees: Mapping[str, bytes],
    directory: str,
    changes: Mapping[tuple[str, ...], bytes],
) -> bytes:
    """Store a copy of tree ``directory`` with the blobs at ``changes`` written; return its sha.

    Existing files are replaced; missing files (and directories) are added, and the entries are
    put in git's order (a directory sorts as its name plus '/').  Objects are written as loose
    objects in-process.
    """
    here = {parts[0]: data for parts, data in changes.items() if len(parts) == 1}
    below: dict[str, dict[tuple[str, ...], bytes]] = {}
    for parts, data in changes.items():
        if len(parts) > 1:
            below.setdefault(parts[0], {})[parts[1:]] = data
    rewritten = []
    present = set()
    existing = tree_entries_from_data(trees[directory]) if directory in trees else []
    for old, mode, name in existing:
        present.add(name)
        sha = old
        path = f"{directory}/{name}" if directory else name
        if name in here and mode in FILE_MODES:
            data = here[name]
            sha = odb.store(IStream(b"blob", len(data), BytesIO(data))).binsha
        elif name in below and mode == TREE_MODE:
            sha = _rewrite_tree(odb, trees, path, below[name])
        rewritten.append((sha, mode, name))
    for name, data in here.items():
        if name not in present:
            sha = odb.store(IStream(b"blob", len(data), BytesIO(data))).binsha
            rewritten.append((sha, _NEW_FILE_MODE, name))
    for name, nested in below.items():
        if name not in present:
            path = f"{directory}/{name}" if directory else name
            rewritten.append((_rewrite_tree(odb, trees, path, nested), TREE_MODE, name))
    rewritten.sort(key=lambda e: e[2] + "/" if e[1] == TREE_MODE else e[2])
    buffer = BytesIO()
    tree_to_stream(rewritten, buffer.write)
    raw = buffer.getvalue()
    return bytes(odb.store(IStream(b"tree", len(raw), BytesIO(raw))).binsha)
