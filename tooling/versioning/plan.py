"""The version plan of this repository: the next version, its tag and the files it changes.

It is decided from the current version and the commits since the last release tag.

``plan_from_repo`` reads the repository and calls ``plan_version`` (pure, in
``tooling.versioning.decision``); ``describe_plan`` and ``plan_to_json`` (in
``tooling.versioning.render``) are what ``invoke release --dry-run [--json]`` prints.
Every one of those names stays importable from here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import load_config
from tooling.version import validate_version
from tooling.versioning.decision import (
    VersionPlan,
    plan_version,
)
from tooling.versioning.history import last_release_tag
from tooling.versioning.render import describe_plan, plan_to_json
from tooling.versioning.scope import scope_of, scoped_commits, verify_ref

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tooling.config import Config
    from tooling.version import Bump

__all__ = [
    "files_of",
    "main",
    "plan_from_repo",
]


def files_of(config: Config) -> tuple[str, ...]:
    """What a release changes: pyproject.toml and the CHANGELOG (``changelog``), root-relative."""
    changelog = config.changelog or config.root / "CHANGELOG.md"
    try:
        shown = changelog.relative_to(config.root).as_posix()
    except ValueError:
        shown = changelog.as_posix()
    return ("pyproject.toml", shown)


def plan_from_repo(
    root: Path | None = None,
    *,
    bump: str | None = None,
    prerelease: str | None = None,
    api_floor: Bump | None = None,
    api_breaking: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    against: str | None = None,
    baseline_version: str | None = None,
    all_paths: bool = False,
    notes: Sequence[str] = (),
) -> VersionPlan:
    """Read the version, the last release tag and the commits since it; plan the release.

    ``RELEASE_BUMP`` is read from ``env`` (default: the process environment).  ``against``
    replaces the last release tag as the start of the window (any ref); ``baseline_version``
    replaces ``[project] version`` as the version the bump applies to (for a first release
    after adoption whose old tag cannot be read).  Only commits that change the runtime
    count, unless ``all_paths``.
    """
    config = load_config(root)
    tag = against or last_release_tag(config.root, config.tag_prefix)
    if against is not None:
        verify_ref(config.root, against)
    elif tag is not None:
        verify_ref(config.root, f"refs/tags/{tag}")
    current = config.version
    if baseline_version is not None:
        current = validate_version(baseline_version, where="--baseline-version")
    # A release tag is read as refs/tags/..., so a branch of the same name cannot stand in.
    start = tag if against is not None or tag is None else f"refs/tags/{tag}"
    history = scoped_commits(config.root, start, None if all_paths else scope_of(config))
    environ = os.environ if env is None else env
    return plan_version(
        current,
        history.counted,
        outside=history.outside,
        scoped=not all_paths,
        notes=notes,
        files=files_of(config),
        override=bump,
        env_override=environ.get("RELEASE_BUMP"),
        prerelease=prerelease,
        major_on_zero=config.major_on_zero,
        api_floor=api_floor,
        api_breaking=api_breaking,
        tag_prefix=config.tag_prefix,
        since=tag,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.versioning``: print the version plan (no API floor), change nothing."""
    parser = argparse.ArgumentParser(prog="python -m tooling.versioning", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=None, help="project root (default: here)")
    parser.add_argument("--bump", help="raise the bump to major, minor or patch")
    parser.add_argument("--prerelease", help="make a pre-release: a, b or rc")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--against", metavar="REF",
                        help="read commits since REF instead of the last release tag")
    parser.add_argument("--baseline-version", metavar="X.Y.Z",
                        help="the version REF released, when its tag does not say")
    parser.add_argument("--all-paths", action="store_true",
                        help="count every commit, not only those that change the runtime")
    args = parser.parse_args(argv)

    def work() -> int:
        plan = plan_from_repo(args.root, bump=args.bump, prerelease=args.prerelease,
                              against=args.against, baseline_version=args.baseline_version,
                              all_paths=args.all_paths)
        if args.json:
            print(json.dumps(plan_to_json(plan), indent=2))
        else:
            print(describe_plan(plan))
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
