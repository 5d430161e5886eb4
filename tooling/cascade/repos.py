"""Git work on one consumer repository: shallow clone, read files, commit, push, read back.

Each clone is bare and `--depth 1` on one branch: the cascade reads a few blobs and writes one
commit, so no work tree is checked out.  All reads are one `git cat-file --batch` call; the new
blobs, trees and commit are written in-process through GitPython; so a consumer costs a clone,
that read and a push.  `CASCADE_TOKEN` reaches git through a credential helper that reads it
from the environment at the moment git asks: never an argument, never part of a URL, scrubbed
from every message.
"""

from __future__ import annotations

import os
import re
import subprocess
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
from tooling.gitauth import append_config_env
from tooling.secrets import redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from git.db import GitCmdObjectDB

__all__ = [
    "NO_TOKEN",
    "Checkout",
    "PushOutcome",
    "Snapshot",
    "cascade_token",
    "clone_branch",
    "git_env",
    "local_git_dir",
    "read_snapshot",
    "transport_url",
]

# The skip reason for a consumer that needs a token when none is set; converge and drift key on
# it to skip exactly what the cascade skipped.
NO_TOKEN = "needs CASCADE_TOKEN, which is not set"

# Reads CASCADE_TOKEN from git's environment only when git asks for a credential; the
# token is therefore never in argv, in a config file or in a URL.
_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'echo "username=${CASCADE_USERNAME:-x-access-token}"; echo "password=$CASCADE_TOKEN"; }; f'
)
_TIMEOUT = 300.0
_TREE_MODE = 0o040000
_FILE_MODES = frozenset({0o100644, 0o100755})
_NEW_FILE_MODE = 0o100644
_KINDS = {0o120000: "symlink", _TREE_MODE: "directory", 0o160000: "submodule"}
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
        env["CASCADE_TOKEN"] = token
        # An empty value first clears helpers from other config, so no stored credential wins.
        helpers = [("credential.helper", ""), ("credential.helper", _HELPER)]
        env.update(append_config_env(os.environ, helpers))
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
        return self.blobs[path] if modes.get(name) in _FILE_MODES else None

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
                return "file" if mode in _FILE_MODES else _KINDS.get(mode, "special entry")
            if mode != _TREE_MODE:
                shown = "file" if mode in _FILE_MODES else _KINDS.get(mode, "special entry")
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
                    if mode in _FILE_MODES
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
        timeout=_TIMEOUT,
        check=False,
    )
    if proc.returncode:
        tail = _fail_line(proc.stderr.decode("utf-8", errors="replace"))
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
                    Tree(repo, tree_sha, _TREE_MODE, ""),
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
        line = _fail_line(err)
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
        if name in here and mode in _FILE_MODES:
            data = here[name]
            sha = odb.store(IStream(b"blob", len(data), BytesIO(data))).binsha
        elif name in below and mode == _TREE_MODE:
            sha = _rewrite_tree(odb, trees, path, below[name])
        rewritten.append((sha, mode, name))
    for name, data in here.items():
        if name not in present:
            sha = odb.store(IStream(b"blob", len(data), BytesIO(data))).binsha
            rewritten.append((sha, _NEW_FILE_MODE, name))
    for name, nested in below.items():
        if name not in present:
            path = f"{directory}/{name}" if directory else name
            rewritten.append((_rewrite_tree(odb, trees, path, nested), _TREE_MODE, name))
    rewritten.sort(key=lambda e: e[2] + "/" if e[1] == _TREE_MODE else e[2])
    buffer = BytesIO()
    tree_to_stream(rewritten, buffer.write)
    raw = buffer.getvalue()
    return bytes(odb.store(IStream(b"tree", len(raw), BytesIO(raw))).binsha)
