"""Git for the release: preflight, the version commit, the annotated tag, the atomic push.

Every git call goes through ``tooling.proc.run``, whose errors are scrubbed of secrets and of
URL userinfo, so a remote URL with a token in it is never echoed.  Each action checks first
whether it already happened, so running it again after a crash is safe.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tomlkit
import tomlkit.exceptions

from tooling.cli import guarded
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.files import write_atomic
from tooling.gitauth import origin_auth_env
from tooling.proc import Completed, run
from tooling.release.credentials import PUBLISH_CREDENTIALS, TRUSTED_PUBLISHING, publish_auth
from tooling.release.journal import JOURNAL_DIR
from tooling.secrets import redact
from tooling.version import validate_version

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "BUILD_OUTPUTS",
    "PUBLISH_CREDENTIALS",
    "TRUSTED_PUBLISHING",
    "Preflight",
    "PushResult",
    "RaceLostError",
    "TagResult",
    "catch_up",
    "check_clean_advice",
    "clear_worktree_command",
    "commit_files",
    "commit_subject_and_parent_time",
    "create_tag",
    "current_branch",
    "drop_local_release",
    "find_release_commit",
    "head_commit",
    "local_tag_commit",
    "local_tag_object",
    "main",
    "preflight",
    "project_version_text",
    "publish_auth",
    "push_release",
    "release_message",
    "remote_tag_commit",
    "remove_worktree",
    "scratch_worktree",
    "set_project_version",
    "tag_message",
    "tags_at",
]

_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "GIT_ASKPASS": "true"}


class RaceLostError(ToolingError):
    """The remote refused the release's push: another release or a merge landed first.

    Its own class because an on-merge run starts over from the new tip instead of failing.
    """


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


def _git(repo: Path, *args: str, check: bool = True, remote: str | None = None) -> Completed:
    """Run git in ``repo``; with ``remote``, authenticated to it by ``$GITHUB_TOKEN`` if set."""
    env = {**os.environ, **_NO_PROMPT}
    if remote is not None:
        env.update(origin_auth_env(repo, remote, env))
    return run(["git", *args], cwd=repo, env=env, check=check, what=f"git {args[0]}")


def _out(repo: Path, *args: str) -> str:
    return _git(repo, *args).stdout.strip()


def head_commit(repo: Path) -> str:
    """Return the full sha of HEAD."""
    return _out(repo, "rev-parse", "HEAD")


def current_branch(repo: Path) -> str:
    """Return the checked-out branch, or ``""`` on a detached HEAD."""
    done = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def tags_at(repo: Path, commit: str) -> list[str]:
    """Return the tags pointing at ``commit``."""
    return _out(repo, "tag", "--points-at", commit).split()


def commit_subject_and_parent_time(repo: Path, commit: str) -> tuple[str, int | None]:
    """Return ``commit``'s subject and its first parent's commit time (None for a root)."""
    subject = _out(repo, "log", "-1", "--format=%s", commit)
    done = _git(repo, "log", "-1", "--format=%ct", f"{commit}^", check=False)
    stamp = done.stdout.strip()
    return subject, int(stamp) if done.returncode == 0 and stamp.isdigit() else None


def _dirty_paths(repo: Path) -> list[str]:
    done = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=normal")
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


def _fetch_branch(repo: Path, remote: str, branch: str) -> None:
    _git(repo, "fetch", "--quiet", "--no-tags", remote,
         f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", remote=remote)


def _check_remote(repo: Path, remote: str, branch: str, resuming: str | None = None) -> int:
    _fetch_branch(repo, remote, branch)
    counts = _out(repo, "rev-list", "--left-right", "--count", f"HEAD...{remote}/{branch}")
    ahead, behind = (int(n) for n in counts.split())
    if behind and resuming is not None:
        # A resumed release whose tag is already on the remote as another object: another
        # run of this release won the push while this one was stopped.
        theirs = _remote_refs(repo, remote, f"refs/tags/{resuming}").get(f"refs/tags/{resuming}")
        ours = local_tag_object(repo, resuming)
        if theirs is not None and ours is not None and theirs != ours:
            raise _lost(resuming, remote, f"its tag object is {theirs[:12]}, ours {ours[:12]}")
    if behind:
        raise ToolingError(
            f"{branch} is {behind} commit(s) behind {remote}/{branch}; pull first "
            "(or, if a release of yours lost the race, see docs/release.md `Abandoning`)"
        )
    return ahead


def _tag_on_release_branch(repo: Path, remote: str, branch: str, tag: str, head: str) -> None:
    if not _contains(repo, remote, branch, head):
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


def release_message(version: str) -> str:
    """Return the version commit's message: a ``chore:``, which never asks for a release."""
    return f"chore(release): {version}"


def project_version_text(text: str, version: str, where: Path) -> str:
    """Return pyproject ``text`` with ``[project] version`` set, every other byte as it was."""
    validate_version(version, where="release version")
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ToolingError(f"{where}: invalid TOML: {exc}", path=where) from exc
    project = document.get("project")
    if not isinstance(project, dict) or "version" not in project:
        raise ToolingError(f"{where}: no [project] version to set", path=where)
    project["version"] = version
    return tomlkit.dumps(document)


def set_project_version(pyproject: Path, version: str) -> None:
    """Set ``[project] version`` in ``pyproject``, leaving every other byte as it was."""
    # Bytes decoded as they are (no newline translation): the build tree gets exactly the
    # pyproject.toml the version commit will hold, CRLF and all.
    try:
        text = pyproject.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolingError(f"{pyproject}: not UTF-8 ({exc.reason}); re-encode it as UTF-8",
                           path=pyproject) from exc
    write_atomic(pyproject, project_version_text(text, version, pyproject))


def find_release_commit(repo: Path, base: str, message: str) -> str | None:
    """HEAD, if it is the version commit an earlier run made on ``base``; else None."""
    head = head_commit(repo)
    if head == base:
        return None
    parent = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^", check=False).stdout.strip()
    subject = _out(repo, "log", "-1", "--format=%s", "HEAD")
    return head if parent == base and subject == message else None


def commit_files(repo: Path, paths: Iterable[str], message: str) -> str:
    """Commit exactly ``paths`` (relative to ``repo``) with ``message``; return the commit."""
    listed = list(paths)
    _git(repo, "add", "--", *listed)
    _git(repo, "commit", "--quiet", "--no-verify", "-m", message, "--", *listed)
    return head_commit(repo)


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
    _git(repo, "worktree", "unlock", str(path), check=False)
    _git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
    shutil.rmtree(path, ignore_errors=True)
    _git(repo, "worktree", "prune", check=False)
    if path.exists() or _registered_worktree(repo, path):
        raise ToolingError(
            f"{path}: a scratch worktree left by an earlier run could not be removed; "
            f"clear it with `{clear_worktree_command(path)}` in {repo}, then run again"
        )


def _registered_worktree(repo: Path, path: Path) -> bool:
    listed = _git(repo, "worktree", "list", "--porcelain", check=False).stdout.splitlines()
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
        _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    except ToolingError as exc:
        raise ToolingError(
            f"{path}: `git worktree add` failed ({exc}); clear it with "
            f"`{clear_worktree_command(path)}` in {repo}, then run again"
        ) from exc
    try:
        yield path
    finally:
        remove_worktree(repo, path)


def local_tag_commit(repo: Path, tag: str) -> str | None:
    """Return the commit the local ``tag`` points at, or None if there is no such tag."""
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}",
                check=False)
    return done.stdout.strip() or None


def tag_message(title: str, release_id: str | None) -> str:
    """The annotated tag's message; ``release_id`` makes two runs' tags distinct objects.

    Two releases of the same version from the same history, identity and second make
    byte-identical commits; without the id their tags would be identical too, and both
    pushes would "succeed".  With it exactly one tag object can be on the remote.
    """
    return f"{title}\n\nrelease-id: {release_id}\n" if release_id else title


def local_tag_object(repo: Path, tag: str) -> str | None:
    """Return the object the local ``tag`` ref names (the tag object itself, not peeled)."""
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False)
    return done.stdout.strip() or None


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
    _git(repo, "tag", "--annotate", "--message", message, tag, commit)
    return TagResult(tag, commit, created=True)


def _remote_refs(repo: Path, remote: str, *refs: str) -> dict[str, str]:
    done = _git(repo, "ls-remote", remote, *refs, remote=remote)
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        found[ref] = sha
    return found


def remote_tag_commit(repo: Path, remote: str, tag: str) -> str | None:
    """Return the commit ``tag`` points at on ``remote`` (peeled), or None if it is absent."""
    refs = _remote_refs(repo, remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}")
    return refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")


def _contains(repo: Path, remote: str, branch: str, commit: str) -> bool:
    _fetch_branch(repo, remote, branch)
    done = _git(repo, "merge-base", "--is-ancestor", commit, f"{remote}/{branch}", check=False)
    return done.returncode == 0


def _verify_pushed(repo: Path, remote: str, branch: str, tag: str, commit: str) -> None:
    if remote_tag_commit(repo, remote, tag) != commit or not _contains(repo, remote, branch,
                                                                        commit):
        raise ToolingError(
            f"{remote} does not show {tag} and {branch} at {commit[:12]} after the push; "
            "check the remote, then run the release again"
        )


def _lost(tag: str, remote: str, what: str) -> RaceLostError:
    return RaceLostError(
        f"another release of {tag} won ({what} on {remote}); nothing was uploaded: this run "
        "stops here; see docs/release.md `Abandoning` to drop its local commit and tag"
    )


def push_release(repo: Path, remote: str, branch: str, tag: str, commit: str) -> PushResult:
    """Push the version commit and its tag in one atomic push; only one release can win it.

    The remote's tag must be our tag object, not merely a tag at our commit: two runs of the
    same release make distinct tag objects (``tag_message``), so only one of them wins.
    """
    refs = _remote_refs(repo, remote, f"refs/tags/{tag}", f"refs/tags/{tag}^{{}}")
    remote_object = refs.get(f"refs/tags/{tag}")
    on_remote = refs.get(f"refs/tags/{tag}^{{}}") or remote_object
    ours = local_tag_object(repo, tag)
    if on_remote is not None and on_remote != commit:
        raise _lost(tag, remote, f"its tag is at {on_remote[:12]}, not {commit[:12]}")
    if remote_object is not None and ours is not None and remote_object != ours:
        raise _lost(tag, remote, f"its tag object is {remote_object[:12]}, ours {ours[:12]}")
    on_branch = _contains(repo, remote, branch, commit)
    if on_remote == commit and on_branch:
        return PushResult(remote, branch, tag, commit, pushed=False)
    # A commit already on the branch (a tag made by hand on it) needs only its tag pushed;
    # pushing the branch too would be refused as a rewind once the branch has moved on.
    branch_ref = [] if on_branch else [f"{commit}:refs/heads/{branch}"]
    done = _git(repo, "push", "--atomic", "--porcelain", remote, *branch_ref,
                f"refs/tags/{tag}:refs/tags/{tag}", check=False, remote=remote)
    if done.returncode:
        lines = redact(f"{done.stdout}\n{done.stderr}").splitlines()
        rejected = any(ln.startswith("!") for ln in lines)
        tail = next((ln for ln in reversed(lines) if ln.strip()), "no output")
        raced = _remote_refs(repo, remote, f"refs/tags/{tag}").get(f"refs/tags/{tag}")
        if raced is not None and raced != ours:
            raise _lost(tag, remote, f"its tag object {raced[:12]} was pushed first")
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
    _git(repo, "fetch", "--quiet", "--tags", remote,
         f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", remote=remote)
    counts = _out(repo, "rev-list", "--left-right", "--count", f"HEAD...{remote}/{branch}")
    ahead, behind = (int(n) for n in counts.split())
    if behind and ahead:
        raise ToolingError(
            f"{branch} has {ahead} commit(s) not on {remote}/{branch}, which has {behind} not "
            "here; an on-merge release runs on a clean checkout of the release branch"
        )
    if behind:
        _git(repo, "merge", "--quiet", "--ff-only", f"{remote}/{branch}")
    return behind


def drop_local_release(repo: Path, tag: str, base: str, message: str) -> None:
    """Undo an unpushed release: delete its local tag and reset its version commit to ``base``."""
    if local_tag_commit(repo, tag) is not None:
        _git(repo, "tag", "--delete", tag)
    if find_release_commit(repo, base, message) is not None:
        _git(repo, "reset", "--quiet", "--hard", base)


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
