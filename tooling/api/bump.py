"""The bump an API comparison requires: breaking, added, changed or ignored, and why.

Pure: the changes ``tooling.api.compare`` found, the api-ignore table and the stable imports in;
an ApiDiff out.  ``underbump_message`` explains a declared bump below the required one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tooling.api.changes import ApiDiff, ChangeKind, IgnoredChange, Severity
from tooling.version import Bump, bump_rank

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from tooling.api.changes import Change

__all__ = ["classify", "underbump_message"]

_MAX_NAMED = 10


def _match_ignore(path: str, package: str, ignore: Mapping[str, str]) -> str | None:
    for key in sorted(ignore, key=len, reverse=True):
        full = key if key == package or key.startswith(f"{package}.") else f"{package}.{key}"
        if path == full or path.startswith(f"{full}."):
            return key
    return None


def _removes_stable(change: Change, stable: Collection[str]) -> bool:
    # Removing a module removes every stable import below it too.
    return change.kind is ChangeKind.REMOVED and any(
        s == change.path or s.startswith(f"{change.path}.") for s in stable
    )


def classify(
    changes: Iterable[Change],
    *,
    package: str,
    against: str | None,
    ignore: Mapping[str, str],
    stable: Collection[str] = (),
) -> ApiDiff:
    """Split ``changes`` into breaking, added, changed and ignored; work out the required bump.

    ``stable`` holds the public paths declared in ``stable-imports``: their removal is breaking
    whatever an api-ignore entry says.
    """
    breaking: list[Change] = []
    added: list[Change] = []
    changed: list[Change] = []
    ignored: list[IgnoredChange] = []
    used: set[str] = set()
    for change in changes:
        severity = change.severity
        if severity is Severity.ADDED:
            added.append(change)
            continue
        if severity is Severity.CHANGED:
            changed.append(change)
            continue
        key = _match_ignore(change.path, package, ignore)
        if key is None or _removes_stable(change, stable):
            breaking.append(change)
        else:
            used.add(key)
            ignored.append(IgnoredChange(change, key, ignore[key]))
    bump: Bump = "major" if breaking else "minor" if added else "patch"
    return ApiDiff(
        package=package,
        against=against,
        required_bump=bump,
        breaking=tuple(breaking),
        added=tuple(added),
        ignored=tuple(ignored),
        unused_ignores=tuple(sorted(set(ignore) - used)),
        changed=tuple(changed),
    )


def underbump_message(diff: ApiDiff, declared: Bump) -> str | None:
    """Why ``declared`` is too low for ``diff`` (one line naming the changes), or None if fine."""
    if bump_rank(declared) >= bump_rank(diff.required_bump):
        return None
    reasons = diff.breaking or diff.added
    named = "; ".join(f"{c.path} ({c.kind})" for c in reasons[:_MAX_NAMED])
    more = f"; and {len(reasons) - _MAX_NAMED} more" if len(reasons) > _MAX_NAMED else ""
    what = "breaking change" if diff.breaking else "addition"
    way_out = (
        "release with --bump major, or list each deliberate break in "
        "[tool.runtime-build.api-ignore] with a reason"
        if diff.breaking
        else "release with --bump minor"
    )
    return (
        f"declared bump {declared} is below the required {diff.required_bump}: "
        f"{len(reasons)} {what}{'s' if len(reasons) != 1 else ''} since "
        f"{diff.against or 'the start'}: {named}{more}; {way_out}"
    )
