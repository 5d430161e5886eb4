"""The release tag and the atomic push of the version commit with it; only one run wins it.

Each action checks first whether it already happened, so running it again after a crash is
safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.release.gitcore import (
    RaceLostError,
    branch_contains,
    current_branch,
    git,
    git_out,
    local_tag_commit,
    local_tag_object,
    lost_race,
    remote_refs,
    remote_tag_commit,
)
from tooling.secrets import redact

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "PushResult",
    "TagResult",
    "catch_up",
    "create_tag",
    "push_release",
    "tag_message",
]


@dataclass(frozen=True)
class TagResult:
    """The release tag, local."""

    tag: str
    """The tag name."""
    commit: str
    """The commit it points at."""
    created: bool
    """False when it already existed at that commit (an earlier run made it)."""


@dataclass(frozen=True)
class PushResult:
    """The release commit and tag, on the remote."""

    remote: str
    """The remote pushed to."""
    branch: str
    """The branch updated."""
    tag: str
    """The tag pushed."""
    commit: str
    """The commit the remote's branch and tag now point at, read back after pushing."""
    pushed: bool
    """False when the remote already had both (an earlier run pushed them)."""


def tag_message(title: str, release_id: str | None) -> str:
    """The annotated tag's message; ``release_id`` makes two runs' tags distinct objects.

    Two releases of the same version from the same history, identity and second make
    byte-identical commits; without the id their tags would be identical too, and both
    pushes would "succeed".  With it exactly one tag object can be on the remote.
    """
    return f"{title}\n\nrelease-id: {release_id}\n" if release_id else title


def create_tag(repo: Path, tag: str, commit: str, message: str) -> TagResult:
    """Create the annotated ``tag`` at ``commit``; fine if already there, an error elsewhere."""
    existing = local_tag_commit(repo, tag)
    if existing == commit:
        return TagResult(tag, commit, created=False)
    if existing is not None:
        raise ToolingError(
            f"tag {tag} already exists at {existing[:12]}, not at the release commit "
            f"{commit[:12]}; this version was released from other history: never moved; "
            "fetch and merge that history, or release another version (--bump)"
        )
    git(repo, "tag", "--annotate", "--message", message, tag, commit)
    return TagResult(tag, commit, created=True)


def _verify_pushed(repo: Path, remote: str, branch: str, tag: str, commit: str) -> None:
    if remote_tag_commit(repo, remote, tag) != commit or not branch_contains(repo, remote, branch,
                                                                        commit):
        raise ToolingError(
            f"{remote} does not show {tag} and {branch} at {commit[:12]} after the push; "
            "check the remote, then run the release again"
        )


def push_release(repo: Path, remote: str, branch: str, tag: str, commit: str) -> PushResult:
    """Push the version commit and its tag in one atomic push; only one release can win it.

    The remote's tag must be our tag object, not merely a tag at our commit: two runs of the
    same release make distinct tag objects (``tag_message``), so only one of them wins.
    """
    refs = remote_refs(repo, remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}")
    remote_object = refs.get(f"refs/tags/{tag}")
    on_remote = refs.get(f"refs/tags/{tag}^{{}}") or remote_object
    ours = local_tag_object(repo, tag)
    if on_remote is not None and on_remote != commit:
        raise lost_race(tag, remote, f"its tag is at {on_remote[:12]}, not {commit[:12]}")
    if remote_object is not None and ours is not None and remote_object != ours:
        raise lost_race(tag, remote, f"its tag object is {remote_object[:12]}, ours {ours[:12]}")
    on_branch = branch_contains(repo, remote, branch, commit)
    if on_remote == commit and on_branch:
        return PushResult(remote, branch, tag, commit, pushed=False)
    # A commit already on the branch (a tag made by hand on it) needs only its tag pushed;
    # pushing the branch too would be refused as a rewind once the branch has moved on.
    branch_ref = [] if on_branch else [f"{commit}:refs/heads/{branch}"]
    done = git(repo, "push", "--atomic", "--porcelain", remote, *branch_ref,
                f"refs/tags/{tag}:refs/tags/{tag}", check=False, remote=remote)
    if done.returncode:
        lines = redact(f"{done.stdout}\n{done.stderr}").splitlines()
        rejected = any(ln.startswith("!") for ln in lines)
        tail = next((ln for ln in reversed(lines) if ln.strip()), "no output")
        raced = remote_refs(repo, remote, f"refs/tags/{tag}").get(f"refs/tags/{tag}")
        if raced is not None and raced != ours:
            raise lost_race(tag, remote, f"its tag object {raced[:12]} was pushed first")
        if rejected:
            raise RaceLostError(
                f"{remote} refused the atomic push of {branch} and {tag} ({tail.strip()}): "
                "someone pushed or released meanwhile; nothing was pushed"
            )
        raise ToolingError(f"git push to {remote} failed: {tail.strip()}")
    if f"=\trefs/tags/{tag}:refs/tags/{tag}\t" in done.stdout:  # porcelain: "=" is up to date
        # The same tag was already there: another run pushed this very release (the same
        # commit and tag, made in the same second) between our check and our push.  It
        # publishes it; two runs publishing one version would race on the upload.
        raise RaceLostError(
            f"{tag} reached {remote} from another run a moment before ours; that run "
            "publishes it; nothing was pushed from here"
        )
    _verify_pushed(repo, remote, branch, tag, commit)
    return PushResult(remote, branch, tag, commit, pushed=True)


def catch_up(repo: Path, remote: str, branch: str) -> int:
    """Fetch ``branch`` and the tags, and fast-forward the checked-out ``branch`` to the remote.

    An on-merge run releases the release branch as it is when the run holds the release lock,
    so a merge that landed after the one that started the run is not left for a later run to
    find behind a version commit.  Returns how many commits HEAD moved; a branch that has
    diverged from the remote is an error.
    """
    if current_branch(repo) != branch:
        return 0
    git(repo, "fetch", "--quiet", "--tags", remote,
         f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", remote=remote)
    counts = git_out(repo, "rev-list", "--left-right", "--count", f"HEAD...{remote}/{branch}")
    ahead, behind = (int(n) for n in counts.split())
    if behind and ahead:
        raise ToolingError(
            f"{branch} has {ahead} commit(s) not on {remote}/{branch}, which has {behind} not "
            "here; an on-merge release runs on a clean checkout of the release branch"
        )
    if behind:
        git(repo, "merge", "--quiet", "--ff-only", f"{remote}/{branch}")
    return behind
