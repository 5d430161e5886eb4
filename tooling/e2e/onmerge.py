"""The on-merge path: a merged pull request labelled ``release:minor``.

A small local stand-in for the GitHub API serves the pull request; ``invoke release
--on-merge`` must then release the next minor.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from typing import TYPE_CHECKING

from tooling.config import load_config
from tooling.e2e.sandbox import expected_version, git, run_release
from tooling.errors import ToolingError
from tooling.secrets import register_secret

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["release_on_merge"]


_E2E_REPOSITORY = "e2e/runtime"


class _SandboxForge(http.server.ThreadingHTTPServer):
    """The two GitHub REST calls an on-merge release makes, answered as GitHub documents them.

    "List pull requests associated with a commit" and the issue comments of a pull request
    (https://docs.github.com/en/rest/commits/commits, .../rest/issues/comments).
    """

    token: str
    pulls: list[dict[str, object]]
    asked: list[str]


class _ForgeHandler(http.server.BaseHTTPRequestHandler):
    server: _SandboxForge

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        del format, args

    def _reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Answer the pull requests of a commit, and an empty comment list."""
        forge = self.server
        if self.headers.get("Authorization") != f"Bearer {forge.token}":
            self._reply(401, {"message": "Bad credentials"})
            return
        path = self.path.split("?", 1)[0]
        forge.asked.append(path)
        parts = path.strip("/").split("/")
        if parts[:1] == ["repos"] and parts[3:4] == ["commits"] and parts[5:] == ["pulls"]:
            sha = parts[4]
            self._reply(200, [p for p in forge.pulls if sha in p["commits"]  # type: ignore[operator]
                              or p["merge_commit_sha"] == sha])
        elif parts[:1] == ["repos"] and parts[3:4] == ["issues"] and parts[5:] == ["comments"]:
            self._reply(200, [])
        else:
            self._reply(404, {"message": "Not Found"})


def _merge_pull_request(clone: Path, source_dir: str, env: Mapping[str, str]) -> dict[str, object]:
    """Merge a ``fix:`` branch into main with a merge commit, push; the pull request as served."""
    git(clone, env, "checkout", "-q", "-b", "e2e-fix")
    module = clone / source_dir / "e2e_greeting.py"
    module.write_text(module.read_text(encoding="utf-8").replace(
        '"released end to end"', '"released end to end, and on merge"'), encoding="utf-8")
    git(clone, env, "commit", "-q", "-am", "fix: the e2e greeting mentions the merge")
    fix = git(clone, env, "rev-parse", "HEAD")
    git(clone, env, "checkout", "-q", "main")
    git(clone, env, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from e2e-fix",
         "e2e-fix")
    git(clone, env, "push", "-q", "origin", "main")
    return {
        "number": 1, "state": "closed", "html_url": f"https://forge.invalid/{_E2E_REPOSITORY}/pull/1",
        "labels": [{"name": "release:minor"}], "base": {"ref": "main"},
        "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": git(clone, env, "rev-parse",
                                                                       "HEAD"),
        "commits": [fix],
    }


def release_on_merge(clone: Path, env: Mapping[str, str], password: str, before: str) -> str:
    """Run ``invoke release --yes --on-merge`` for a ``fix:`` labelled ``release:minor``."""
    config = load_config(clone)
    pull = _merge_pull_request(clone, config.source.relative_to(config.root).as_posix(), env)
    token = secrets.token_urlsafe(16)
    register_secret(token)
    forge = _SandboxForge(("127.0.0.1", 0), _ForgeHandler)
    forge.token, forge.pulls, forge.asked = token, [pull], []
    threading.Thread(target=forge.serve_forever, daemon=True).start()
    try:
        merge_env = {**env, "GITHUB_API_URL": f"http://127.0.0.1:{forge.server_address[1]}",
                     "GITHUB_REPOSITORY": _E2E_REPOSITORY, "GITHUB_TOKEN": token,
                     "RELEASE_FORGE": "github"}
        run_release(clone, merge_env, password, "--on-merge")
    finally:
        forge.shutdown()
        forge.server_close()
    after = load_config(clone).version
    want = expected_version(before)
    if after != want:
        raise ToolingError(f"e2e: the labelled fix released {after}, expected {want} (a fix: "
                           "labelled release:minor is a minor)")
    if not any(str(pull["commits"][0]) in path for path in forge.asked):  # type: ignore[index]
        raise ToolingError("e2e: the on-merge release never asked the forge for the pull request")
    return f"{before} -> {after} (fix: labelled release:minor on #1)"

