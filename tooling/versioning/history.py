"""Reading the history a release is cut from: the last release tag and the commits since it.

``parse_commit`` is pure (a sha and a message in, a ``Commit`` out); the two functions that
run git are short and named for what they read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.git import git, last_release_tag, require_head
from tooling.version import Bump, higher_bump

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CHANGELOG_TYPES",
    "RELEASING_TYPES",
    "Commit",
    "commits_since",
    "last_release_tag",
    "parse_commit",
]

RELEASING_TYPES: dict[str, Bump] = {"feat": "minor", "fix": "patch", "perf": "patch"}
"""Conventional-commit types that release on their own, and the bump each asks for."""
CHANGELOG_TYPES: tuple[str, ...] = ("feat", "fix", "perf")
"""Types that get a changelog entry (breaking changes of any type do too)."""

# https://www.conventionalcommits.org/en/v1.0.0/#specification: type, optional (scope),
# optional !, then ": " and a description.  Types are case-insensitive (rule 15).
_HEADER = re.compile(
    r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<desc>\S.*)"
)
# Rule 16: BREAKING CHANGE is upper case; BREAKING-CHANGE is its synonym.  Read anywhere after
# the header, not only in the last paragraph: a missed break ships as a patch (the incident
# behind the project), a misplaced footer only makes a release louder than needed.
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE: ?(?P<text>.*)$")
# Any other footer token ends a BREAKING CHANGE footer's continuation lines.
_FOOTER = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|BREAKING[ -]CHANGE)(?:: | #)")
_SKIP = re.compile(r"\[skip-release\]", re.IGNORECASE)
_SHORT = 7


@dataclass(frozen=True)
class Commit:
    """One commit as the release reads it."""

    sha: str
    """The full commit hash."""
    short: str
    """The first seven characters of the hash, for changelog entries and plans."""
    subject: str
    """The first line of the message."""
    type: str | None
    """The conventional-commit type, lower case (``feat``, ``fix``...); None if not conventional."""
    scope: str | None
    """The scope in parentheses after the type, if any."""
    description: str
    """The subject after ``type(scope)!: `` (the whole subject if not conventional)."""
    breaking: bool
    """Whether it declares a breaking change (``!`` or a BREAKING CHANGE footer)."""
    breaking_notes: tuple[str, ...]
    """The text of each BREAKING CHANGE / BREAKING-CHANGE footer."""
    skip: bool
    """Whether the message carries ``[skip-release]``: the commit is ignored by the release."""
    bump: Bump | None
    """The bump it asks for: breaking major, feat minor, fix/perf patch, else (or skipped) None."""


def _breaking_notes(body_lines: list[str]) -> tuple[str, ...]:
    notes: list[str] = []
    current: list[str] | None = None
    for line in body_lines:
        match = _BREAKING.match(line)
        if match:
            if current is not None:
                notes.append("\n".join(current).strip())
            current = [match.group("text")]
        elif current is not None:
            if _FOOTER.match(line) or not line.strip():
                notes.append("\n".join(current).strip())
                current = None
            else:
                current.append(line)
    if current is not None:
        notes.append("\n".join(current).strip())
    return tuple(note for note in notes if note)


def parse_commit(sha: str, message: str) -> Commit:
    """Read one commit message the Conventional Commits way; never fails.

    ``fix:``/``perf:`` ask for patch, ``feat:`` for minor, ``type!:`` or a
    ``BREAKING CHANGE:``/``BREAKING-CHANGE:`` footer for major; other types ask for nothing,
    and a message carrying ``[skip-release]`` asks for nothing whatever it says.
    """
    lines = message.replace("\r\n", "\n").strip("\n").split("\n")
    subject = lines[0].strip() if lines else ""
    header = _HEADER.fullmatch(subject)
    kind = header.group("type").lower() if header else None
    scope = None
    if header and header.group("scope") and header.group("scope").strip():
        scope = header.group("scope").strip()
    description = header.group("desc").strip() if header else subject
    notes = _breaking_notes(lines[1:])
    has_bang = bool(header and header.group("bang"))
    breaking = has_bang or bool(notes) or any(_BREAKING.match(line) for line in lines[1:])
    skip = bool(_SKIP.search(message))
    asked: Bump | None = None
    if not skip:
        asked = higher_bump("major" if breaking else None, RELEASING_TYPES.get(kind or ""))
    return Commit(
        sha=sha,
        short=sha[:_SHORT],
        subject=subject,
        type=kind,
        scope=scope,
        description=description,
        breaking=breaking,
        breaking_notes=notes,
        skip=skip,
        bump=asked,
    )


def commits_since(repo: Path, tag: str | None) -> tuple[Commit, ...]:
    """Every commit reachable from HEAD but not from ``tag`` (all of them when None), oldest first.

    Merge commits are read through: the commits a merge brings are listed, the merge itself
    is not, so a merged ``feat:`` counts whatever the merge message says.
    """
    require_head(repo)
    if tag is not None:
        done = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}",
                   check=False)
        if done.returncode != 0:
            raise ToolingError(
                f"{repo}: tag {tag!r} not found; fetch tags (git fetch --tags) or pass "
                "--against with a ref that exists"
            )
    revs = f"refs/tags/{tag}..HEAD" if tag is not None else "HEAD"
    # -z separates commits with NUL, which no commit message can contain.
    out = git(
        repo, "log", "-z", "--no-merges", "--reverse", "--topo-order", "--format=%H%n%B", revs,
        "--", what="git log",
    ).stdout
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        sha, _, message = record.partition("\n")
        commits.append(parse_commit(sha.strip(), message))
    return tuple(commits)
