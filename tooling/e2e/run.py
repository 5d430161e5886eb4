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
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded, step
from tooling.config import find_root, load_config
from tooling.e2e.index import start_index
from tooling.e2e.onmerge import release_on_merge
from tooling.e2e.readback import E2EResult, find_problems, print_summary, read_back_all
from tooling.e2e.sandbox import CONSUMERS, prepare, run_release, sandbox_git_env
from tooling.errors import ToolingError
from tooling.secrets import register_secret

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["main", "run_e2e"]


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
        clone, consumers = prepare(root, workdir, env)
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
            seconds = run_release(clone, env, password)
        with step("read back: remote tag, index files, consumer pins"):
            result = read_back_all(clone, index, consumers, env, seconds)
        with step("a merged pull request labelled release:minor: invoke release --on-merge"):
            merged = release_on_merge(clone, env, password, result.version)
        result = dataclasses.replace(result, on_merge=merged)
    finally:
        index.stop()
    print_summary(result, before)
    problems = find_problems(result, before, CONSUMERS)
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

