"""Load a staged package statically with griffe and walk it into an ApiModel.

The walk records every public path (the rules are in ``tooling.api.public``) with what callers
rely on: parameters, annotations, bases and constant values.
"""

from __future__ import annotations

import logging
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import griffe

from tooling.api.model import ApiModel, ApiObject, ApiParameter
from tooling.api.public import PublicNames
from tooling.api.source import assigned_value_text
from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

__all__ = ["load_api"]

# Never part of the compared API: it changes with every release by design.
VERSION_NAMES = frozenset({"__version__", "__version_info__"})
# Every module has these whether or not its source binds them: never added nor removed.
MODULE_DUNDERS = frozenset({
    "__doc__", "__name__", "__file__", "__path__", "__spec__", "__loader__", "__package__",
    "__builtins__", "__dict__", "__cached__",
})


@dataclass(frozen=True)
class _Signature:
    """The path-independent part of an ApiObject (shared by every path reaching one object)."""

    parameters: tuple[ApiParameter, ...] | None = None
    returns: str | None = None
    value: str | None = None
    bases: tuple[str, ...] = ()
    ancestors: frozenset[str] = frozenset()
    file: str = ""
    line: int = 0


_NO_SIGNATURE = _Signature()


@contextmanager
def _quiet_griffe() -> Iterator[None]:
    # griffe logs every unresolvable import as a warning; the unresolved ones we care about are
    # reported as `external` objects instead.
    logger = logging.getLogger("griffe")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _assignment_source(attr: griffe.Attribute) -> str:
    # The statement's own lines: slicing them is cheap, where rendering griffe's expression of
    # a big value (a lexer's token table) is not.  Its meaning is worked out only when needed.
    lines = attr.lines
    if lines:
        return textwrap.dedent("\n".join(lines)).strip()
    return f"{attr.name} = {attr.value}"


class _Loader:
    """Walks one griffe tree into ApiObjects; holds what the walk needs."""

    def __init__(
        self, root: griffe.Module, package_dir: Path, source_prefix: str, keep: Collection[str]
    ) -> None:
        self.root = root
        self.keep = frozenset(keep)
        self.public = PublicNames(root)
        self.package_dir = package_dir
        self.source_prefix = source_prefix.strip("/")
        self.objects: dict[str, ApiObject] = {}
        self._classes_seen: set[str] = set()
        self._files: dict[str, str] = {}
        self._signatures: dict[str, _Signature] = {}

    # -- locations ---------------------------------------------------------------------------

    def rel_file(self, obj: griffe.Object | griffe.Alias) -> str:
        filepath = obj.filepath
        if isinstance(filepath, list):  # namespace packages have several directories
            filepath = filepath[0]
        key = str(filepath)
        if key not in self._files:
            # griffe found the files under the resolved search path: no resolve() per object.
            try:
                rel = Path(filepath).relative_to(self.package_dir).as_posix()
            except ValueError:
                rel = Path(filepath).name
            self._files[key] = f"{self.source_prefix}/{rel}" if self.source_prefix else rel
        return self._files[key]

    # -- expressions -------------------------------------------------------------------------

    def final_path(self, path: str) -> str:
        """Follow re-exports inside the package to the defining path."""
        try:
            found = self.root.modules_collection.get_member(path)
        except (KeyError, ValueError, IndexError, griffe.AliasResolutionError):
            return path
        try:
            return str(found.final_target.path) if found.is_alias else str(found.path)
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return path

    def render(self, expr: object) -> str:
        """An annotation or base with every name replaced by its canonical path."""
        if expr is None:
            return ""
        if isinstance(expr, str):
            return expr
        if isinstance(expr, (griffe.ExprName, griffe.ExprAttribute)):
            return self.final_path(expr.canonical_path)
        if isinstance(expr, griffe.Expr):
            return "".join(self.render(part) for part in expr.iterate(flat=False))
        return str(expr)

    def base_identity(self, expr: object) -> str:
        # Generic[T] and Generic[T, U] are the same base; compare the subscripted head only.
        if isinstance(expr, griffe.ExprSubscript):
            return self.base_identity(expr.left)
        return self.render(expr)

    # -- walking -----------------------------------------------------------------------------

    def walk_module(self, module: griffe.Module, path: str) -> None:
        self.add(path, module, kind="module", file=self.rel_file(module), line=1)
        for name, member in module.members.items():
            if name == "__all__" or not name.isidentifier():
                continue
            if isinstance(member, griffe.Module) and not member.is_alias:
                if not name.startswith("_"):
                    self.walk_module(member, f"{path}.{name}")
                continue
            public = self.public.is_public(module, name, member) or f"{path}.{name}" in self.keep
            if public and name not in VERSION_NAMES and name not in MODULE_DUNDERS:
                self.add_member(f"{path}.{name}", member)

    def add_member(self, path: str, member: griffe.Object | griffe.Alias) -> None:
        if isinstance(member, griffe.Alias):
            where = member.parent if member.parent is not None else self.root
            file, line = self.rel_file(where), int(member.alias_lineno or 1)
            try:
                target = member.final_target
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                self.add(path, None, kind="external", file=file, line=line,
                         target=member.target_path)
                return
            if member.inherited:
                # Inherited members are bound where the base class defines them.
                file, line = self.rel_file(target), int(target.lineno or 1)
            self.add_object(path, target, file=file, line=line, target=str(target.path))
            return
        self.add_object(path, member, file=self.rel_file(member), line=int(member.lineno or 1))

    def add_object(
        self, path: str, obj: griffe.Object, *, file: str, line: int, target: str | None = None
    ) -> None:
        if isinstance(obj, griffe.Module):
            # A re-exported module: its contents are public at its own path already.
            self.add(path, obj, kind="module", file=file, line=line, target=target)
        elif isinstance(obj, griffe.Class):
            self.add_class(path, obj, file=file, line=line, target=target)
        elif isinstance(obj, griffe.Function):
            kind = "property" if self.is_property(obj) else _function_kind(obj)
            self.add(path, obj, kind=kind, file=file, line=line, target=target)
        elif isinstance(obj, griffe.Attribute):
            kind = "property" if "property" in obj.labels else "attribute"
            self.add(path, obj, kind=kind, file=file, line=line, target=target)
        else:
            self.add(path, obj, kind="type alias", file=file, line=line, target=target)

    def add_class(
        self, path: str, cls: griffe.Class, *, file: str, line: int, target: str | None
    ) -> None:
        self.add(path, cls, kind="class", file=file, line=line, target=target)
        # A class re-exported at several paths is walked at each; the guard stops cycles only.
        key = f"{path}->{cls.path}"
        if key in self._classes_seen:
            return
        self._classes_seen.add(key)
        for name, member in _class_members(cls).items():
            if name.startswith("_") or name in VERSION_NAMES:
                continue
            self.add_member(f"{path}.{name}", member)

    def add(
        self,
        path: str,
        obj: griffe.Object | None,
        *,
        kind: str,
        file: str,
        line: int,
        target: str | None = None,
    ) -> None:
        sig = self.signature(obj) if obj is not None else _NO_SIGNATURE
        self.objects[path] = ApiObject(
            path=path,
            kind=kind,
            file=file,
            line=line,
            parameters=sig.parameters,
            returns=sig.returns,
            value=sig.value,
            bases=sig.bases,
            ancestors=sig.ancestors,
            target=target,
            signature_file=sig.file or file,
            signature_line=sig.line or line,
        )

    def signature(self, obj: griffe.Object) -> _Signature:
        """What callers rely on about ``obj``, computed once per object whatever its paths."""
        key = str(obj.path)
        if key not in self._signatures:
            self._signatures[key] = self._signature(obj)
        return self._signatures[key]

    def _signature(self, obj: griffe.Object) -> _Signature:
        if isinstance(obj, griffe.Module):
            return _NO_SIGNATURE
        file, line = self.rel_file(obj), int(obj.lineno or 1)
        if isinstance(obj, griffe.Function):
            # A property-like method has no parameters a caller passes.
            parameters = None if self.is_property(obj) else self.parameters(obj)
            return _Signature(parameters=parameters,
                              returns=self.render(obj.returns) or None, file=file, line=line)
        if isinstance(obj, griffe.Class):
            parameters = None
            init = _class_members(obj).get("__init__")
            if isinstance(init, griffe.Function):
                parameters = self.parameters(init, bound=True)
                if init.lineno:  # a dataclass's generated __init__ has no line
                    file, line = self.rel_file(init), int(init.lineno)
            bases = tuple(self.base_identity(b) for b in obj.bases)
            return _Signature(parameters=parameters, bases=bases,
                              ancestors=frozenset(bases) | _resolved_ancestors(obj),
                              file=file, line=line)
        if isinstance(obj, griffe.Attribute):
            value = self.value_source(obj) if _compares_value(obj) else None
            return _Signature(returns=self.render(obj.annotation) or None, value=value,
                              file=file, line=line)
        if isinstance(obj, griffe.TypeAlias):
            return _Signature(value=f"{obj.name} = {self.render(obj.value)}", file=file, line=line)
        return _Signature(file=file, line=line)

    def lookup(self, path: str) -> griffe.Object | None:
        """The object ``path`` names in the loaded package, re-exports followed; None if none."""
        try:
            found = self.root.modules_collection.get_member(path)
            return found.final_target if isinstance(found, griffe.Alias) else found
        except (KeyError, ValueError, IndexError, griffe.AliasResolutionError,
                griffe.CyclicAliasError):
            return None

    def is_property(self, func: griffe.Function) -> bool:
        """Whether ``func`` is read as an attribute rather than called.

        ``property``, ``abc.abstractproperty``, ``functools.cached_property``, or a decorator of
        the package that returns a property or is a descriptor class.
        """
        for decorator in func.decorators:
            path = decorator.callable_path
            if path in _PROPERTY_DECORATORS:
                return True
            found = self.lookup(path) if path.startswith(f"{self.root.path}.") else None
            if isinstance(found, griffe.Function):
                returned = self.render(found.returns)
                if returned in _PROPERTY_DECORATORS or returned.endswith(_PROPERTY_SUFFIXES):
                    return True
            elif isinstance(found, griffe.Class):
                bases = {self.render(b) for b in found.bases}
                if bases & _PROPERTY_DECORATORS or "__get__" in _class_members(found):
                    return True
        return False

    def value_source(self, attr: griffe.Attribute) -> str:
        """``NAME = value`` as written, aliases followed.

        A value that only names another constant (``VERSION = _VERSION``) is replaced by that
        constant's own value, so an identical value written through an alias is no change.
        """
        source = _assignment_source(attr)
        current, seen = attr, {str(attr.path)}
        while isinstance(current.value, (griffe.ExprName, griffe.ExprAttribute)):
            target = self.lookup(current.value.canonical_path)
            # Module constants only: a class attribute (an enum member) is a value of its own.
            if not isinstance(target, griffe.Attribute) or target.value is None or not (
                target.parent is not None and target.parent.is_module
            ):
                break
            if str(target.path) in seen:
                break
            seen.add(str(target.path))
            current = target
        if current is attr:
            return source
        text = assigned_value_text(current.name, _assignment_source(current))
        return f"{attr.name} = {text if text is not None else current.value}"

    def parameters(self, func: griffe.Function, *, bound: bool = False) -> tuple[ApiParameter, ...]:
        params = list(func.parameters)
        in_class = func.parent is not None and func.parent.is_class
        if (bound or in_class) and "staticmethod" not in func.labels and params:
            params = params[1:]  # self / cls: never passed by the caller
        return tuple(
            ApiParameter(
                name=p.name,
                kind=p.kind.value if p.kind else "positional or keyword",
                required=p.default is None and not _variadic(p.kind),
                annotation=self.render(p.annotation) or None,
                default=None if p.default is None else str(p.default),
            )
            for p in params
        )


def _variadic(kind: griffe.ParameterKind | None) -> bool:
    return kind in {griffe.ParameterKind.var_positional, griffe.ParameterKind.var_keyword}


def _function_kind(func: griffe.Function) -> str:
    base = "method" if func.parent is not None and func.parent.is_class else "function"
    return f"async {base}" if "async" in func.labels else base


def _compares_value(attr: griffe.Attribute) -> bool:
    # Constants at module and class level have a value users read.  Instance attributes get
    # theirs in a method body, dataclass fields' values are __init__ defaults, and a property
    # has none: comparing those would flag body changes.
    labels = attr.labels
    if attr.value is None or ("instance-attribute" in labels and "class-attribute" not in labels):
        return False
    parent = attr.parent
    return not (parent is not None and parent.is_class and "dataclass" in parent.labels)


_PROPERTY_DECORATORS = frozenset({
    "property", "builtins.property", "abc.abstractproperty", "functools.cached_property",
})
_PROPERTY_SUFFIXES = (".property", ".cached_property", ".abstractproperty")


def _class_members(cls: griffe.Class) -> Mapping[str, griffe.Object | griffe.Alias]:
    try:
        return dict(cls.all_members)
    except (griffe.AliasResolutionError, griffe.CyclicAliasError, ValueError):
        return dict(cls.members)


def _resolved_ancestors(cls: griffe.Class) -> frozenset[str]:
    try:
        return frozenset(str(c.path) for c in cls.mro())
    except (griffe.AliasResolutionError, griffe.CyclicAliasError, ValueError):
        return frozenset()


def load_api(
    parent_dir: Path, package: str, *, source_prefix: str = "", keep: Collection[str] = ()
) -> ApiModel:
    """Load ``parent_dir/package`` statically and return its public API.

    ``source_prefix`` is prepended to every file path so locations point into the repository's
    source tree (``workspace``) rather than the temporary staged copy.  ``keep`` lists dotted
    paths that count as public whatever the rules say (the declared stable imports).
    """
    parent_dir = parent_dir.resolve()
    package_dir = parent_dir / package
    if not package_dir.is_dir():
        raise ToolingError(f"{package_dir}: no such package directory; stage the package first")
    with _quiet_griffe():
        try:
            loaded = griffe.load(
                package,
                search_paths=[str(parent_dir)],
                try_relative_path=False,
                allow_inspection=False,
                resolve_aliases=True,
                resolve_external=False,
                store_source=True,
            )
        except (ImportError, griffe.LoadingError, OSError) as exc:
            raise ToolingError(f"{package_dir}: griffe could not load it: {exc}") from exc
        if not isinstance(loaded, griffe.Module):
            raise ToolingError(f"{package_dir}: {package} did not load as a module")
        walker = _Loader(loaded, package_dir, source_prefix, keep)
        walker.walk_module(loaded, package)
    objects = {path: walker.objects[path] for path in sorted(walker.objects)}
    return ApiModel(package=package, objects=objects)
