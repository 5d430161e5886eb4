"""The fallback: the same transformers over a whole-file libcst parse, imports collected after."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tooling.rewrite._results import ImportRef

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable

    import libcst as cst

__all__: list[str] = []


@lru_cache(maxsize=1)
def _import_collector() -> Callable[[list[ImportRef]], cst.CSTVisitor]:
    """The visitor class collecting every import with its position (defined on first use)."""
    import libcst as cst
    from libcst.metadata import PositionProvider

    class _ImportCollector(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def __init__(self, refs: list[ImportRef]) -> None:
            super().__init__()
            self.refs = refs

        def _where(self, node: cst.CSTNode) -> tuple[int, int]:
            start = self.get_metadata(PositionProvider, node).start
            return start.line, start.column + 1

        def visit_Import(self, node: cst.Import) -> None:
            line, col = self._where(node)
            for alias in node.names:
                self.refs.append(ImportRef(line, col, 0, cst.Module([]).code_for_node(alias.name)))

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            line, col = self._where(node)
            module = "" if node.module is None else cst.Module([]).code_for_node(node.module)
            names: tuple[str, ...] = ("*",)
            if not isinstance(node.names, cst.ImportStar):
                names = tuple(cst.Module([]).code_for_node(a.name) for a in node.names)
            self.refs.append(ImportRef(line, col, len(node.relative), module, names))

    return _ImportCollector


def _full(
    text: str, names: frozenset[str], package: str
) -> tuple[str, Counter[str], list[ImportRef]]:
    """The fallback: the same transformers over a full libcst parse."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    from tooling.rewrite._imports import ImportRewriter
    from tooling.rewrite._strings import ModuleStringRewriter

    module = cst.parse_module(text)
    imports = ImportRewriter(names, package)
    strings = ModuleStringRewriter(names, package)
    new = module.visit(imports).visit(strings)
    refs: list[ImportRef] = []
    MetadataWrapper(new).visit(_import_collector()(refs))
    return new.code, imports.counts + strings.counts, refs
