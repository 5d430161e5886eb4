"""Reading one assignment statement's source: shared by the API model and the value rules."""

from __future__ import annotations

import ast

__all__ = ["assigned_node", "assigned_value_text"]


def assigned_node(name: str, source: str) -> ast.expr | None:
    """The expression assigned to ``name`` in the statement(s) ``source``, if any."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets: list[ast.expr] = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
        if named and stmt.value is not None:
            return stmt.value
    return None


def assigned_value_text(name: str, source: str) -> str | None:
    """The source text of the value assigned to ``name`` in the statement ``source``."""
    node = assigned_node(name, source)
    return ast.get_source_segment(source, node) if node is not None else None
