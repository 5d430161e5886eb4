"""The scratch worktree a release builds in, removed whatever state a killed run left it in."""

from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.release.gitcore import git

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "clear_worktree_command",
    "remove_worktree",
    "scratch_worktree",
]


def clear_worktree_command(path: Path) -> str:
    """The commands that clear a scratch worktree at ``path`` by hand, whatever its state."""
    return (f"git worktree unlock {path}; git worktree remove --force --force {path}; "
            f"rm -rf {path}; git worktree prune")


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove the scratch worktree at ``path`` whatever state a killed run left it in.

    A ``git worktree add`` killed early leaves the worktree locked ("initializing"): ``remove``
    refuses a locked one and ``prune`` skips it, so it is unlocked first, removed with the
    double force, its directory deleted, and its administrative entry pruned.
    """
    git(repo, "worktree", "unlock", str(path), check=False)
    git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
    shutil.rmtree(path, ignore_errors=True)
    git(repo, "worktree", "prune", check=False)
    if path.exists() or _registered_worktree(repo, path):
        raise ToolingError(
            f"{path}: a scratch worktree left by an earlier run could not be removed; "
            f"clear it with `{clear_worktree_command(path)}` in {repo}, then run again"
        )


def _registered_worktree(repo: Path, path: Path) -> bool:
    listed = git(repo, "worktree", "list", "--porcelain", check=False).stdout.splitlines()
    wanted = str(path.resolve()) if path.exists() else str(path)
    return any(ln.removeprefix("worktree ") in {wanted, str(path)} for ln in listed
               if ln.startswith("worktree "))


@contextlib.contextmanager
def scratch_worktree(repo: Path, commit: str, path: Path) -> Iterator[Path]:
    """Check ``commit`` out at ``path`` (a linked worktree) for the duration; then remove it.

    One left behind by a killed run is removed first, whatever its state.
    """
    remove_worktree(repo, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    except ToolingError as exc:
        raise ToolingError(
            f"{path}: `git worktree add` failed ({exc}); clear it with "
            f"`{clear_worktree_command(path)}` in {repo}, then run again"
        ) from exc
    try:
        yield path
    finally:
        remove_worktree(repo, path)
