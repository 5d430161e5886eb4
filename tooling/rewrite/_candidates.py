"""Which ``ast`` nodes may hold a workspace module name: the fast path's candidate predicates.

Shared by the fast path (which rewrites candidates) and the constant-flow pass (which follows
names into them).  Pure ``ast``; no libcst.
"""

from __future__ import annotations

import ast

from tooling.rewrite._positions import CALL_NAMES, MODULE_NAME_ATTRS, PYTEST_PLUGINS

__all__ = ["IMPORT_CALLS", "Unsupported", "expr_candidate", "last_name", "statement_candidate"]

_SYS_MODULES_CALLS = frozenset(
    {"get", "pop", "setdefault", "update", "__getitem__", "__setitem__", "__delitem__",
     "__contains__"}
)
IMPORT_CALLS = frozenset({"import_module", "__import__"})


class Unsupported(Exception):  # noqa: N818 - an internal signal, never escapes the rewriter
    """The fast path cannot handle this file; use the full libcst parse."""


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_modules_attr(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "modules"


def _call_candidate(node: ast.Call) -> bool:
    """A superset of the calls ModuleStringRewriter.leave_Call rewrites."""
    last = last_name(node.func)
    if last not in CALL_NAMES:
        return False
    if last in _SYS_MODULES_CALLS:
        return isinstance(node.func, ast.Attribute) and _is_modules_attr(node.func.value)
    if last in {"setitem", "delitem"}:
        return bool(node.args) and _is_modules_attr(node.args[0])
    if last == "run":
        return isinstance(node.func, ast.Attribute) and last_name(node.func.value) == "uvicorn"
    return True


def _is_name_attr(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "__name__"
    return isinstance(node, ast.Attribute) and node.attr in MODULE_NAME_ATTRS


def expr_candidate(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        return _call_candidate(node)
    if isinstance(node, ast.Subscript):
        return _is_modules_attr(node.value)
    if isinstance(node, ast.Compare):
        return any(_is_modules_attr(c) or _is_name_attr(c) for c in node.comparators) or (
            _is_name_attr(node.left)
        )
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(isinstance(e, ast.Constant) and e.value in {"-m", "-c"} for e in node.elts)
    return False


def statement_candidate(node: ast.AST) -> bool:
    """``pytest_plugins = ...``: rewritten as a statement (the target gives the position)."""
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == PYTEST_PLUGINS
    )
