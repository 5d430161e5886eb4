"""What one release run works with: the user's options, and the context every step gets."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.release.journal import JOURNAL_DIR, Journal, JsonValue

if TYPE_CHECKING:
    from pathlib import Path

    from tooling.config import Config

__all__ = [
    "ReleaseContext",
    "ReleaseOptions",
    "confirm",
    "journal_text",
]


@dataclass(frozen=True)
class ReleaseOptions:
    """What the user asked for on the command line."""

    dry_run: bool
    """Print the plan and change nothing."""
    bump: str | None
    """``--bump``: raise the bump (never lower it)."""
    prerelease: str | None
    """``--prerelease``: a, b or rc."""
    yes: bool
    """Do not ask for confirmation."""
    json_output: bool
    """Print a machine-readable report on stdout."""
    consumers: str
    """The consumer list."""
    jobs: int | None
    """Parallel workers for the cascade."""
    against: str | None = None
    """``--against``: plan from this ref instead of the last release tag (commits and API)."""
    baseline_version: str | None = None
    """``--baseline-version``: the version the bump applies to, when the old tag cannot say."""
    all_paths: bool = False
    """``--all-paths``: count every commit, not only those that change the runtime."""
    on_merge: bool = False
    """``--on-merge``: read the merged pull requests' labels; hold an unconfirmed major."""
    dev: bool = False
    """``--dev``: publish the next ``X.Y.Z.devN`` of the planned version, no version commit."""
    cascade: bool = False
    """``--cascade`` (with ``--dev``): cascade the dev release to the consumers too."""
    tag: bool = False
    """``--tag`` (with ``--dev``): tag the dev release at HEAD and push the tag."""


@dataclass
class ReleaseContext:
    """One release run: the project, its journal and the options (mutable: it accumulates)."""

    config: Config
    """The project's configuration, read at the start."""
    journal: Journal
    """The release's journal."""
    options: ReleaseOptions
    """The command-line options."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each step took in this run (absent: done in an earlier run)."""

    @property
    def version(self) -> str:
        """Return the version being released."""
        return self.journal.version

    @property
    def work_dir(self) -> Path:
        """Return ``.release/<version>/``: the built files and the build worktree."""
        return self.config.root / JOURNAL_DIR / self.version


def journal_text(values: dict[str, JsonValue], key: str, where: str) -> str:
    """Return the non-empty text ``values[key]`` of a journal, or say it is missing."""
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise ToolingError(f"{where}: {key!r} missing from the release journal")
    return value


def confirm(question: str, options: ReleaseOptions) -> None:
    """Ask ``question`` on the terminal unless ``--yes``; anything but yes cancels."""
    if options.yes:
        return
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
        raise ToolingError("release cancelled at the prompt; nothing was changed")
