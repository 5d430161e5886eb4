"""The import-statement transformer: prefix workspace names in ``import``/``from`` statements."""

from __future__ import annotations

from collections import Counter

import libcst as cst

__all__ = ["ImportRewriter", "dotted_name"]

# Both transformers (this one and _strings.ModuleStringRewriter) work on any libcst node (a whole
# module, one statement, one expression), so the fast path and the fallback share every decision.
# A node that does not match is returned unchanged, so untouched code keeps its exact bytes.


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts, ...)."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _prefixed(node: cst.BaseExpression, package: str) -> cst.Attribute:
    """``a.b`` -> ``PKG.a.b``, keeping the original dots and their whitespace."""
    if isinstance(node, cst.Attribute):
        return node.with_changes(value=_prefixed(node.value, package))
    if isinstance(node, cst.Name):
        return cst.Attribute(value=cst.Name(package), attr=node)
    raise TypeError(type(node).__name__)  # pragma: no cover - import names are Name/Attribute


class ImportRewriter(cst.CSTTransformer):
    """Prefix the workspace names in ``import`` and ``from ... import`` statements.

    Binding semantics stay those of the bare layout:

    - ``import a``       -> ``import PKG.a as a``
    - ``import a as c``  -> ``import PKG.a as c``
    - ``import a.b``     -> ``import PKG.a.b as a, PKG.a as a`` (loads ``a.b``, then binds ``a``
      to the package ``PKG.a``, so ``a.b.x`` works and no new name such as ``PKG`` is bound)
    - ``from a.b import c`` -> ``from PKG.a.b import c``; relative imports are left alone.

    ``import PKG.a as a`` rather than ``from PKG import a``: it goes through ``sys.modules``
    first, so a test that pops ``sys.modules["PKG.a"]`` and imports again gets a fresh module,
    as it would with the bare layout.
    """

    def __init__(self, names: frozenset[str], package: str) -> None:
        """Rewrite imports of ``names`` into ``package``."""
        super().__init__()
        self.names = names
        self.package = package
        self.counts: Counter[str] = Counter()

    def _head(self, node: cst.BaseExpression) -> str | None:
        dotted = dotted_name(node)
        return None if dotted is None else dotted.split(".", 1)[0]

    def visit_Import(self, node: cst.Import) -> bool:
        """Nothing inside an import needs a visit: leave_Import does the work."""
        del node
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        """As for visit_Import."""
        del node
        return False

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import:
        """Rewrite each alias of a workspace name; leave the others (``os``) as they are."""
        del original_node
        aliases: list[cst.ImportAlias] = []
        changed = False
        for alias in updated_node.names:
            head = self._head(alias.name)
            if head is None or head not in self.names:
                aliases.append(alias)
                continue
            changed = True
            self.counts["import"] += 1
            name = _prefixed(alias.name, self.package)
            if alias.asname is not None:
                aliases.append(alias.with_changes(name=name))
            elif isinstance(alias.name, cst.Name):
                aliases.append(alias.with_changes(name=name, asname=cst.AsName(cst.Name(head))))
            else:
                aliases.append(
                    alias.with_changes(
                        name=name,
                        asname=cst.AsName(cst.Name(head)),
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                    )
                )
                aliases.append(
                    cst.ImportAlias(
                        name=_prefixed(cst.Name(head), self.package),
                        asname=cst.AsName(cst.Name(head)),
                        comma=alias.comma,
                    )
                )
        if not changed:
            return updated_node
        return updated_node.with_changes(names=aliases)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        """Prefix the module of an absolute ``from`` import of a workspace name."""
        del original_node
        if updated_node.relative or updated_node.module is None:
            return updated_node
        head = self._head(updated_node.module)
        if head is None or head not in self.names:
            return updated_node
        self.counts["from_import"] += 1
        return updated_node.with_changes(module=_prefixed(updated_node.module, self.package))
