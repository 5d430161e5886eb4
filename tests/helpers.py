"""Real parts for the pipeline's tests: git repositories, a package index, free ports.

Imported by test modules as ``helpers`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.e2e import LocalIndex, start_index

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Set as the value of every secret in tests that handle credentials; grep every byte of
# output for it.  Never a real credential.
SENTINEL = "sentinel-" + "9f3c1e7a4b2d8f60"


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in ``cwd`` and return its stripped stdout."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        msg = f"git {' '.join(args)} failed in {cwd}: {proc.stderr.strip()}"
        raise AssertionError(msg)
    return proc.stdout.strip()


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Create ``files`` (relative path to content) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def init_repo(
    path: Path, files: Mapping[str, str | bytes] | None = None, message: str = "chore: init"
) -> Path:
    """A new git repository on branch main with one commit of ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    write_files(path, files or {"README.md": "init\n"})
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


def commit(repo: Path, message: str, files: Mapping[str, str | bytes] | None = None) -> str:
    """Write ``files`` (or touch a counter file) and commit; return the new commit's sha."""
    if files is None:
        counter = repo / ".counter"
        n = int(counter.read_text()) + 1 if counter.exists() else 1
        files = {".counter": str(n)}
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_bare_remote(work: Path, bare: Path) -> Path:
    """Make ``bare`` a bare clone of ``work`` and set it as ``work``'s origin."""
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    git(work, "remote", "remove", "origin", check=False)
    git(work, "remote", "add", "origin", str(bare))
    git(work, "fetch", "-q", "origin")
    git(work, "branch", "-q", "--set-upstream-to=origin/main", "main")
    return bare


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers (any HTTP status), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    msg = f"{url} did not answer within {timeout} s: {last}"
    raise AssertionError(msg)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class PackageIndex:
    """A running pypiserver on 127.0.0.1, with the credentials uploads need."""

    server: LocalIndex
    """The server itself (started by the same code ``nox -s e2e`` uses)."""
    username: str | None
    password: str | None = field(repr=False)  # a failing test's traceback must not show it

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def packages(self) -> Path:
        """The directory it serves and uploads into."""
        return self.server.packages

    @property
    def simple_url(self) -> str:
        """The PEP 503 / PEP 691 simple API root."""
        return self.server.simple_url

    @property
    def upload_url(self) -> str:
        """Where twine uploads (the legacy upload API)."""
        return f"{self.url}/"

    def twine_env(self) -> dict[str, str]:
        """TWINE_* variables for uploading here."""
        env = {"TWINE_REPOSITORY_URL": self.upload_url, "RUNTIME_INDEX_URL": self.simple_url}
        env["TWINE_USERNAME"] = self.username or "anonymous"
        env["TWINE_PASSWORD"] = self.password or "anonymous"
        return env

    def stop(self) -> None:
        """Stop the server and wait for it."""
        self.server.stop()


def start_package_index(
    packages: Path, *, username: str | None = None, password: str | None = None
) -> PackageIndex:
    """Start pypiserver on a free loopback port serving ``packages``.

    With ``username`` and ``password``, uploads need them (the password file and the log go
    beside ``packages``); without, anyone may upload.
    """
    server = start_index(packages.parent, username, password, packages=packages)
    return PackageIndex(server, username, password)


def isolated_env(home: Path) -> dict[str, str]:
    """Environment variables that keep git, pip and XDG tools away from the real user."""
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text(
            "[user]\n\tname = Test Author\n\temail = author@example.invalid\n"
            "[init]\n\tdefaultBranch = main\n"
            '[protocol "file"]\n\tallow = always\n'
            "[advice]\n\tdetachedHead = false\n",
            encoding="utf-8",
        )
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.invalid",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }


def copy_fixture(name: str, dest: Path) -> Path:
    """Copy ``tests/fixtures/<name>`` to ``dest`` and return ``dest``."""
    shutil.copytree(FIXTURES / name, dest)
    return dest


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[Path]:
    """Temporarily change the working directory."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)
