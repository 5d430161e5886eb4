"""Module names that reach a module-reference position through a constant variable.

Test suites name the module once and use the variable::

    module_name = "config"                       # or: for name in ("config", "heartbeat"):
    stub = types.ModuleType(module_name)
    monkeypatch.setitem(sys.modules, module_name, stub)

A variable that is bound exactly once in its scope, to a string literal (or by a ``for`` over a
literal tuple/list of strings), is a constant.  When such a constant is used in a module-reference
position (the same positions as literals, decided by the same transformer), the literal is
rewritten where it is defined.  Anything rebound, a parameter, a global or nonlocal declaration,
or a value built at run time is left alone.  Reads resolve as Python does for functions: the
innermost enclosing function that binds the name, else the module (class bodies are skipped).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from tooling.rewrite._candidates import Unsupported, expr_candidate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tooling.rewrite._text import _Text

__all__ = ["Constant", "constant_edits", "find_constants", "flagged_literals"]

_Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass
class Constant:
    """One constant variable of one scope."""

    values: list[ast.Constant] = field(default_factory=list)
    """The string literal(s) it is bound to (several for a ``for`` over a literal tuple)."""
    bindings: int = 0
    """How often the scope binds the name (a constant has exactly one binding)."""


def _targets(node: ast.AST) -> Iterator[str]:
    """Names bound by an assignment target (tuples unpacked)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            yield from _targets(element)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)


def _strings(node: ast.AST) -> list[ast.Constant] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    return None


def _literal_items(node: ast.AST) -> list[ast.Constant] | None:
    if not isinstance(node, (ast.Tuple, ast.List)) or not node.elts:
        return None
    items = [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return items if len(items) == len(node.elts) else None


class _Binder(ast.NodeVisitor):
    """Records every binding of one scope, without entering nested scopes."""

    def __init__(self, scope: _Scope) -> None:
        self.scope = scope
        self.table: dict[str, Constant] = {}
        self.nested: list[_Scope] = []

    def bind(self, name: str, values: list[ast.Constant] | None = None) -> None:
        entry = self.table.setdefault(name, Constant())
        entry.bindings += 1
        entry.values = values or []

    def run(self) -> dict[str, Constant]:
        scope = self.scope
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = scope.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                        arguments.vararg, arguments.kwarg):
                if arg is not None:
                    self.bind(arg.arg)
            body = [scope.body] if isinstance(scope, ast.Lambda) else scope.body
        else:
            body = scope.body
        for statement in body:
            self.visit(statement)
        return {k: v for k, v in self.table.items() if v.bindings == 1 and v.values}

    def _nested(self, node: _Scope | ast.ClassDef) -> None:
        if isinstance(node, ast.ClassDef):
            self.bind(node.name)
            for item in (*node.decorator_list, *node.bases, *node.keywords):
                self.visit(item)
            # A class body is not an enclosing scope for its methods: visit it for its
            # functions only (its own names never resolve from inside them).
            for statement in node.body:
                _ClassBody(self.nested).visit(statement)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.bind(node.name)
            defaults = (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults)
            for default in defaults:
                if default is not None:
                    self.visit(default)
        self.nested.append(node)

    def generic_visit(  # noqa: C901, PLR0912 - one branch per binding form
        self, node: ast.AST
    ) -> None:
        """Count bindings; stop at nested scopes and remember them."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            self._nested(node)
            return
        if isinstance(node, ast.Assign):
            values = _strings(node.value) if len(node.targets) == 1 else None
            for target in node.targets:
                for name in _targets(target):
                    self.bind(name, values if isinstance(target, ast.Name) else None)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            for name in _targets(node.target):
                self.bind(name, _strings(node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            items = _literal_items(node.iter) if isinstance(node.target, ast.Name) else None
            for name in _targets(node.target):
                self.bind(name, items)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            for name in _targets(node.target):
                self.bind(name)
        elif isinstance(node, ast.NamedExpr):
            self.bind(node.target.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                self.bind(name)
                self.bind(name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                self.bind((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            for name in _targets(node.optional_vars):
                self.bind(name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bind(node.name)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                for name in _targets(target):
                    self.bind(name)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for generator in node.generators:
                for name in _targets(generator.target):
                    # Their own scope in Python 3: make the name non-constant in ours to stay
                    # on the safe side rather than modelling comprehension scopes.
                    self.bind(name)
        super().generic_visit(node)


class _ClassBody(ast.NodeVisitor):
    def __init__(self, nested: list[_Scope]) -> None:
        self.nested = nested

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.nested.append(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.nested.append(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.nested.append(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for statement in node.body:
            self.visit(statement)


@dataclass(frozen=True)
class _Frame:
    constants: dict[str, Constant]
    bound: frozenset[str]
    parent: _Frame | None


def find_constants(
    tree: ast.Module, wanted: Callable[[str], bool]
) -> Iterator[tuple[ast.expr, dict[str, Constant]]]:
    """Yield (expression, constants it can see) for every read of a wanted constant.

    ``wanted`` tells whether a literal value may name a module (its head is a workspace name):
    only such constants are tracked, so most files cost one pass over their scopes.
    """
    stack: list[tuple[_Scope, _Frame | None]] = [(tree, None)]
    while stack:
        scope, parent = stack.pop()
        binder = _Binder(scope)
        constants = binder.run()
        constants = {
            k: v for k, v in constants.items() if any(wanted(str(c.value)) for c in v.values)
        }
        frame = _Frame(constants, frozenset(binder.table), parent)
        stack.extend((nested, frame) for nested in binder.nested)
        if not constants and parent is None and not binder.nested:
            continue
        visible = _visible(frame)
        if not visible:
            continue
        body = [scope.body] if isinstance(scope, ast.Lambda) else scope.body
        for statement in body:
            for node in _walk_scope(statement):
                if isinstance(node, ast.Name) and node.id in visible:
                    yield node, visible


def _visible(frame: _Frame) -> dict[str, Constant]:
    """Constants readable from ``frame``: its own, then enclosing ones it does not rebind."""
    seen: set[str] = set()
    visible: dict[str, Constant] = {}
    current: _Frame | None = frame
    while current is not None:
        visible.update(
            (name, constant) for name, constant in current.constants.items() if name not in seen
        )
        seen |= current.bound
        current = current.parent
    return visible


def _walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of one scope, not descending into nested functions, lambdas or classes."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    stack = [] if isinstance(node, scopes) else [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in ast.iter_child_nodes(current) if not isinstance(c, scopes))


def flagged_literals(
    tree: ast.Module,
    wanted: Callable[[str], bool],
    positions: Callable[[ast.Name], ast.expr | None],
    check: Callable[[ast.expr, dict[str, str]], set[str]],
) -> list[ast.Constant]:
    """The literals to rewrite: constants some module-reference position reads.

    ``positions`` gives the outermost candidate expression around a read (or None), and
    ``check`` rewrites that expression with the given variable values and returns the
    variables it found in module-reference positions.
    """
    found: dict[int, ast.Constant] = {}
    for read, visible in find_constants(tree, wanted):
        assert isinstance(read, ast.Name)  # noqa: S101 - find_constants yields names
        outer = positions(read)
        if outer is None:
            continue
        constant = visible[read.id]
        for value in constant.values:
            text = str(value.value)
            if wanted(text) and read.id in check(outer, {read.id: text}):
                found[id(value)] = value
    return list(found.values())


@lru_cache(maxsize=1024)
def _flagged_variables(
    snippet: str, names: frozenset[str], package: str, bindings: tuple[tuple[str, str], ...]
) -> frozenset[str]:
    """The variables of ``bindings`` that sit in a module-reference position of ``snippet``."""
    import libcst as cst

    from tooling.rewrite._strings import ModuleStringRewriter

    rewriter = ModuleStringRewriter(names, package, dict(bindings))
    cst.parse_expression(snippet).visit(rewriter)
    return frozenset(rewriter.flagged)


@lru_cache(maxsize=1024)
def _rewrite_literal(literal: str, names: frozenset[str], package: str) -> str:
    """A string literal that names a module, prefixed (``"config"`` -> ``"PKG.config"``)."""
    import libcst as cst

    from tooling.rewrite._strings import ModuleStringRewriter

    node = cst.parse_expression(literal)
    if not isinstance(node, cst.SimpleString):
        return literal
    new = ModuleStringRewriter(names, package)._string(node, whole=True)  # noqa: SLF001
    return literal if new is None else cst.Module([]).code_for_node(new)


def constant_edits(  # noqa: C901 - the three callbacks flagged_literals needs
    tree: ast.Module, text: _Text, names: frozenset[str], package: str
) -> list[tuple[int, int, str]]:
    """Edits for string constants that reach a module-reference position through a variable."""
    if _quoted_pattern(names).search(text.text) is None:
        return []  # no string literal can name a workspace module: nothing to trace
    def wanted(value: str) -> bool:
        head = _NAME_HEAD.match(value)
        return head is not None and head.group(0) in names

    parents: dict[ast.AST, ast.AST] = {}

    def positions(read: ast.Name) -> ast.expr | None:
        if not parents:
            for node in ast.walk(tree):
                for child in ast.iter_child_nodes(node):
                    parents[child] = node
        outer: ast.expr | None = None
        current: ast.AST | None = read
        while isinstance(current, ast.expr):
            if expr_candidate(current):
                outer = current
            current = parents.get(current)
        return outer

    def span(node: ast.expr) -> tuple[int, int]:
        end_line, end_col = node.end_lineno, node.end_col_offset
        if end_line is None or end_col is None:  # pragma: no cover - parsed code has positions
            raise Unsupported
        return text.offset(node.lineno, node.col_offset), text.offset(end_line, end_col)

    def check(outer: ast.expr, values: dict[str, str]) -> set[str]:
        start, end = span(outer)
        return set(_flagged_variables(text.text[start:end], names, package,
                                      tuple(sorted(values.items()))))

    edits = []
    for literal in flagged_literals(tree, wanted, positions, check):
        start, end = span(literal)
        old = text.text[start:end]
        new = _rewrite_literal(old, names, package)
        if new != old:
            edits.append((start, end, new))
    return edits


_NAME_HEAD = re.compile(r"[^.:]*")


@lru_cache(maxsize=64)
def _quoted_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """A workspace name right after a quote and before a quote, dot or colon."""
    alternatives = "|".join(re.escape(t) for t in sorted(names, key=len, reverse=True))
    return re.compile(rf"""['"](?:{alternatives})[.:'"]""" if names else r"(?!x)x")
