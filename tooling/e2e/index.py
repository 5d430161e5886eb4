"""A local package index for the sandbox: pypiserver on a free loopback port."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LocalIndex", "start_index"]


@dataclass
class LocalIndex:
    """A running pypiserver on 127.0.0.1."""

    url: str
    """Its base URL."""
    packages: Path
    """The directory it serves and stores uploads in."""
    process: subprocess.Popen[bytes]
    """The server process."""

    @property
    def simple_url(self) -> str:
        """Return the simple API root."""
        return f"{self.url}/simple/"

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_index(
    root: Path,
    username: str | None,
    password: str | None,
    *,
    packages: Path | None = None,
) -> LocalIndex:
    """Start pypiserver on a free loopback port serving ``packages`` (default ``root/packages``).

    With ``username`` and ``password`` uploads need them; with neither, anyone may upload.
    Its log and password file go in ``root``.
    """
    packages = packages or root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    if username and password:
        htpasswd = root / f"htpasswd-{port}"
        # pypiserver reads the {SHA} htpasswd scheme through passlib.
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
        htpasswd.write_text(f"{username}:{{SHA}}{digest}\n", encoding="utf-8")
        auth = ["-a", "update", "-P", str(htpasswd)]
    else:
        auth = ["-a", ".", "-P", "."]
    argv = [sys.executable, "-m", "pypiserver", "run", "-p", str(port), "-i", "127.0.0.1",
            "--disable-fallback", "--hash-algo", "sha256", "--backend", "simple-dir",
            *auth, str(packages)]
    log_path = root / f"pypiserver-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    index = LocalIndex(f"http://127.0.0.1:{port}", packages, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            httpx.get(f"{index.url}/health", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        return index
    index.stop()
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
    raise ToolingError(f"pypiserver did not start on port {port}: {' '.join(tail)}; "
                       "install it with `pip install --group bench`")

