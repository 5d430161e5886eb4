"""Running git for the release, and reading its refs: HEAD, branches, tags, the remote's.

Every git call goes through ``tooling.proc.run``, whose errors are scrubbed of secrets and of
URL userinfo, so a remote URL with a token in it is never echoed.  A push refused because
another release or a merge landed first raises ``RaceLostError``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.git import git as kernel_git
from tooling.gitauth import origin_auth_env

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.proc import Completed

__all__ = [
    "RaceLostError",
    "branch_contains",
    "commit_subject_and_parent_time",
    "current_branch",
    "fetch_branch",
    "git",
    "git_out",
    "head_commit",
    "local_tag_commit",
    "local_tag_object",
    "lost_race",
    "remote_refs",
    "remote_tag_commit",
    "tags_at",
]


class RaceLostError(ToolingError):
    """The remote refused the release's push: another release or a merge landed first.

    Its own class because an on-merge run starts over from the new tip instead of failing.
    """


def lost_race(tag: str, remote: str, what: str) -> RaceLostError:
    """The error for a release of ``tag`` whose push another run won (``what`` says how)."""
    return RaceLostError(
        f"another release of {tag} won ({what} on {remote}); nothing was uploaded: this run "
        "stops here; see docs/release.md `Abandoning` to drop its local commit and tag"
    )


def git(repo: Path, *args: str, check: bool = True, remote: str | None = None) -> Completed:
    """Run git in ``repo``; with ``remote``, authenticated to it by ``$GITHUB_TOKEN`` if set."""
    env = dict(os.environ)
    if remote is not None:
        env.update(origin_auth_env(repo, remote, env))
    return kernel_git(repo, *args, check=check, env=env, what=f"git {args[0]}")


def git_out(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout, stripped."""
    return git(repo, *args).stdout.strip()


def head_commit(repo: Path) -> str:
    """Return the full sha of HEAD."""
    return git_out(repo, "rev-parse", "HEAD")


def current_branch(repo: Path) -> str:
    """Return the checked-out branch, or ``""`` on a detached HEAD."""
    done = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def tags_at(repo: Path, commit: str) -> list[str]:
    """Return the tags pointing at ``commit``."""
    return git_out(repo, "tag", "--points-at", commit).split()


def commit_subject_and_parent_time(repo: Path, commit: str) -> tuple[str, int | None]:
    """Return ``commit``'s subject and its first parent's commit time (None for a root)."""
    subject = git_out(repo, "log", "-1", "--format=%s", commit)
    done = git(repo, "log", "-1", "--format=%ct", f"{commit}^", check=False)
    stamp = done.stdout.strip()
    return subject, int(stamp) if done.returncode == 0 and stamp.isdigit() else None


def local_tag_commit(repo: Path, tag: str) -> str | None:
    """Return the commit the local ``tag`` points at, or None if there is no such tag."""
    done = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}",
                check=False)
    return done.stdout.strip() or None


def local_tag_object(repo: Path, tag: str) -> str | None:
    """Return the object the local ``tag`` ref names (the tag object itself, not peeled)."""
    done = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False)
    return done.stdout.strip() or None


def fetch_branch(repo: Path, remote: str, branch: str) -> None:
    """Fetch ``branch`` of ``remote`` into its remote-tracking ref (no tags)."""
    git(repo, "fetch", "--quiet", "--no-tags", remote,
         f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", remote=remote)


def remote_refs(repo: Path, remote: str, *refs: str) -> dict[str, str]:
    """Return ``refs`` as ``remote`` has them: ref name -> sha (absent refs are left out)."""
    done = git(repo, "ls-remote", remote, *refs, remote=remote)
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        found[ref] = sha
    return found


def remote_tag_commit(repo: Path, remote: str, tag: str) -> str | None:
    """Return the commit ``tag`` points at on ``remote`` (peeled), or None if it is absent."""
    refs = remote_refs(repo, remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}")
    return refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")


def branch_contains(repo: Path, remote: str, branch: str, commit: str) -> bool:
    """Whether ``commit`` is on ``remote``'s ``branch`` (fetched first)."""
    fetch_branch(repo, remote, branch)
    done = git(repo, "merge-base", "--is-ancestor", commit, f"{remote}/{branch}", check=False)
    return done.returncode == 0
