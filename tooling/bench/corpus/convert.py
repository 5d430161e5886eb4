"""Turn a released project's package into a bare-module tree, the way ``workspace/`` looks.

The package's modules become top-level modules, its ``__init__`` the module ``NAME_api``,
relative and absolute internal imports become bare imports, and its tests follow: imports,
``pkg.mod`` attribute chains, and module names inside string literals (patch targets,
``sys.modules`` keys, ``pytest_plugins``, exception text such as ``"pkg.mod.Error: ..."``).
A top-level name that would shadow the standard library (or the tests directory) is renamed
``NAME_mod``.  ``convert_source`` is the pure core.
``tooling.bench.corpus.tree`` lays out a whole project with it (docs/rewrite.md, the corpus).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from tooling.errors import ToolingError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["Layout", "convert_source", "layout_for", "rebound_names"]

# Names a bare top-level module must not take: the standard library's, and the directories
# test suites live in (a module ``tests.py`` would shadow a ``tests`` package of the suite).
RESERVED = frozenset(sys.stdlib_module_names) | {"tests", "testing", "conftest"}


@dataclass(frozen=True)
class Layout:
    """How one package's dotted names map to the bare tree."""

    package: str
    """The import package of the release, e.g. ``jinja2``."""
    api: str
    """The bare module its ``__init__`` becomes, e.g. ``jinja2_api``."""
    modules: frozenset[str]
    """Top-level modules and subpackages inside the package (original names)."""
    renames: Mapping[str, str] = field(default_factory=dict)
    """Original top-level name -> bare name, where they differ."""
    rebound: frozenset[str] = frozenset()
    """Module names the package's ``__init__`` binds to something else (pyparsing's
    ``from .testing import pyparsing_test as testing``): ``pkg.NAME`` is that object."""

    def is_module(self, name: str) -> bool:
        """Whether the attribute ``pkg.NAME`` is the submodule ``NAME``."""
        return name in self.modules and name not in self.rebound

    def top(self, name: str) -> str:
        """The bare name of the package's top-level module ``name``."""
        return self.renames.get(name, name)

    def bare(self, dotted: str) -> str | None:
        """The bare dotted name of ``dotted``, or None when it is not inside the package."""
        if dotted == self.package:
            return self.api
        prefix = f"{self.package}."
        if not dotted.startswith(prefix):
            return None
        head, _, rest = dotted[len(prefix):].partition(".")
        if head not in self.modules:
            return f"{self.api}.{dotted[len(prefix):]}"
        return f"{self.top(head)}.{rest}" if rest else self.top(head)

    def alias(self, name: str) -> str:
        """The private name a ``pkg.mod`` attribute chain reads after conversion."""
        return f"_{self.package}_{name}"


def layout_for(
    package: str, modules: Iterable[str], reserved: Iterable[str] = (),
    rebound: Iterable[str] = (),
) -> Layout:
    """The layout of ``package`` whose top-level module names are ``modules``."""
    names = frozenset(modules)
    taken = RESERVED | frozenset(reserved)
    renames = {n: f"{package}_{n.lstrip('_')}" for n in sorted(names) if n in taken}
    return Layout(package, f"{package}_api", names, renames, frozenset(rebound) & names)


def rebound_names(init: bytes) -> frozenset[str]:
    """Names a package ``__init__`` binds at module level to anything but its submodule.

    ``from . import NAME`` binds the submodule; ``from .x import y as NAME``, ``NAME = ...``,
    ``def NAME`` and ``class NAME`` bind something else.
    """
    found: set[str] = set()
    for node in ast.parse(init).body:
        if isinstance(node, ast.ImportFrom):
            submodule = node.level == 1 and node.module is None
            found.update(a.asname or a.name for a in node.names
                         if not (submodule and (a.asname is None or a.asname == a.name)))
        elif isinstance(node, ast.Assign):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return frozenset(found)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    raise ToolingError(f"unexpected module expression {type(node).__name__}")


def _expr(dotted: str) -> cst.Name | cst.Attribute:
    head, *rest = dotted.split(".")
    node: cst.Name | cst.Attribute = cst.Name(head)
    for part in rest:
        node = cst.Attribute(node, cst.Name(part))
    return node


def _import(name: str, asname: str | None = None) -> cst.ImportAlias:
    target = cst.AsName(cst.Name(asname)) if asname and asname != name else None
    return cst.ImportAlias(_expr(name), asname=target)


class _AttributeUses(cst.CSTVisitor):
    """The names bound to the package by import, and the ``NAME.<module>`` chains read on them."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.names: set[str] = set()
        self.chains: set[tuple[str, str]] = set()

    @property
    def modules(self) -> frozenset[str]:
        """Modules read as attributes of a name bound to the package."""
        return frozenset(attr for name, attr in self.chains if name in self.names)

    def visit_Import(self, node: cst.Import) -> bool:
        package = self.layout.package
        for alias in node.names:
            name = _dotted(alias.name)
            if alias.asname is None and (name == package or name.startswith(f"{package}.")):
                self.names.add(package)
            elif alias.asname is not None and name == package:
                local = alias.asname.name
                if isinstance(local, cst.Name):
                    self.names.add(local.value)
        return False  # the dotted names of an import statement are not attribute reads

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        del node
        return False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        value = node.value
        if isinstance(value, cst.Name) and self.layout.is_module(node.attr.value):
            self.chains.add((value.value, node.attr.value))


class _BareImports(cst.CSTTransformer):
    """The conversion of one file; ``module`` is its dotted name in the release (None: tests)."""

    def __init__(
        self, layout: Layout, module: str | None, is_package: bool, uses: _AttributeUses
    ) -> None:
        super().__init__()
        self.layout = layout
        self.module = module
        self.is_package = is_package
        self.uses = uses
        self.pattern = re.compile(rf"(?<![\w.]){re.escape(layout.package)}\.([A-Za-z_]\w*)")
        self.dunder_import = re.compile(
            rf"__import__\((['\"]){re.escape(layout.package)}\.(\w+)\1\)\.\2\b"
        )

    # -- import statements -------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        del node
        return False  # converted whole in leave_Import, never as attribute chains

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        del node
        return False

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import:
        del original_node
        layout = self.layout
        names: list[cst.ImportAlias] = []
        changed = False
        for alias in updated_node.names:
            dotted = _dotted(alias.name)
            bare = layout.bare(dotted)
            if bare is None:
                names.append(alias)
                continue
            changed = True
            if alias.asname is not None:
                asname = alias.asname.name
                names.append(_import(bare, asname.value if isinstance(asname, cst.Name) else None))
                if dotted == layout.package:
                    names.extend(
                        _import(layout.top(m), layout.alias(m)) for m in sorted(self.uses.modules)
                    )
                continue
            names.append(_import(layout.api, layout.package))
            if dotted != layout.package:
                names.append(_import(bare))
            names.extend(
                _import(layout.top(m), layout.alias(m)) for m in sorted(self.uses.modules)
            )
        if not changed:
            return updated_node
        unique = {cst.Module([]).code_for_node(n): n for n in names}
        return updated_node.with_changes(names=tuple(
            n.with_changes(comma=cst.MaybeSentinel.DEFAULT) for n in unique.values()
        ))

    def _absolute(self, node: cst.ImportFrom) -> str | None:
        level = len(node.relative)
        module = _dotted(node.module) if node.module is not None else ""
        if not level:
            return module
        if self.module is None:
            return None
        base = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
        if level - 1 > len(base) - 1:
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, module] if module else base)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.Import | cst.FlattenSentinel[cst.BaseSmallStatement]:
        del original_node
        dotted = self._absolute(updated_node)
        if dotted is None:
            return updated_node
        bare = self.layout.bare(dotted)
        if bare is None:
            return updated_node
        if dotted != self.layout.package or isinstance(updated_node.names, cst.ImportStar):
            return updated_node.with_changes(relative=(), module=_expr(bare))
        return self._split_package_import(updated_node.names, bare)

    def _split_package_import(
        self, names: Sequence[cst.ImportAlias], api: str
    ) -> cst.ImportFrom | cst.Import | cst.FlattenSentinel[cst.BaseSmallStatement]:
        # ``from pkg import mod, Name``: the module becomes ``import mod``, the rest stays
        # with the ``__init__`` that is now NAME_api.
        modules: list[cst.ImportAlias] = []
        attributes: list[cst.ImportAlias] = []
        for alias in names:
            name = _dotted(alias.name)
            local = alias.asname.name if alias.asname is not None else None
            asname = local.value if isinstance(local, cst.Name) else name
            if self.layout.is_module(name):
                modules.append(_import(self.layout.top(name), asname))
            else:
                attributes.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        statements: list[cst.BaseSmallStatement] = []
        if modules:
            statements.append(cst.Import(names=modules))
        if attributes:
            statements.append(cst.ImportFrom(
                module=_expr(api), names=attributes, relative=(),
            ))
        if len(statements) == 1:
            return statements[0]  # type: ignore[return-value]
        return cst.FlattenSentinel(statements)

    # -- pkg.<module> chains and strings -----------------------------------------------
    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        del original_node
        value = updated_node.value
        if (isinstance(value, cst.Name) and value.value in self.uses.names
                and updated_node.attr.value in self.uses.modules):
            return cst.Name(self.layout.alias(updated_node.attr.value))
        return updated_node

    def _text(self, text: str) -> str:
        # ``__import__('pkg.mod').mod`` in generated code is the bare ``__import__('mod')``.
        text = self.dunder_import.sub(lambda m: f"__import__({m[1]}{self.layout.top(m[2])}{m[1]})",
                                      text)

        def swap(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.layout.modules:
                return self.layout.top(name)
            return match.group(0)

        return self.pattern.sub(swap, text)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        del original_node
        return updated_node.with_changes(value=self._text(updated_node.value))

    def leave_FormattedStringText(
        self, original_node: cst.FormattedStringText, updated_node: cst.FormattedStringText
    ) -> cst.FormattedStringText:
        del original_node
        return updated_node.with_changes(value=self._text(updated_node.value))


def convert_source(
    code: bytes, layout: Layout, module: str | None = None, *, is_package: bool = False
) -> bytes:
    """``code`` converted to the bare layout; ``module`` is its dotted name (None: a test)."""
    tree = cst.parse_module(code)
    uses = _AttributeUses(layout)
    tree.visit(uses)
    return tree.visit(_BareImports(layout, module, is_package, uses)).bytes
