"""The sandbox: a clone of this project with a bare remote, and consumer repositories.

``invoke release`` runs in the clone exactly as CI runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.git import git_out
from tooling.proc import run
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "CONSUMERS",
    "ConsumerSpec",
    "clone_with_remote",
    "expected_version",
    "git",
    "make_consumer",
    "prepare",
    "run_release",
    "sandbox_git_env",
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


def git(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    """Run ``git args`` in ``cwd`` with the sandbox's ``env``; its output, stripped."""
    return git_out(cwd, *args, env=env)


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
    git(work, env, "init", "-q", "-b", "main")
    git(work, env, "add", "-A")
    git(work, env, "commit", "-q", "-m", "chore: init")
    bare = root / f"{spec.name}.git"
    git(root, env, "clone", "-q", "--bare", str(work), str(bare))
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
        git(clone, env, "add", "-A")
        changed = bool(git(clone, env, "status", "--porcelain"))
        if changed:
            git(clone, env, "commit", "-q", "-m", "chore: e2e snapshot of uncommitted changes")
    return changed


def clone_with_remote(source: Path, sandbox: Path, env: Mapping[str, str], *,
                      snapshot: bool = True) -> Path:
    """Clone ``source`` into ``sandbox/project`` with a bare ``sandbox/remote.git`` as origin."""
    clone = sandbox / "project"
    git(sandbox, env, "clone", "-q", "--no-hardlinks", str(source), str(clone))
    # Whatever the source has checked out (a branch, or a detached HEAD in CI) becomes main.
    head = run(["git", "rev-parse", "HEAD"], cwd=source).stdout.strip()
    git(clone, env, "checkout", "-q", "-B", "main", head)
    if snapshot and _snapshot_changes(source, clone, env):
        print("note: the project has uncommitted changes; the sandbox includes them as one commit",
              file=sys.stderr)
    bare = sandbox / "remote.git"
    git(sandbox, env, "init", "-q", "--bare", str(bare))
    git(clone, env, "remote", "set-url", "origin", str(bare))
    git(clone, env, "push", "-q", "origin", "main", "--tags")
    git(clone, env, "branch", "-q", "--set-upstream-to=origin/main", "main")
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
    git(clone, env, "add", "-A")
    git(clone, env, "commit", "-q", "-m", "feat: add an e2e greeting module")
    git(clone, env, "push", "-q", "origin", "main")


def expected_version(current: str) -> str:
    """The version the sandbox's release must make from ``current``."""
    # The sandbox adds one `feat:` commit and a new public module: a minor release.
    major, minor, *_ = current.split(".")
    return f"{major}.{int(minor) + 1}.0"


def prepare(root: Path, sandbox: Path, env: Mapping[str, str]) -> tuple[Path, dict[str, Path]]:
    """Make the clone, its baseline tag, the consumers and the ``feat:`` commit."""
    config = load_config(root)
    clone = clone_with_remote(root, sandbox, env)
    last = config.tag_for(config.version)
    if not git(clone, env, "tag", "--list", last):
        # The version in pyproject counts as released: the API diff needs a baseline.
        git(clone, env, "tag", "-a", "-m", f"{config.name} {config.version}", last)
        git(clone, env, "push", "-q", "origin", last)
    consumers = {
        spec.name: make_consumer(sandbox / "consumers", spec, config.version, config.name, env)
        for spec in CONSUMERS
    }
    write_consumers(clone / "consumers.toml", consumers)
    git(clone, env, "add", "consumers.toml")
    git(clone, env, "commit", "-q", "-m", "chore: list the e2e consumers")
    _feat_commit(clone, config.source.relative_to(config.root).as_posix(), env)
    return clone, consumers


def run_release(clone: Path, env: Mapping[str, str], password: str, *extra: str) -> float:
    """Run ``invoke release --yes`` in the clone (output shown, redacted); its wall time."""
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

