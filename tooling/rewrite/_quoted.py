"""String literals in tests that quote import statements of workspace names.

A test asserting a module's source text (``assert "from a.b import c" in text``) keeps its
meaning only if the quoted statement is rewritten the way the module's statement was.  A
literal counts when its whole value parses as one or more import statements and at least one
imports a workspace name.  Code written to files at run time (``textwrap.dedent(...)``
templates, any literal holding more than imports) is third-party code and stays as written:
``find_templates`` lists those, for the doctor to recommend a compatibility alias.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["QuotedTemplate", "find_templates", "rewrite_quoted_imports"]

# Calls whose string argument is code meant for a file, never a quotation of a module's text.
_TEMPLATE_CALLS = frozenset({"dedent", "write_text", "write", "writelines", "indent"})


@dataclass(frozen=True)
class QuotedTemplate:
    """A string literal holding code that imports a workspace name by its bare name."""

    line: int
    """1-based line of the literal."""
    names: tuple[str, ...]
    """The workspace names it imports."""


def _imported(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _parse(value: str) -> ast.Module | None:
    try:
        return ast.parse(value)
    except (SyntaxError, ValueError):
        return None


def _strings(tree: ast.AST) -> Iterator[tuple[ast.Constant, bool]]:
    """Every str constant (not in an f-string) and whether it is a template call's argument."""
    templated: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _TEMPLATE_CALLS:
                for arg in node.args:
                    templated.update(id(n) for n in ast.walk(arg))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node, id(node) in templated


def _only_imports(tree: ast.Module) -> bool:
    return bool(tree.body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in tree.body)


def find_templates(code: bytes, names: frozenset[str]) -> tuple[QuotedTemplate, ...]:
    """String literals that are code (not a quoted statement) importing workspace names bare."""
    tree = _parse_file(code)
    if tree is None:
        return ()
    found = []
    for node, templated in _strings(tree):
        if not isinstance(node.value, str) or "import" not in node.value:
            continue
        parsed = _parse(_dedent(node.value))
        if parsed is None or (_only_imports(parsed) and not templated):
            continue
        hits = sorted(_imported(parsed) & names)
        if hits:
            found.append(QuotedTemplate(node.lineno, tuple(hits)))
    return tuple(found)


def _dedent(value: str) -> str:
    import textwrap

    return textwrap.dedent(value)


def _parse_file(code: bytes) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def rewrite_quoted_imports(
    code: bytes, names: frozenset[str], rewrite: Callable[[bytes], bytes]
) -> tuple[bytes, int]:
    """Rewrite literals quoting import statements of ``names`` with ``rewrite``; and how many.

    Only single-line literals whose body is exactly their value (no escapes) are touched, so
    the edit is a byte-exact splice and nothing else in the file moves.
    """
    if b"import" not in code:
        return code, 0
    tree = _parse_file(code)
    if tree is None:
        return code, 0
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(code).readline)
        lines = code.decode(encoding).splitlines(keepends=True)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return code, 0
    edits = [
        edit for node, templated in _strings(tree)
        if not templated and (edit := _edit(node, lines, names, rewrite)) is not None
    ]
    for index, start, end, new in sorted(edits, reverse=True):
        lines[index] = lines[index][:start] + new + lines[index][end:]
    if not edits:
        return code, 0
    return "".join(lines).encode(encoding), len(edits)


def _edit(
    node: ast.Constant, lines: list[str], names: frozenset[str],
    rewrite: Callable[[bytes], bytes],
) -> tuple[int, int, int, str] | None:
    """(line index, start, end, new text) for one literal quoting imports, else None."""
    value = node.value
    if not isinstance(value, str):
        return None
    if "import" not in value or node.lineno != node.end_lineno or node.end_col_offset is None:
        return None
    parsed = _parse(value)
    if parsed is None or not _only_imports(parsed) or not _imported(parsed) & names:
        return None
    line = lines[node.lineno - 1]
    raw = line.encode("utf-8")
    start = len(raw[: node.col_offset].decode("utf-8"))
    end = len(raw[: node.end_col_offset].decode("utf-8"))
    literal = line[start:end]
    body_at = literal.find(value)
    if body_at < 0 or literal.count(value) != 1 or "\\" in literal:
        return None
    new_value = rewrite(value.encode("utf-8")).decode("utf-8")
    if new_value == value:
        return None
    return node.lineno - 1, start + body_at, start + body_at + len(value), new_value
