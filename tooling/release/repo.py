"""Preflight: the repository is clean, on the release branch and up to date to release.

``python -m tooling.release.repo preflight`` runs the same check on its own.  Each git call
goes through ``tooling.release.gitcore``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.release.credentials import publish_auth
from tooling.release.gitcore import (
    branch_contains,
    current_branch,
    fetch_branch,
    git,
    git_out,
    head_commit,
    local_tag_object,
    lost_race,
    remote_refs,
)
from tooling.release.journal import JOURNAL_DIR

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "BUILD_OUTPUTS",
    "Preflight",
    "check_clean_advice",
    "main",
    "preflight",
]


@dataclass(frozen=True)
class Preflight:
    """The repository's state when a release starts."""

    branch: str
    """The current branch, which is the release branch."""
    head: str
    """The commit checked out."""
    remote: str
    """The remote releases are pushed to."""
    ahead: int
    """Commits on the branch not yet on the remote (a resumed release's own commit)."""


def _dirty_paths(repo: Path) -> list[str]:
    done = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=normal")
    entries = iter(done.stdout.split("\0"))
    paths = []
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in status or "C" in status:
            paths.append(next(entries, ""))  # a rename's source follows as its own entry
    return [p for p in paths if p]


# Top-level folders the pipeline writes into: never source, so the advice is to ignore them.
BUILD_OUTPUTS: tuple[str, ...] = ("build", "dist", ".nox", ".release", ".cache")
"""Folders the pipeline writes; `invoke init` adds each to .gitignore."""


def check_clean_advice(dirty: list[str], repo: Path) -> str | None:
    """The one-line refusal for ``dirty`` paths (paths .gitignore covers never get here).

    Build outputs get the advice that fits them: ignore them, never commit them.
    """
    if not dirty:
        return None
    outputs = sorted({p.split("/", 1)[0] for p in dirty if p.split("/", 1)[0] in BUILD_OUTPUTS})
    if outputs:
        named = ", ".join(f"{o}/" for o in outputs)
        return (f"{repo}: {named} not ignored by git: build outputs, never committed; add "
                f"{named} to .gitignore (invoke init adds them) and run the release again")
    shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
    return f"{repo}: uncommitted changes ({shown}); commit or stash them first"


def _check_clean(repo: Path, allowed: Iterable[str]) -> None:
    # git status leaves out every path .gitignore covers; the release's own journal folder
    # is left out even where .gitignore does not name it yet.
    dirty = [p for p in _dirty_paths(repo)
             if p not in set(allowed) and not p.startswith(f"{JOURNAL_DIR}/")]
    problem = check_clean_advice(dirty, repo)
    if problem:
        raise ToolingError(problem)


def _check_remote(repo: Path, remote: str, branch: str, resuming: str | None = None) -> int:
    fetch_branch(repo, remote, branch)
    counts = git_out(repo, "rev-list", "--left-right", "--count", f"HEAD...{remote}/{branch}")
    ahead, behind = (int(n) for n in counts.split())
    if behind and resuming is not None:
        # A resumed release whose tag is already on the remote as another object: another
        # run of this release won the push while this one was stopped.
        theirs = remote_refs(repo, remote, f"refs/tags/{resuming}").get(f"refs/tags/{resuming}")
        ours = local_tag_object(repo, resuming)
        if theirs is not None and ours is not None and theirs != ours:
            raise lost_race(resuming, remote, f"its tag object is {theirs[:12]}, ours {ours[:12]}")
    if behind:
        raise ToolingError(
            f"{branch} is {behind} commit(s) behind {remote}/{branch}; pull first "
            "(or, if a release of yours lost the race, see docs/release.md `Abandoning`)"
        )
    return ahead


def _tag_on_release_branch(repo: Path, remote: str, branch: str, tag: str, head: str) -> None:
    if not branch_contains(repo, remote, branch, head):
        raise ToolingError(
            f"tag {tag} is at {head[:12]}, which is not on {remote}/{branch} (the release "
            "branch, [tool.runtime-build] release-branch): releases are cut from it; merge the "
            f"commit into {branch} and tag there, or delete the tag"
        )


def preflight(
    config: Config,
    *,
    dry_run: bool = False,
    remote: str = "origin",
    allow_dirty: Iterable[str] = (),
    pushed: bool = False,
    tagged: str | None = None,
    resuming: str | None = None,
) -> Preflight:
    """Refuse to release from a dirty tree, another branch, behind the remote or without creds.

    ``allow_dirty`` lists paths a resumed release itself left modified.  ``pushed`` says the
    release being resumed is already on the remote: then only the credentials matter (the
    branch may have moved on since, and the tree is no longer what gets released).
    ``tagged`` names the release tag HEAD is at when a tagged commit is being released (CI on
    a tag push, HEAD detached): the branch check becomes "HEAD is on the remote's release
    branch", and being behind it is fine (later commits are not part of this release).
    ``resuming`` names the tag a resumed, not yet pushed release made: when the remote has
    another object under that name, this run lost the race and says so.
    """
    repo = config.root
    if pushed:
        if not dry_run:
            publish_auth()
        branch = current_branch(repo)
        return Preflight(branch, head_commit(repo), remote, 0)
    _check_clean(repo, allow_dirty)
    if tagged is not None:
        head = head_commit(repo)
        _tag_on_release_branch(repo, remote, config.release_branch, tagged, head)
        if not dry_run:
            publish_auth()
        return Preflight(current_branch(repo), head, remote, 0)
    branch = current_branch(repo)
    if branch != config.release_branch:
        shown = branch or "a detached HEAD"
        raise ToolingError(
            f"on {shown}, not the release branch {config.release_branch!r} "
            f"([tool.runtime-build] release-branch); switch to it first, or set release-branch "
            "to the branch you release from"
        )
    ahead = _check_remote(repo, remote, branch, resuming)
    if not dry_run:
        publish_auth()
    return Preflight(branch, head_commit(repo), remote, ahead)


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.release.repo preflight``: check the repository is ready to release."""
    parser = argparse.ArgumentParser(prog="python -m tooling.release.repo", description=__doc__)
    parser.add_argument("command", choices=["preflight"])
    parser.add_argument("--dry-run", action="store_true", help="do not require credentials")
    args = parser.parse_args(argv)

    def work() -> int:
        state = preflight(load_config(), dry_run=args.dry_run)
        print(f"ready: {state.branch} at {state.head[:12]}, {state.ahead} ahead of "
              f"{state.remote}")
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
