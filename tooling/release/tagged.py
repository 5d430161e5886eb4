"""Release a commit that is already tagged: CI on a tag push, or a tag pushed by hand.

The ``release`` workflow runs ``invoke release --yes`` when a ``runtime-v*`` tag is pushed, in
a fresh clone (no journal) with HEAD detached at the tag.  There are no commits to plan: the
version is the tag's.  So when HEAD is exactly the commit of the tag for pyproject's
``[project] version``, the release *adopts* it: a journal is started whose plan, version
commit and tag steps are recorded done (the tag exists; the push step too once the remote is
seen to hold the tag at HEAD), and the release goes on with build (at that commit, version
unchanged), smoke, publish, read-back, cascade and converge.  If the index already serves the
version (a local ``invoke release`` pushed the tag and published it), its files are
downloaded and checked against the hashes the index states, build and smoke are recorded as
taken from the index, and the run only re-verifies and cascades: every later step is
idempotent, so nothing is done twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.index import index_url_from_env, read_project
from tooling.release.gitcore import (
    commit_subject_and_parent_time,
    current_branch,
    head_commit,
    local_tag_commit,
    remote_tag_commit,
    tags_at,
)
from tooling.release.journal import JOURNAL_DIR, Journal, JsonValue
from tooling.release.retry import RetryPolicy, download
from tooling.release.versioncommit import release_message

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "TaggedRelease",
    "build_epoch",
    "describe_tagged",
    "find_tagged_release",
    "finished_here",
    "from_index",
    "published_files",
    "start_tagged_journal",
]

_REF_PREFIX = "refs/tags/"
# Downloading an already-published release: a few patient tries.
_DOWNLOAD = RetryPolicy(attempts=3, backoff=0.5)


@dataclass(frozen=True)
class TaggedRelease:
    """A release tag HEAD is exactly at, for pyproject's version."""

    tag: str
    """The tag, ``<tag-prefix><version>``."""
    version: str
    """pyproject's ``[project] version`` at that commit."""
    commit: str
    """The tagged commit, which is HEAD."""
    source: str
    """How it was found: ``GITHUB_REF`` (the ref CI was triggered by) or ``HEAD``."""
    source_date_epoch: int | None
    """Build timestamp ``invoke release`` used for this commit, when it made it (else None)."""


def _pushed_tag(env: Mapping[str, str]) -> str | None:
    """Return the tag CI runs for (``GITHUB_REF=refs/tags/X``), or None."""
    ref = env.get("GITHUB_REF", "").strip()
    if ref.startswith(_REF_PREFIX):
        return ref.removeprefix(_REF_PREFIX)
    if env.get("GITHUB_REF_TYPE", "").strip() == "tag":
        return env.get("GITHUB_REF_NAME", "").strip() or None
    return None


def finished_here(config: Config, found: TaggedRelease) -> bool:
    """Whether this checkout's journal shows ``found`` released to the end already."""
    path = config.root / JOURNAL_DIR / f"{found.version}.json"
    return path.is_file() and Journal.load(path).finished


def _release_epoch(repo: Path, commit: str, version: str) -> int | None:
    """The timestamp ``invoke release`` built ``commit`` with, when it is its version commit.

    ``invoke release`` builds *before* it commits, at the planned base with the new version
    written in, so its files carry the base's commit time.  Building the version commit with
    that same time makes the same bytes, so a release that raced a local one (which pushed
    the tag, then uploaded) finds its files already on the index instead of different ones.
    """
    subject, parent_time = commit_subject_and_parent_time(repo, commit)
    if subject != release_message(version) or parent_time is None:
        return None
    return parent_time


def find_tagged_release(config: Config, env: Mapping[str, str] | None = None
                        ) -> TaggedRelease | None:
    """Return the release tag HEAD is at, if a release should adopt it; else None.

    A pushed tag (``GITHUB_REF``), or a release tag at
    a detached HEAD, that does not match pyproject's version is an error naming both.
    """
    source = os.environ if env is None else env
    repo = config.root
    head = head_commit(repo)
    expected = config.tag_for(config.version)
    pushed = _pushed_tag(source)
    if pushed is not None and pushed.startswith(config.tag_prefix) and pushed != expected:
        raise ToolingError(
            f"tag {pushed} was pushed, but pyproject.toml [project] version at {head[:12]} is "
            f"{config.version} (tag {expected}); tag the commit that sets the version"
        )
    at_expected = local_tag_commit(repo, expected)
    if at_expected != head:
        if pushed == expected:
            shown = at_expected[:12] if at_expected else "nowhere"
            raise ToolingError(
                f"GITHUB_REF names {expected}, but HEAD is {head[:12]} and the tag is at "
                f"{shown}; check out the tag"
            )
        others = [t for t in tags_at(repo, head) if t.startswith(config.tag_prefix)]
        if others and not current_branch(repo):
            raise ToolingError(
                f"HEAD is tagged {', '.join(others)}, but pyproject.toml [project] version at "
                f"{head[:12]} is {config.version} (tag {expected}); tag the commit that sets "
                "the version"
            )
        return None
    return TaggedRelease(expected, config.version, head,
                         "GITHUB_REF" if pushed == expected else "HEAD",
                         _release_epoch(repo, head, config.version))


@contextlib.contextmanager
def build_epoch(plan: Mapping[str, JsonValue]) -> Iterator[None]:
    """Set ``SOURCE_DATE_EPOCH`` to the plan's ``source_date_epoch`` for the duration, if any.

    The build reads ``SOURCE_DATE_EPOCH`` (else the worktree's last commit time); only a
    tagged release's plan names one (``_release_epoch``).
    """
    epoch = plan.get("source_date_epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        yield
        return
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


def describe_tagged(found: TaggedRelease) -> str:
    """Return what adopting ``found`` does, for the prompt and ``--dry-run``."""
    return (f"HEAD {found.commit[:12]} is tag {found.tag} (from {found.source}): release "
            f"{found.version} from it as tagged (build, smoke, publish, read back, cascade, "
            "converge; each step skips what is already done)")


# -- the index ------------------------------------------------------------------------------


def published_files(config: Config, version: str, dest: Path) -> tuple[Path, ...] | None:
    """Download ``version``'s files into ``dest`` when the index serves a wheel and an sdist.

    Each file's bytes must hash to what the index states for it.  Returns None when the
    version is absent or incomplete (then it is built and uploaded as usual).
    """
    index = index_url_from_env()
    if not index:
        raise ToolingError("RUNTIME_INDEX_URL is not set; set it to the index's simple API root")
    served = read_project(index, config.name).files_for(version)
    kinds = {f.filename.endswith(".whl") for f in served}
    if kinds != {True, False}:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in sorted(served, key=lambda f: f.filename):
        path = dest / entry.filename
        sha = download(entry.url, _DOWNLOAD, path)
        if entry.sha256 is not None and entry.sha256 != sha:
            raise ToolingError(
                f"{entry.filename}: the index states sha256 {entry.sha256[:12]}... but serves "
                f"bytes hashing to {sha[:12]}...; fix the index before releasing {version}"
            )
        paths.append(path)
    return tuple(paths)


# -- the journal ----------------------------------------------------------------------------


def _record(journal: Journal, step: str, result: dict[str, JsonValue]) -> None:
    journal.begin(step, {"adopted": journal.tag})
    journal.finish(step, result)


def start_tagged_journal(config: Config, found: TaggedRelease, remote: str = "origin"
                         ) -> Journal:
    """Start the journal of a tagged release: plan, commit and tag done; push if verified.

    The build step then looks at the index first (``published_files``): a version already
    served there is not built again.
    """
    repo, branch = config.root, config.release_branch
    on_remote = remote_tag_commit(repo, remote, found.tag)
    if on_remote is not None and on_remote != found.commit:
        raise ToolingError(
            f"tag {found.tag} is at {found.commit[:12]} here but at {on_remote[:12]} on "
            f"{remote}; fetch the tags (`git fetch --tags --force`) and run again"
        )
    plan: dict[str, JsonValue] = {
        "adopted": found.tag, "source": found.source, "base": found.commit,
        "current": found.version, "next": found.version, "bump": None, "tag": found.tag,
        "commits": [], "changelog": "", "source_date_epoch": found.source_date_epoch,
    }
    journal = Journal.create(config.root / JOURNAL_DIR, found.version, found.tag, plan)
    _record(journal, "plan", {"version": found.version, "tag": found.tag,
                              "base": found.commit, "bump": None, "adopted": True})
    _record(journal, "commit", {"commit": found.commit, "base": found.commit,
                                "message": "(tagged before this run)", "adopted": True})
    _record(journal, "tag", {"tag": found.tag, "commit": found.commit, "created": False})
    if on_remote == found.commit:
        _record(journal, "push", {"remote": remote, "branch": branch, "tag": found.tag,
                                  "commit": found.commit, "pushed": False})
    return journal


def from_index(config: Config, version: str, dist: Path) -> tuple[Path, ...] | None:
    """The files of a tagged release the index already serves, or None to build it.

    The files are downloaded into ``dist`` so that publish (finding them present, byte for
    byte) and read-back verify exactly what is served.
    """
    files = published_files(config, version, dist)
    if files is None:
        return None
    print(f"note: {version} is already published on the index ({', '.join(p.name for p in files)}"
          ", each identical to the sha256 the index states); nothing is built, smoke-tested or "
          "uploaded again: read-back, cascade and converge follow", file=sys.stderr, flush=True)
    return files
