"""Compare two public APIs: what broke, what was added, what changed.

Pure: two ApiModels in, the list of Changes out (``tooling.api.bump`` turns it into an ApiDiff
and the bump it requires).  What counts:

- breaking: an object removed; a parameter removed, renamed, moved among the positionals,
  made required or changed to a kind that accepts less; a required parameter added; a return
  or attribute annotation changed (not merely added or dropped); a constant's value changed
  (compared by meaning); a base class no longer inherited; an object changed kind;
- added: a new module, class, function, method or attribute; a new optional parameter.

Not reported: private names, keyword-only parameters reordered, defaults, parameter
annotations, docstrings and bodies.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tooling.api.changes import Change, ChangeKind
from tooling.api.values import value_change

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from tooling.api.model import ApiModel, ApiObject, ApiParameter

# ApiDiff is re-exported for callers outside tooling.api that import it from here.
__all__ = ["compare_api"]

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
    "module": ChangeKind.ADDED_MODULE,
    "class": ChangeKind.ADDED_CLASS,
    "function": ChangeKind.ADDED_FUNCTION,
    "async function": ChangeKind.ADDED_FUNCTION,
    "method": ChangeKind.ADDED_METHOD,
    "async method": ChangeKind.ADDED_METHOD,
    "external": ChangeKind.ADDED_REEXPORT,
}
_CALLABLE = frozenset({"function", "async function", "method", "async method", "class"})
_IMPLICIT_BASES = frozenset({"object", "builtins.object"})


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


# (change kind, old, new, message) of a parameter, before a location is attached.
_ParamFinding = tuple[ChangeKind, str | None, str | None, str]
# The same with the element of a value that differs.
_Finding = tuple[ChangeKind, str | None, str | None, str, str | None]
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

    def findings(self) -> list[_ParamFinding]:
        out: list[_ParamFinding] = []
        for p in self.old:
            q = self.new_named.get(p.name)
            if p.kind in _VARIADIC:
                if p.kind not in self.new_kinds:
                    out.append((ChangeKind.PARAMETER_REMOVED, _star(p), None,
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
                out.append((ChangeKind.REQUIRED_PARAMETER_ADDED, None, q.name,
                            f"required parameter `{q.name}` added to {self.path}"))
            else:
                shown = _star(q) if q.kind in _VARIADIC else f"{q.name}={q.default}"
                out.append((ChangeKind.OPTIONAL_PARAMETER_ADDED, None, shown,
                            f"optional parameter `{_star(q)}` added to {self.path}"))
        return out

    def missing(self, p: ApiParameter) -> list[_ParamFinding]:
        index = self.old_pos.index(p.name) if p.name in self.old_pos else -1
        other = self.new_pos[index] if 0 <= index < len(self.new_pos) else None
        if other is not None and other not in self.old_named:
            self.renamed_to.add(other)
            # Callers cannot name a positional-only parameter: renaming it breaks nobody.
            if p.kind == "positional-only" and self.new_named[other].kind == "positional-only":
                return []
            return [(ChangeKind.PARAMETER_RENAMED, p.name, other,
                     f"parameter `{p.name}` of {self.path} was renamed to `{other}`")]
        if p.kind == "keyword-only" and _VAR_KEYWORD in self.new_kinds:
            return []  # still accepted through **kwargs
        message = f"parameter `{p.name}` of {self.path} was removed"
        return [(ChangeKind.PARAMETER_REMOVED, p.name, None, message)]

    def changed(self, p: ApiParameter, q: ApiParameter) -> list[_ParamFinding]:
        out: list[_ParamFinding] = []
        if not _ACCEPTS[p.kind] <= _ACCEPTS[q.kind]:
            out.append((ChangeKind.PARAMETER_KIND, f"{p.name}: {p.kind}", f"{q.name}: {q.kind}",
                        f"parameter `{p.name}` of {self.path} changed from {p.kind} to {q.kind}"))
        elif p.kind in _POSITIONAL and q.kind in _POSITIONAL:
            was, now = self.old_pos.index(p.name) + 1, self.new_pos.index(q.name) + 1
            if was != now:
                message = f"parameter `{p.name}` of {self.path} moved from position {was} to {now}"
                out.append((ChangeKind.PARAMETER_MOVED, f"{p.name} at {was}", f"{q.name} at {now}",
                            message))
        if not p.required and q.required:
            out.append((ChangeKind.PARAMETER_REQUIRED, f"{p.name}={p.default}", q.name,
                        f"parameter `{p.name}` of {self.path} is now required"))
        return out


def _is_private_path(path: str) -> bool:
    return any(part.startswith("_") and not part.endswith("__") for part in path.split("."))


def _matches(path: str, package: str, names: Collection[str]) -> bool:
    # A listed name may be the full path, the path without the package, or a bare name.
    short = path.removeprefix(f"{package}.")
    return path in names or short in names or path.rpartition(".")[2] in names


def _value_finding(old: ApiObject, new: ApiObject, *, strict: bool) -> _Finding | None:
    change = value_change(old, new)
    if change is None:
        return None
    name = new.path.rpartition(".")[2]
    kind = ChangeKind.CHANGED_VALUE
    if change.scalar or strict:
        kind = ChangeKind.ATTRIBUTE_VALUE
    message = f"value of {new.path} changed: {name}{change.element}: {change.old} -> {change.new}"
    return (kind, change.old, change.new, message, change.element or None)


_DOTTED = re.compile(r"([A-Za-z_][\w.]*)")


class _Names:
    """Which names in annotations and bases mean the same object on the two sides.

    Annotations name the defining path.  A definition moved behind a kept re-export has a new
    defining path but the same public paths, and that is the same object to a caller.
    """

    def __init__(self, old: ApiModel, new: ApiModel) -> None:
        self.old = _paths_by_identity(old)
        self.new = _paths_by_identity(new)

    def same(self, was: str, now: str) -> bool:
        return was == now or bool(self.old.get(was, {was}) & self.new.get(now, {now}))

    def same_text(self, was: str, now: str) -> bool:
        """Whether two rendered annotations name the same objects in the same shape."""
        if was == now:
            return True
        old_parts, new_parts = _DOTTED.split(was), _DOTTED.split(now)
        if len(old_parts) != len(new_parts):
            return False
        # re.split with a group alternates text between names (even) and names (odd).
        return all(
            (a == b) if i % 2 == 0 else self.same(a, b)
            for i, (a, b) in enumerate(zip(old_parts, new_parts, strict=True))
        )

    def kept_base(self, base: str, new: ApiObject) -> bool:
        return any(self.same(base, b) for b in (*new.bases, *new.ancestors))


def _paths_by_identity(model: ApiModel) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for obj in model.objects.values():
        identity = obj.target or obj.path
        found.setdefault(identity, {identity}).add(obj.path)
    return found


def _object_changes(
    old: ApiObject, new: ApiObject, *, strict: bool, names: _Names
) -> list[Change]:
    path = new.path
    where = (new.signature_file, new.signature_line)
    found: list[_Finding] = []
    if old.parameters is not None and new.parameters is not None:
        found += [(*f, None) for f in _ParamDiff(path, old.parameters, new.parameters).findings()]
    if old.returns and new.returns and not names.same_text(old.returns, new.returns):
        kind = (ChangeKind.RETURN_ANNOTATION if new.kind in _CALLABLE
                else ChangeKind.ATTRIBUTE_ANNOTATION)
        what = "return annotation" if kind is ChangeKind.RETURN_ANNOTATION else "annotation"
        found.append((kind, old.returns, new.returns,
                      f"{what} of {path} changed from `{old.returns}` to `{new.returns}`", None))
    value = _value_finding(old, new, strict=strict)
    if value is not None:
        found.append(value)
    for base in old.bases:
        # A private base is an implementation detail: what users lose with it is each public
        # member, and each one that disappears is reported as removed on its own.
        if base in _IMPLICIT_BASES or names.kept_base(base, new):
            continue
        if _is_private_path(base):
            continue
        found.append((ChangeKind.BASE_REMOVED, base, ", ".join(new.bases) or None,
                      f"class {path} no longer inherits from {base}", None))
    return [Change(path, kind, o, n, where[0], where[1], msg, element=element)
            for kind, o, n, msg, element in found]


def _identity(obj: ApiObject) -> str:
    # What a path resolves to: the defining path for a re-export, else the path itself.
    return obj.target or obj.path


def _still_at(obj: ApiObject, new: ApiModel, by_identity: Mapping[str, list[str]]) -> str | None:
    identity = _identity(obj)
    if identity != obj.path and identity in new.objects:
        return identity
    paths = [p for p in by_identity.get(identity, []) if p != obj.path]
    return min(paths, key=lambda p: (len(p), p)) if paths else None


def compare_api(
    old: ApiModel, new: ApiModel, *, strict_values: Collection[str] = ()
) -> list[Change]:
    """Every change from ``old`` to ``new``, breaking, additive and patch-level, in path order.

    ``strict_values`` names container constants whose value changes stay breaking
    (``api-strict-values``): a full path, the path without the package, or a bare name.
    """
    changes: list[Change] = []
    roots: set[str] = set()
    names = _Names(old, new)
    for path in sorted(old.objects.keys() & new.objects.keys()):
        was, now = old.objects[path], new.objects[path]
        # "external" is a name the loader could not follow (another package, a module
        # __getattr__): its kind is unknown, so it changes nothing by itself.
        unknown = "external" in {was.kind, now.kind}
        if not unknown and _ACCESS.get(was.kind, was.kind) != _ACCESS.get(now.kind, now.kind):
            roots.add(path)
            changes.append(Change(path, ChangeKind.KIND_CHANGED, was.kind, now.kind, now.file,
                                  now.line, f"{path} changed from {was.kind} to {now.kind}"))
            continue
        strict = bool(strict_values) and _matches(path, new.package, strict_values)
        changes.extend(_object_changes(was, now, strict=strict, names=names))
    removed = sorted(old.objects.keys() - new.objects.keys())
    added = sorted(new.objects.keys() - old.objects.keys())
    by_identity: dict[str, list[str]] = {}
    for obj in new.objects.values():
        by_identity.setdefault(_identity(obj), []).append(obj.path)
    # The package itself never hides its contents: with no release yet, list what it holds.
    gone = (roots | set(removed)) - {new.package, old.package}
    for path in removed:
        if _covered(path, gone):
            continue
        obj = old.objects[path]
        still = _still_at(obj, new, by_identity)
        where = f" (still importable from {still})" if still else ""
        changes.append(Change(path, ChangeKind.REMOVED, obj.kind, None, obj.file, obj.line,
                              f"{obj.kind} {path} was removed{where}", still_at=still))
    fresh = (roots | set(added)) - {new.package, old.package}
    for path in added:
        if _covered(path, fresh):
            continue
        obj = new.objects[path]
        kind = _ADDED_KIND.get(obj.kind, ChangeKind.ADDED_ATTRIBUTE)
        changes.append(Change(path, kind, None, obj.kind, obj.file, obj.line,
                              f"{obj.kind} {path} was added"))
    return sorted(changes, key=lambda c: (c.path, c.kind, c.old or "", c.new or ""))
