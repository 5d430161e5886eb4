"""What a comparison of two public APIs reports: each change, its kind and severity, the diff.

``tooling.api.compare`` finds the changes; ``tooling.api.bump`` sorts them into an ApiDiff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tooling.version import Bump

__all__ = [
    "ADDED_KINDS",
    "BREAKING_KINDS",
    "ApiDiff",
    "Change",
    "ChangeKind",
    "IgnoredChange",
    "Severity",
]


class Severity(Enum):
    """What a change does to the required bump."""

    BREAKING = "breaking"
    """Callers written against the old API can fail: major."""
    ADDED = "added"
    """New API: minor."""
    CHANGED = "changed"
    """Reported, but callers keep working: patch."""


class ChangeKind(StrEnum):
    """Every kind of change, named as it appears in reports (the one place for these names)."""

    REMOVED = "removed"
    KIND_CHANGED = "kind-changed"
    PARAMETER_REMOVED = "parameter-removed"
    PARAMETER_RENAMED = "parameter-renamed"
    PARAMETER_MOVED = "parameter-moved"
    PARAMETER_REQUIRED = "parameter-required"
    PARAMETER_KIND = "parameter-kind"
    REQUIRED_PARAMETER_ADDED = "required-parameter-added"
    RETURN_ANNOTATION = "return-annotation"
    ATTRIBUTE_ANNOTATION = "attribute-annotation"
    ATTRIBUTE_VALUE = "attribute-value"
    BASE_REMOVED = "base-removed"
    ADDED_MODULE = "added-module"
    ADDED_CLASS = "added-class"
    ADDED_FUNCTION = "added-function"
    ADDED_METHOD = "added-method"
    ADDED_ATTRIBUTE = "added-attribute"
    ADDED_REEXPORT = "added-reexport"
    OPTIONAL_PARAMETER_ADDED = "optional-parameter-added"
    CHANGED_VALUE = "changed-value"

    @property
    def severity(self) -> Severity:
        """Whether this kind breaks callers, adds API, or only changes data."""
        if self is ChangeKind.CHANGED_VALUE:
            return Severity.CHANGED
        if self.value.startswith("added-") or self is ChangeKind.OPTIONAL_PARAMETER_ADDED:
            return Severity.ADDED
        return Severity.BREAKING


BREAKING_KINDS = tuple(k.value for k in ChangeKind if k.severity is Severity.BREAKING)
"""Every kind of breaking change, as it appears in reports."""
ADDED_KINDS = tuple(k.value for k in ChangeKind if k.severity is Severity.ADDED)
"""Every kind of addition, as it appears in reports."""



@dataclass(frozen=True)
class Change:
    """One change to the public API."""

    path: str
    """The public dotted path of the object changed, as users import it."""
    kind: ChangeKind
    """What changed (its severity decides the bump)."""
    old: str | None
    """What it was (a kind, parameter, annotation or value), None for an addition."""
    new: str | None
    """What it is now, None for a removal."""
    file: str
    """The file it points at, relative to the repository (the REF's file for a removal)."""
    line: int
    """The line in ``file``."""
    message: str
    """One sentence saying what changed."""
    element: str | None = None
    """For a value change: where in the value old and new first differ (``[3]["name"]``)."""
    still_at: str | None = None
    """For a removal: a public path the same object is still importable from, if any."""

    @property
    def severity(self) -> Severity:
        """Breaking, added, or changed (patch)."""
        return ChangeKind(self.kind).severity

    @property
    def breaking(self) -> bool:
        """Whether callers written against the old API can fail."""
        return self.severity is Severity.BREAKING


@dataclass(frozen=True)
class IgnoredChange:
    """A breaking change declared deliberate in ``[tool.runtime-build.api-ignore]``."""

    change: Change
    """The breaking change."""
    entry: str
    """The api-ignore key that matched it."""
    reason: str
    """The reason given there."""


@dataclass(frozen=True)
class ApiDiff:
    """The public API of the working tree compared with a release."""

    package: str
    """The import package compared."""
    against: str | None
    """The git ref compared against; None when there is no release tag yet (all is added)."""
    required_bump: Bump
    """major if anything breaks, minor if anything was added, else patch."""
    breaking: tuple[Change, ...]
    """Breaking changes not covered by an api-ignore entry."""
    added: tuple[Change, ...]
    """Additions."""
    ignored: tuple[IgnoredChange, ...]
    """Breaking changes covered by an api-ignore entry; they do not raise the bump."""
    unused_ignores: tuple[str, ...] = ()
    """api-ignore keys that matched no change (stale entries to remove)."""
    changed: tuple[Change, ...] = field(default=())
    """Changes that keep callers working (a data table's contents): they need a patch only."""
    notes: tuple[str, ...] = ()
    """How the old side was read, when not from its own settings (a bootstrap)."""
