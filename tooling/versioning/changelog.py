"""CHANGELOG.md: one new section per release, written from the commits; old sections untouched.

``render_section`` and ``insert_section`` are pure; ``update_changelog`` writes the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config
from tooling.errors import ToolingError
from tooling.version import validate_version
from tooling.versioning.history import last_release_tag
from tooling.versioning.plan import plan_from_repo
from tooling.versioning.scope import RuntimeScope, scoped_commits

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tooling.versioning.decision import VersionPlan
    from tooling.versioning.history import Commit

__all__ = [
    "DEFAULT_HEADER",
    "has_section",
    "insert_section",
    "main",
    "release_date",
    "render_section",
    "section_commits",
    "update_changelog",
]

DEFAULT_HEADER = (
    "# Changelog\n\n"
    "Every release of molecule-ai-workspace-runtime, newest first. Each section is written by\n"
    "the release from the Conventional Commits since the previous release; sections already\n"
    "here are never rewritten.\n"
)
"""The header a new CHANGELOG.md starts with."""

# Breaking changes first, whatever their type; then the releasing types.
_GROUPS: tuple[tuple[str, Callable[[Commit], bool]], ...] = (
    ("Breaking changes", lambda c: c.breaking),
    ("Features", lambda c: not c.breaking and c.type == "feat"),
    ("Fixes", lambda c: not c.breaking and c.type == "fix"),
    ("Performance", lambda c: not c.breaking and c.type == "perf"),
)
_UNRELEASED = re.compile(r"##\s+\[?unreleased\]?\s*", re.IGNORECASE)
_FENCE = re.compile(r"\s*(```|~~~)")


def _entry(commit: Commit) -> list[str]:
    scope = f"**{commit.scope}:** " if commit.scope else ""
    lines = [f"- {scope}{commit.description} ({commit.short})"]
    # A note can span lines in the footer; one line each keeps the list a list.
    lines.extend(f"  - {' '.join(note.split())}" for note in commit.breaking_notes)
    return lines


def render_section(version: str, commits: Sequence[Commit], *, date: str | None = None) -> str:
    """Render the CHANGELOG.md section for ``version``: breaking, features, fixes, perf.

    Commits carrying ``[skip-release]`` and types that release nothing (docs, chore...) get
    no entry.  Each entry has its scope in bold and its short hash.
    """
    validate_version(version, where="changelog version")
    lines = [f"## {version}" + (f" ({date})" if date else ""), ""]
    listed = [c for c in commits if not c.skip]
    empty = True
    for title, belongs in _GROUPS:
        entries = [c for c in listed if belongs(c)]
        if not entries:
            continue
        empty = False
        lines.extend([f"### {title}", ""])
        for commit in entries:
            lines.extend(_entry(commit))
        lines.append("")
    if empty:
        lines.extend(["No user-facing changes.", ""])
    return "\n".join(lines)


def _headings(lines: list[str]) -> list[int]:
    found = []
    fenced = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            found.append(number)
    return found


def has_section(text: str, version: str) -> bool:
    """Whether ``text`` already has a ``## <version>`` section (``[version]`` and ``v`` too)."""
    lines = text.replace("\r\n", "\n").split("\n")
    pattern = re.compile(rf"##\s+\[?v?{re.escape(version)}(?![0-9A-Za-z.])")
    return any(pattern.match(lines[n]) for n in _headings(lines))


def insert_section(text: str, version: str, section: str) -> str:
    """``text`` with ``section`` inserted above the newest release section.

    Everything already in ``text`` stays byte for byte: the header above the first section,
    an ``## Unreleased`` section (the new one goes below it) and every older section.  When
    ``text`` already has a section for ``version`` it is returned unchanged.
    """
    if not text.strip():
        text = DEFAULT_HEADER
    if has_section(text, version):
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    block = section.rstrip("\n").replace("\n", newline) + newline + newline
    lines = text.splitlines(keepends=True)
    plain = [line.rstrip("\r\n") for line in lines]
    headings = _headings(plain)
    if headings and _UNRELEASED.fullmatch(plain[headings[0]]):
        headings = headings[1:]
    if headings:
        at = sum(len(line) for line in lines[: headings[0]])
        return text[:at] + block + text[at:]
    # No release section yet: append after the header, separated by one blank line.
    body = text if text.endswith(newline) else text + newline
    separator = "" if body.endswith(newline + newline) else newline
    return body + separator + block.rstrip(newline) + newline


def update_changelog(
    path: Path, version: str, commits: Sequence[Commit], *, date: str | None = None
) -> bool:
    """Write the section for ``version`` into ``path`` (created if absent); True if it changed."""
    try:
        old = path.read_bytes().decode("utf-8") if path.exists() else ""
    except UnicodeDecodeError as exc:
        raise ToolingError(f"{path}: not UTF-8; fix the file's encoding", path=path) from exc
    new = insert_section(old, version, render_section(version, commits, date=date))
    if new == old:
        return False
    # Nothing half-written: a temp file beside the target, then an atomic rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new.encode("utf-8"))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def section_commits(
    root: Path, tag_prefix: str, plan: VersionPlan, scope: RuntimeScope | None = None
) -> tuple[Commit, ...]:
    """Return the commits the section for ``plan.next`` lists.

    A pre-release lists the commits since the previous tag; a final release lists everything
    since the previous FINAL release, so 1.3.0 after 1.3.0rc1 and rc2 tells the whole story.
    Only commits that change the runtime (``scope``; None: all of them) are listed.
    """
    if plan.prerelease is not None:
        return plan.commits
    final = last_release_tag(root, tag_prefix, finals_only=True)
    if final == plan.since:
        return plan.commits
    start = f"refs/tags/{final}" if final else None
    return scoped_commits(root, start, scope if plan.scoped else None).counted


def release_date() -> str:
    """Today (UTC) as YYYY-MM-DD, or the day of ``SOURCE_DATE_EPOCH`` when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
        except ValueError as exc:
            raise ToolingError(
                f"SOURCE_DATE_EPOCH: {epoch!r} is not a Unix time; unset it or fix it"
            ) from exc
    return dt.datetime.now(tz=dt.UTC).date().isoformat()


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.versioning.changelog``: print (or ``--write``) the next section."""
    parser = argparse.ArgumentParser(
        prog="python -m tooling.versioning.changelog", description=main.__doc__
    )
    parser.add_argument("--root", type=Path, default=None, help="project root (default: here)")
    parser.add_argument("--version", help="the section's version (default: the planned next)")
    parser.add_argument("--bump", help="raise the planned bump to major, minor or patch")
    parser.add_argument("--prerelease", help="plan a pre-release: a, b or rc")
    parser.add_argument("--write", action="store_true",
                        help="insert it into the CHANGELOG ([tool.runtime-build] changelog)")
    args = parser.parse_args(argv)

    def work() -> int:
        plan = plan_from_repo(args.root, bump=args.bump, prerelease=args.prerelease)
        version = args.version or plan.next
        if version is None:
            print(plan.reason)
            return 0
        date = release_date()
        if not args.write:
            print(render_section(version, plan.commits, date=date), end="")
            return 0
        config = load_config(args.root)
        path = config.changelog or config.root / "CHANGELOG.md"
        changed = update_changelog(path, version, plan.commits, date=date)
        print(f"{path}: {'added' if changed else 'already has'} the {version} section")
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
