"""Compare two public APIs: what broke, what was added, and the bump that requires.

Pure: two ApiModels (and the ignore table) in, an ApiDiff out.  What counts:

- breaking: an object removed; a parameter removed, renamed, moved among the positionals,
  made required or changed to a kind that accepts less; a required parameter added; a return
  or attribute annotation changed (not merely added or dropped); a constant's value changed
  (compared by meaning); a base class no longer inherited; an object changed kind;
- added: a new module, class, function, method or attribute; a new optional parameter.

Not reported: private names, keyword-only parameters reordered, defaults, parameter
annotations, docstrings and bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.api.values import shown_value, value_meaning
from tooling.version import Bump, bump_rank

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tooling.api.model import ApiModel, ApiObject, ApiParameter

__all__ = [
    "ADDED_KINDS",
    "BREAKING_KINDS",
    "ApiDiff",
    "Change",
    "IgnoredChange",
    "classify",
    "compare_api",
    "underbump_message",
]

BREAKING_KINDS = (
    "removed",
    "kind-changed",
    "parameter-removed",
    "parameter-renamed",
    "parameter-moved",
    "parameter-required",
    "parameter-kind",
    "required-parameter-added",
    "return-annotation",
    "attribute-annotation",
    "attribute-value",
    "base-removed",
)
"""Every kind of breaking change, as it appears in reports."""
ADDED_KINDS = (
    "added-module",
    "added-class",
    "added-function",
    "added-method",
    "added-attribute",
    "added-reexport",
    "optional-parameter-added",
)
"""Every kind of addition, as it appears in reports."""

_POSITIONAL = frozenset({"positional-only", "positional or keyword"})
_VAR_POSITIONAL = "variadic positional"
_VAR_KEYWORD = "variadic keyword"
# How a caller can pass a parameter of each kind; a change that loses a way breaks callers.
_ACCEPTS = {
    "positional-only": frozenset({"position"}),
    "positional or keyword": frozenset({"position", "keyword"}),
    "keyword-only": frozenset({"keyword"}),
}
# Kinds users reach the same way: a property read is an attribute read.
_ACCESS = {
    "property": "attribute",
    "type alias": "attribute",
}
_ADDED_KIND = {
    "module": "added-module",
    "class": "added-class",
    "function": "added-function",
    "async function": "added-function",
    "method": "added-method",
    "async method": "added-method",
    "external": "added-reexport",
}
_CALLABLE = frozenset({"function", "async function", "method", "async method", "class"})
_IMPLICIT_BASES = frozenset({"object", "builtins.object"})
_MAX_NAMED = 10


@dataclass(frozen=True)
class Change:
    """One change to the public API."""

    path: str
    """The public dotted path of the object changed."""
    kind: str
    """One of BREAKING_KINDS or ADDED_KINDS."""
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

    @property
    def breaking(self) -> bool:
        """Whether callers written against the old API can fail."""
        return self.kind in BREAKING_KINDS


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
    notes: tuple[str, ...] = ()
    """How the old side was read, when not from its own settings (a bootstrap)."""


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _covered(path: str, roots: set[str]) -> bool:
    # True when an ancestor path is already reported (removed, added or changed kind).
    parent = _parent(path)
    while parent:
        if parent in roots:
            return True
        parent = _parent(parent)
    return False


# (change kind, old, new, message) before a location is attached.
_Finding = tuple[str, str | None, str | None, str]
_VARIADIC = frozenset({_VAR_POSITIONAL, _VAR_KEYWORD})


def _star(param: ApiParameter) -> str:
    return {_VAR_POSITIONAL: "*", _VAR_KEYWORD: "**"}.get(param.kind, "") + param.name


class _ParamDiff:
    """The parameter changes of one callable, old signature against new."""

    def __init__(self, path: str, old: Sequence[ApiParameter], new: Sequence[ApiParameter]) -> None:
        self.path = path
        self.old, self.new = old, new
        self.old_named = {p.name: p for p in old if p.kind not in _VARIADIC}
        self.new_named = {p.name: p for p in new if p.kind not in _VARIADIC}
        self.old_pos = [p.name for p in old if p.kind in _POSITIONAL]
        self.new_pos = [p.name for p in new if p.kind in _POSITIONAL]
        self.new_kinds = {p.kind for p in new}
        self.renamed_to: set[str] = set()

    def findings(self) -> list[_Finding]:
        out: list[_Finding] = []
        for p in self.old:
            q = self.new_named.get(p.name)
            if p.kind in _VARIADIC:
                if p.kind not in self.new_kinds:
                    out.append(("parameter-removed", _star(p), None,
                                f"parameter `{_star(p)}` of {self.path} was removed"))
            elif q is None:
                out += self.missing(p)
            else:
                out += self.changed(p, q)
        old_kinds = {p.kind for p in self.old}
        for q in self.new:
            if q.name in self.old_named or q.name in self.renamed_to:
                continue
            if q.kind in _VARIADIC and q.kind in old_kinds:
                continue
            if q.required:
                out.append(("required-parameter-added", None, q.name,
                            f"required parameter `{q.name}` added to {self.path}"))
            else:
                shown = _star(q) if q.kind in _VARIADIC else f"{q.name}={q.default}"
                out.append(("optional-parameter-added", None, shown,
                            f"optional parameter `{_star(q)}` added to {self.path}"))
        return out

    def missing(self, p: ApiParameter) -> list[_Finding]:
        index = self.old_pos.index(p.name) if p.name in self.old_pos else -1
        other = self.new_pos[index] if 0 <= index < len(self.new_pos) else None
        if other is not None and other not in self.old_named:
            self.renamed_to.add(other)
            # Callers cannot name a positional-only parameter: renaming it breaks nobody.
            if p.kind == "positional-only" and self.new_named[other].kind == "positional-only":
                return []
            return [("parameter-renamed", p.name, other,
                     f"parameter `{p.name}` of {self.path} was renamed to `{other}`")]
        if p.kind == "keyword-only" and _VAR_KEYWORD in self.new_kinds:
            return []  # still accepted through **kwargs
        message = f"parameter `{p.name}` of {self.path} was removed"
        return [("parameter-removed", p.name, None, message)]

    def changed(self, p: ApiParameter, q: ApiParameter) -> list[_Finding]:
        out: list[_Finding] = []
        if not _ACCEPTS[p.kind] <= _ACCEPTS[q.kind]:
            out.append(("parameter-kind", f"{p.name}: {p.kind}", f"{q.name}: {q.kind}",
                        f"parameter `{p.name}` of {self.path} changed from {p.kind} to {q.kind}"))
        elif p.kind in _POSITIONAL and q.kind in _POSITIONAL:
            was, now = self.old_pos.index(p.name) + 1, self.new_pos.index(q.name) + 1
            if was != now:
                message = f"parameter `{p.name}` of {self.path} moved from position {was} to {now}"
                out.append(("parameter-moved", f"{p.name} at {was}", f"{q.name} at {now}", message))
        if not p.required and q.required:
            out.append(("parameter-required", f"{p.name}={p.default}", q.name,
                        f"parameter `{p.name}` of {self.path} is now required"))
        return out


def _object_changes(old: ApiObject, new: ApiObject) -> list[Change]:
    path = new.path
    where = (new.signature_file, new.signature_line)
    found: list[_Finding] = []
    if old.parameters is not None and new.parameters is not None:
        found += _ParamDiff(path, old.parameters, new.parameters).findings()
    if old.returns and new.returns and old.returns != new.returns:
        kind = "return-annotation" if new.kind in _CALLABLE else "attribute-annotation"
        what = "return annotation" if kind == "return-annotation" else "annotation"
        found.append((kind, old.returns, new.returns,
                      f"{what} of {path} changed from `{old.returns}` to `{new.returns}`"))
    if (old.value is not None and new.value is not None and old.value != new.value
            and value_meaning(old) != value_meaning(new)):
        was, now = shown_value(old), shown_value(new)
        found.append(("attribute-value", was, now,
                      f"value of {path} changed from `{was}` to `{now}`"))
    for base in old.bases:
        if base in _IMPLICIT_BASES or base in new.bases or base in new.ancestors:
            continue
        found.append(("base-removed", base, ", ".join(new.bases) or None,
                      f"class {path} no longer inherits from {base}"))
    return [Change(path, kind, o, n, where[0], where[1], msg) for kind, o, n, msg in found]


def compare_api(old: ApiModel, new: ApiModel) -> list[Change]:
    """Every change from ``old`` to ``new``, breaking and additive, in path order."""
    changes: list[Change] = []
    roots: set[str] = set()
    for path in sorted(old.objects.keys() & new.objects.keys()):
        was, now = old.objects[path], new.objects[path]
        if _ACCESS.get(was.kind, was.kind) != _ACCESS.get(now.kind, now.kind):
            roots.add(path)
            changes.append(Change(path, "kind-changed", was.kind, now.kind, now.file, now.line,
                                  f"{path} changed from {was.kind} to {now.kind}"))
            continue
        changes.extend(_object_changes(was, now))
    removed = sorted(old.objects.keys() - new.objects.keys())
    added = sorted(new.objects.keys() - old.objects.keys())
    # The package itself never hides its contents: with no release yet, list what it holds.
    gone = (roots | set(removed)) - {new.package, old.package}
    for path in removed:
        if _covered(path, gone):
            continue
        obj = old.objects[path]
        changes.append(Change(path, "removed", obj.kind, None, obj.file, obj.line,
                              f"{obj.kind} {path} was removed"))
    fresh = (roots | set(added)) - {new.package, old.package}
    for path in added:
        if _covered(path, fresh):
            continue
        obj = new.objects[path]
        kind = _ADDED_KIND.get(obj.kind, "added-attribute")
        changes.append(Change(path, kind, None, obj.kind, obj.file, obj.line,
                              f"{obj.kind} {path} was added"))
    return sorted(changes, key=lambda c: (c.path, c.kind, c.old or "", c.new or ""))


def _match_ignore(path: str, package: str, ignore: Mapping[str, str]) -> str | None:
    for key in sorted(ignore, key=len, reverse=True):
        full = key if key == package or key.startswith(f"{package}.") else f"{package}.{key}"
        if path == full or path.startswith(f"{full}."):
            return key
    return None


def classify(
    changes: Iterable[Change],
    *,
    package: str,
    against: str | None,
    ignore: Mapping[str, str],
) -> ApiDiff:
    """Split ``changes`` into breaking, added and ignored, and work out the required bump."""
    breaking: list[Change] = []
    added: list[Change] = []
    ignored: list[IgnoredChange] = []
    used: set[str] = set()
    for change in changes:
        if not change.breaking:
            added.append(change)
            continue
        key = _match_ignore(change.path, package, ignore)
        if key is None:
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
