"""``nox -s e2e``: the whole release, for real, in a sandbox; then a summary of what it made.

In a temp directory: a clone of this project with a bare remote, ``pypiserver`` on 127.0.0.1
on a free port (uploads need a password made up for this run), three consumer repositories as
bare repos (one with ``.gitea/workflows/``, one with ``.github/workflows/``, one with neither)
listed in the sandbox's ``consumers.toml``, and a ``feat:`` commit.  Then ``invoke release
--yes`` runs in the clone exactly as CI runs it, and everything it claims is read back from
the remote, the index and each consumer.  Then a ``fix:`` branch is merged with a merge
commit, its pull request labelled ``release:minor`` on a small local stand-in for the GitHub
API, and ``invoke release --yes --on-merge`` must release the next minor.  The smoke venvs
install the runtime's third-party dependencies from the public package index; uploads and
read-back go to the local server.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tooling.cli import guarded, step
from tooling.config import find_root, load_config
from tooling.errors import ToolingError
from tooling.index import read_project
from tooling.proc import run
from tooling.release.upload import RetryPolicy, read_back
from tooling.secrets import redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "ConsumerSpec",
    "E2EResult",
    "LocalIndex",
    "clone_with_remote",
    "main",
    "make_consumer",
    "run_e2e",
    "sandbox_git_env",
    "start_index",
    "write_consumers",
]

_WORKFLOW = """\
name: release
on: {push: {branches: [main]}}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "rebuild the image with $(cat .runtime-version)"
"""


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer repository to create."""

    name: str
    """Its name in consumers.toml."""
    workflows: str | None
    """``.gitea/workflows``, ``.github/workflows``, or None for no release workflow."""


CONSUMERS = (
    ConsumerSpec("gitea-template", ".gitea/workflows"),
    ConsumerSpec("github-template", ".github/workflows"),
    ConsumerSpec("no-workflow-template", None),
)


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


@dataclass(frozen=True)
class E2EResult:
    """What the sandboxed release made, each item read back from where it lives."""

    version: str
    """``[project] version`` in the sandbox clone after the release."""
    tag: str
    """The release tag."""
    tag_commit: str | None
    """The commit the tag points at on the bare remote (None: not there)."""
    files: tuple[tuple[str, str], ...]
    """(file name, sha256 of the downloaded bytes) for each file the index serves."""
    pins: tuple[tuple[str, str], ...]
    """(consumer, first line of its pin file on its remote) for each consumer."""
    release_seconds: float
    """Wall time of ``invoke release``."""
    on_merge: str = ""
    """What ``invoke release --on-merge`` then released for a labelled merge (version, label)."""


def sandbox_git_env(home: Path) -> dict[str, str]:
    """Return git settings that keep the sandbox away from the user's configuration."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = e2e\n\temail = e2e@example.invalid\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n',
        encoding="utf-8",
    )
    return {
        "HOME": str(home), "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@example.invalid", "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    }


def _git(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    return run(["git", *args], cwd=cwd, env=env, what=f"git {args[0]}").stdout.strip()


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


def make_consumer(root: Path, spec: ConsumerSpec, version: str, distribution: str,
                  env: Mapping[str, str]) -> Path:
    """Create consumer ``spec`` as a bare repository pinned to ``version``; return its path."""
    work = root / "work" / spec.name
    work.mkdir(parents=True)
    (work / ".runtime-version").write_text(f"{version}\n", encoding="utf-8")
    (work / "requirements.txt").write_text(f"{distribution}=={version}\nhttpx>=0.27\n",
                                           encoding="utf-8")
    if spec.workflows:
        (work / spec.workflows).mkdir(parents=True)
        (work / spec.workflows / "publish-image.yml").write_text(_WORKFLOW, encoding="utf-8")
    _git(work, env, "init", "-q", "-b", "main")
    _git(work, env, "add", "-A")
    _git(work, env, "commit", "-q", "-m", "chore: init")
    bare = root / f"{spec.name}.git"
    _git(root, env, "clone", "-q", "--bare", str(work), str(bare))
    shutil.rmtree(work)
    return bare


def write_consumers(path: Path, consumers: Mapping[str, Path]) -> None:
    """Write a consumers.toml listing ``consumers`` (name to bare repository)."""
    lines = ["[defaults]", 'branch = "main"', 'mode = "push"', 'pin-file = ".runtime-version"',
             'requirements = ["requirements.txt"]', ""]
    for name, bare in consumers.items():
        lines += ["[[consumer]]", f'name = "{name}"', f'url = "{bare.resolve().as_uri()}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _snapshot_changes(source: Path, clone: Path, env: Mapping[str, str]) -> bool:
    """Copy ``source``'s uncommitted changes into ``clone``; True if there were any."""
    listed = run(["git", "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
                 cwd=source).stdout
    deleted = run(["git", "ls-files", "-z", "--deleted"], cwd=source).stdout
    changed = False
    for rel in filter(None, deleted.split("\0")):
        (clone / rel).unlink(missing_ok=True)
        changed = True
    for rel in filter(None, listed.split("\0")):
        src = source / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
            changed = True
    if changed:
        _git(clone, env, "add", "-A")
        changed = bool(_git(clone, env, "status", "--porcelain"))
        if changed:
            _git(clone, env, "commit", "-q", "-m", "chore: e2e snapshot of uncommitted changes")
    return changed


def clone_with_remote(source: Path, sandbox: Path, env: Mapping[str, str], *,
                      snapshot: bool = True) -> Path:
    """Clone ``source`` into ``sandbox/project`` with a bare ``sandbox/remote.git`` as origin."""
    clone = sandbox / "project"
    _git(sandbox, env, "clone", "-q", "--no-hardlinks", str(source), str(clone))
    # Whatever the source has checked out (a branch, or a detached HEAD in CI) becomes main.
    head = run(["git", "rev-parse", "HEAD"], cwd=source).stdout.strip()
    _git(clone, env, "checkout", "-q", "-B", "main", head)
    if snapshot and _snapshot_changes(source, clone, env):
        print("note: the project has uncommitted changes; the sandbox includes them as one commit",
              file=sys.stderr)
    bare = sandbox / "remote.git"
    _git(sandbox, env, "init", "-q", "--bare", str(bare))
    _git(clone, env, "remote", "set-url", "origin", str(bare))
    _git(clone, env, "push", "-q", "origin", "main", "--tags")
    _git(clone, env, "branch", "-q", "--set-upstream-to=origin/main", "main")
    return clone


def _feat_commit(clone: Path, source_dir: str, env: Mapping[str, str]) -> None:
    module = clone / source_dir / "e2e_greeting.py"
    module.write_text(
        '"""Added by the e2e run: a new public module, so the API diff asks for minor."""\n\n\n'
        "def e2e_greeting() -> str:\n"
        '    """Say that the end-to-end release ran."""\n'
        '    return "released end to end"\n',
        encoding="utf-8",
    )
    _git(clone, env, "add", "-A")
    _git(clone, env, "commit", "-q", "-m", "feat: add an e2e greeting module")
    _git(clone, env, "push", "-q", "origin", "main")


def _expected_version(current: str) -> str:
    # The sandbox adds one `feat:` commit and a new public module: a minor release.
    major, minor, *_ = current.split(".")
    return f"{major}.{int(minor) + 1}.0"


def _prepare(root: Path, sandbox: Path, env: Mapping[str, str]) -> tuple[Path, dict[str, Path]]:
    config = load_config(root)
    clone = clone_with_remote(root, sandbox, env)
    last = config.tag_for(config.version)
    if not _git(clone, env, "tag", "--list", last):
        # The version in pyproject counts as released: the API diff needs a baseline.
        _git(clone, env, "tag", "-a", "-m", f"{config.name} {config.version}", last)
        _git(clone, env, "push", "-q", "origin", last)
    consumers = {
        spec.name: make_consumer(sandbox / "consumers", spec, config.version, config.name, env)
        for spec in CONSUMERS
    }
    write_consumers(clone / "consumers.toml", consumers)
    _git(clone, env, "add", "consumers.toml")
    _git(clone, env, "commit", "-q", "-m", "chore: list the e2e consumers")
    _feat_commit(clone, config.source.relative_to(config.root).as_posix(), env)
    return clone, consumers


def _release(clone: Path, env: Mapping[str, str], password: str, *extra: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "release", "--yes", *extra], cwd=clone, env=dict(env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800, check=False,
    )
    took = time.perf_counter() - start
    output = done.stdout
    for line in redact(output, extra=[password]).splitlines():
        print(f"    | {line}", file=sys.stderr)
    if password in output:
        raise ToolingError("the upload password appeared in the release's output; a secret leaked")
    if done.returncode:
        shown = " ".join(("invoke release --yes", *extra))
        raise ToolingError(f"{shown} failed (exit {done.returncode}); see above")
    return took


# -- the on-merge path: a merged pull request labelled release:minor ------------------------

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
    _git(clone, env, "checkout", "-q", "-b", "e2e-fix")
    module = clone / source_dir / "e2e_greeting.py"
    module.write_text(module.read_text(encoding="utf-8").replace(
        '"released end to end"', '"released end to end, and on merge"'), encoding="utf-8")
    _git(clone, env, "commit", "-q", "-am", "fix: the e2e greeting mentions the merge")
    fix = _git(clone, env, "rev-parse", "HEAD")
    _git(clone, env, "checkout", "-q", "main")
    _git(clone, env, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from e2e-fix",
         "e2e-fix")
    _git(clone, env, "push", "-q", "origin", "main")
    return {
        "number": 1, "state": "closed", "html_url": f"https://forge.invalid/{_E2E_REPOSITORY}/pull/1",
        "labels": [{"name": "release:minor"}], "base": {"ref": "main"},
        "merged_at": "2026-01-01T00:00:00Z", "merge_commit_sha": _git(clone, env, "rev-parse",
                                                                       "HEAD"),
        "commits": [fix],
    }


def _release_on_merge(clone: Path, env: Mapping[str, str], password: str, before: str) -> str:
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
        _release(clone, merge_env, password, "--on-merge")
    finally:
        forge.shutdown()
        forge.server_close()
    after = load_config(clone).version
    want = _expected_version(before)
    if after != want:
        raise ToolingError(f"e2e: the labelled fix released {after}, expected {want} (a fix: "
                           "labelled release:minor is a minor)")
    if not any(str(pull["commits"][0]) in path for path in forge.asked):  # type: ignore[index]
        raise ToolingError("e2e: the on-merge release never asked the forge for the pull request")
    return f"{before} -> {after} (fix: labelled release:minor on #1)"


def _remote_pin(bare: Path, env: Mapping[str, str]) -> str:
    text = _git(bare, env, "show", "main:.runtime-version")
    return text.splitlines()[0].strip() if text else ""


def _read_back_all(clone: Path, index: LocalIndex, consumers: Mapping[str, Path],
                   env: Mapping[str, str], seconds: float) -> E2EResult:
    config = load_config(clone)
    tag = config.tag_for(config.version)
    peeled = _git(clone, env, "ls-remote", "origin", f"refs/tags/{tag}^{{}}")
    listing = read_project(index.simple_url, config.name)
    built = sorted((clone / ".release" / config.version / "dist").iterdir())
    verified = read_back(built, index_url=index.simple_url, policy=RetryPolicy(3, 0.2))
    served = {f.filename for f in listing.files_for(config.version)}
    if served != {p.name for p in built}:
        raise ToolingError(f"the index serves {sorted(served)}, the release built "
                           f"{sorted(p.name for p in built)}")
    return E2EResult(
        version=config.version,
        tag=tag,
        tag_commit=peeled.split()[0] if peeled else None,
        files=tuple((f.filename, f.sha256) for f in verified.files),
        pins=tuple((name, _remote_pin(bare, env)) for name, bare in consumers.items()),
        release_seconds=round(seconds, 1),
    )


def _check(result: E2EResult, before: str, consumers: Sequence[ConsumerSpec]) -> list[str]:
    problems = []
    if result.version != _expected_version(before):
        problems.append(f"version {result.version}, expected {_expected_version(before)}")
    if result.tag_commit is None:
        problems.append(f"tag {result.tag} is not on the remote")
    pins = dict(result.pins)
    for spec in consumers:
        want = result.version if spec.workflows else before
        if pins.get(spec.name) != want:
            problems.append(f"consumer {spec.name} pins {pins.get(spec.name)}, expected {want}")
    return problems


def _print_summary(result: E2EResult, before: str) -> None:
    rows = [("version", f"{before} -> {result.version}"),
            ("tag", f"{result.tag} at {(result.tag_commit or 'MISSING')[:12]} on the remote")]
    rows += [(f"index: {name}", f"sha256 {sha}") for name, sha in result.files]
    skipped = {s.name for s in CONSUMERS if not s.workflows}
    rows += [(f"pin: {name}", pin + (" (no release workflow: skipped)" if name in skipped else ""))
             for name, pin in result.pins]
    rows.append(("invoke release", f"{result.release_seconds}s"))
    if result.on_merge:
        rows.append(("invoke release --on-merge", result.on_merge))
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def run_e2e(workdir: Path, *, pythons: str | None = None) -> E2EResult:
    """Release this project for real inside ``workdir`` and read back everything it made."""
    root = find_root()
    before = load_config(root).version
    password = secrets.token_urlsafe(24)
    register_secret(password)
    env = {**os.environ, **sandbox_git_env(workdir / "home")}
    # The sandbox clone runs its own tooling/, with nothing of this shell's release settings.
    for name in ("CASCADE_TOKEN", "GITHUB_ACTIONS", "GITEA_ACTIONS", "RELEASE_BUMP",
                 "TWINE_REPOSITORY", "SOURCE_DATE_EPOCH", "PYTHONPATH", "RELEASE_CRASH_AFTER"):
        env.pop(name, None)
    with step("sandbox: clone, bare remote, consumers, feat commit"):
        clone, consumers = _prepare(root, workdir, env)
    with step("pypiserver on 127.0.0.1"):
        index = start_index(workdir / "index", "e2e", password)
    try:
        env.update({
            "TWINE_REPOSITORY_URL": f"{index.url}/", "TWINE_USERNAME": "e2e",
            "TWINE_PASSWORD": password, "RUNTIME_INDEX_URL": index.simple_url,
        })
        if pythons:
            env["RUNTIME_SMOKE_PYTHONS"] = pythons
        with step("invoke release --yes (in the sandbox clone)"):
            seconds = _release(clone, env, password)
        with step("read back: remote tag, index files, consumer pins"):
            result = _read_back_all(clone, index, consumers, env, seconds)
        with step("a merged pull request labelled release:minor: invoke release --on-merge"):
            merged = _release_on_merge(clone, env, password, result.version)
        result = dataclasses.replace(result, on_merge=merged)
    finally:
        index.stop()
    _print_summary(result, before)
    problems = _check(result, before, CONSUMERS)
    if problems:
        raise ToolingError("e2e: " + "; ".join(problems))
    return result


@contextlib.contextmanager
def _workdir(given: Path | None, keep: bool) -> Iterator[Path]:
    if given is not None:
        if given.exists() and any(given.iterdir()):
            raise ToolingError(f"{given}: not empty; give an empty or new directory")
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    path = Path(tempfile.mkdtemp(prefix="runtime-e2e-"))
    try:
        yield path
    finally:
        if keep:
            print(f"sandbox kept at {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.e2e``: the whole release against a local index and local consumers."""
    parser = argparse.ArgumentParser(prog="nox -s e2e --", description=__doc__)
    parser.add_argument("--workdir", type=Path, help="sandbox directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp sandbox afterwards")
    parser.add_argument("--python", help="smoke only on these Pythons (e.g. 3.11; default: all)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    def work() -> int:
        pythons = args.python or os.environ.get("RUNTIME_SMOKE_PYTHONS") or None
        with _workdir(args.workdir, args.keep) as workdir:
            result = run_e2e(workdir, pythons=pythons)
        if args.json:
            print(json.dumps(dataclasses.asdict(result), indent=2))
        print("e2e ok", file=sys.stderr)
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
