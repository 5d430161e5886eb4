"""Git work on one consumer repository: shallow clone, read files, commit, push, read back.

Each clone is bare and `--depth 1` on one branch: the cascade reads a few blobs and writes one
commit, so no work tree is checked out.  GitPython reads objects through one long-lived
`git cat-file` and writes the new blobs, trees and commit in-process, so a consumer costs a
clone, that reader and a push.  `CASCADE_TOKEN` reaches git through a credential helper that
reads it from the environment at the moment git asks: never an argument, never part of a URL,
scrubbed from every message.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from git import Actor, Commit, Git, Repo
from git.objects.fun import tree_entries_from_data, tree_to_stream
from git.objects.tree import Tree
from gitdb.base import IStream

from tooling.errors import ToolingError
from tooling.proc import redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from git.db import GitCmdObjectDB

__all__ = [
    "NO_TOKEN",
    "Checkout",
    "PushOutcome",
    "cascade_token",
    "clone_branch",
    "git_env",
    "transport_url",
]

# The skip reason for a consumer that needs a token when none is set; converge and drift key on
# it to skip exactly what the cascade skipped.
NO_TOKEN = "needs CASCADE_TOKEN, which is not set"  # noqa: S105 - a message, not a password

# Reads CASCADE_TOKEN from git's environment only when git asks for a credential; the
# token is therefore never in argv, in a config file or in a URL (issue 8).
_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=${CASCADE_USERNAME:-x-access-token}"; echo "password=$CASCADE_TOKEN"; }; f'
)
_TIMEOUT = 300.0
_TREE_MODE = 0o040000
_FILE_MODES = frozenset({0o100644, 0o100755})
_WORKFLOW_DIRS = (".github/workflows", ".gitea/workflows")
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


def cascade_token(token: str | None = None) -> str | None:
    """Return ``token``, else `CASCADE_TOKEN` from the environment; registered as a secret.

    ``""`` means "no token" explicitly.
    """
    value = token if token is not None else os.environ.get("CASCADE_TOKEN", "")
    if value:
        register_secret(value)
    return value or None


def git_env(token: str | None) -> dict[str, str]:
    """Environment for git: never prompt, and hand ``token`` over through a credential helper."""
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        # Abort a transfer that stalls below 1 kB/s for a minute instead of hanging the fan-out.
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
        "GIT_HTTP_LOW_SPEED_TIME": "60",
    }
    if token:
        register_secret(token)
        base = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
        env["CASCADE_TOKEN"] = token
        # An empty value first clears helpers from other config, so no stored credential wins.
        env[f"GIT_CONFIG_KEY_{base}"] = "credential.helper"
        env[f"GIT_CONFIG_VALUE_{base}"] = ""
        env[f"GIT_CONFIG_KEY_{base + 1}"] = "credential.helper"
        env[f"GIT_CONFIG_VALUE_{base + 1}"] = _HELPER
        env["GIT_CONFIG_COUNT"] = str(base + 2)
    return env


def transport_url(url: str) -> str:
    """Return the URL git is given: a local path becomes file:// so `--depth` is honoured."""
    if "://" in url or not Path(url).is_absolute():
        return url
    return Path(url).as_uri()


def _fail_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:", "remote: error", "ERROR")):
            return line
    return lines[-1] if lines else "no output"


def _execute(argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    status, out, err = Git(str(cwd)).execute(
        argv,
        with_extended_output=True,
        with_exceptions=False,
        env=dict(env),
        kill_after_timeout=_TIMEOUT,
    )
    return int(status or 0), str(out), str(err)


class Checkout:
    """A shallow bare clone of one branch of one consumer, read and written in-process."""

    def __init__(self, path: Path, url: str, branch: str, env: Mapping[str, str]) -> None:
        """Open the clone at ``path`` (made by `clone_branch`)."""
        self.path = path
        self.url = url
        self.branch = branch
        self.env = dict(env)
        with _ODB_LOCK:
            self._repo = Repo(str(path))
            self.head: Commit = self._repo.commit(f"refs/heads/{branch}")

    def close(self) -> None:
        """Release the repository handle."""
        with _ODB_LOCK:
            self._repo.close()

    def read(self, path: str) -> bytes | None:
        """Return the bytes of ``path`` at the branch head, None when it is not a file there."""
        with _ODB_LOCK:
            try:
                item = self.head.tree / path
            except KeyError:
                return None
            if item.type != "blob" or item.mode not in _FILE_MODES:
                return None
            return bytes(item.data_stream.read())

    def workflows(self) -> tuple[str, ...]:
        """Return the workflow files under `.github/workflows/` and `.gitea/workflows/`."""
        found: list[str] = []
        with _ODB_LOCK:
            for directory in _WORKFLOW_DIRS:
                try:
                    tree = self.head.tree / directory
                except KeyError:
                    continue
                if isinstance(tree, Tree):
                    found.extend(f"{directory}/{blob.name}" for blob in tree.blobs)
        return tuple(found)

    def commit(self, files: Mapping[str, bytes], message: str) -> str:
        """Write a commit on top of the head replacing ``files``; return its sha (not pushed)."""
        with _ODB_LOCK:
            return self._commit(files, message)

    def _commit(self, files: Mapping[str, bytes], message: str) -> str:
        odb = self._repo.odb
        changes = {tuple(p.split("/")): data for p, data in files.items()}
        tree_sha = _rewrite_tree(odb, self.head.tree.binsha, changes)
        author = _actor(self._repo, "author")
        committer = _actor(self._repo, "committer")
        made = Commit.create_from_tree(
            self._repo,
            Tree(self._repo, tree_sha, _TREE_MODE, ""),
            message,
            parent_commits=[self.head],
            head=False,
            author=author,
            committer=committer,
        )
        return str(made.hexsha)

    def push(self, sha: str, branch: str, *, force: bool = False) -> PushOutcome:
        """Push commit ``sha`` to ``branch`` on the remote; tell a race from a refusal."""
        refspec = f"{'+' if force else ''}{sha}:refs/heads/{branch}"
        status, out, err = _execute(
            ["git", "push", "--porcelain", "origin", refspec], cwd=self.path, env=self.env
        )
        summary = ""
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1].endswith(f":refs/heads/{branch}"):  # noqa: PLR2004
                flag, summary = parts[0], parts[2]
                if flag != "!" and status == 0:
                    return PushOutcome(ok=True, retryable=False, message=summary)
        if not summary:
            summary = _fail_line(err)
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
            raise ToolingError(redact(f"fetch of {self.branch} failed: {_fail_line(err)}"))
        with _ODB_LOCK:
            self._repo.close()
            self._repo = Repo(str(self.path))
            self.head = self._repo.commit(f"refs/heads/{self.branch}")


def clone_branch(url: str, branch: str, dest: Path, *, env: Mapping[str, str]) -> Checkout:
    """Shallow-clone ``branch`` of ``url`` (bare, depth 1) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "git", "clone", "--bare", "--quiet", "--depth", "1", "--single-branch", "--no-tags",
        "--branch", branch, transport_url(url), str(dest),
    ]
    status, _, err = _execute(argv, cwd=dest.parent, env=env)
    if status:
        line = _fail_line(err)
        if "not found in upstream" in line or "Remote branch" in line:
            line = f"branch {branch!r} does not exist on the remote"
        raise ToolingError(redact(f"clone of {_printable(url)} failed: {line}"))
    return Checkout(dest, url, branch, env)


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
    odb: GitCmdObjectDB, tree_sha: bytes, changes: Mapping[tuple[str, ...], bytes]
) -> bytes:
    """Store a copy of tree ``tree_sha`` with the blobs at ``changes`` replaced; return its sha.

    Only existing files are replaced, so entry order (git's sort) is unchanged.
    """
    entries = tree_entries_from_data(odb.stream(tree_sha).read())
    here = {parts[0]: data for parts, data in changes.items() if len(parts) == 1}
    below: dict[str, dict[tuple[str, ...], bytes]] = {}
    for parts, data in changes.items():
        if len(parts) > 1:
            below.setdefault(parts[0], {})[parts[1:]] = data
    rewritten = []
    for old, mode, name in entries:
        sha = old
        if name in here and mode in _FILE_MODES:
            data = here[name]
            sha = odb.store(IStream(b"blob", len(data), BytesIO(data))).binsha
        elif name in below and mode == _TREE_MODE:
            sha = _rewrite_tree(odb, old, below[name])
        rewritten.append((sha, mode, name))
    buffer = BytesIO()
    tree_to_stream(rewritten, buffer.write)
    raw = buffer.getvalue()
    return bytes(odb.store(IStream(b"tree", len(raw), BytesIO(raw))).binsha)
