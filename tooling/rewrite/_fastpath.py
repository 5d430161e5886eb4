"""The fast path: ``ast`` locates candidates, libcst rewrites just those snippets, spliced back."""

from __future__ import annotations

import ast
import bisect
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from tooling.rewrite._candidates import (
    IMPORT_CALLS,
    Unsupported,
    expr_candidate,
    last_name,
    statement_candidate,
)
from tooling.rewrite._results import ImportRef
from tooling.rewrite._text import _hit_lines, term_pattern

# ``ast`` (C speed) visits only the lines a name appears on; each candidate is rewritten on its
# own, so everything outside a snippet keeps its exact bytes by construction.  libcst (and the
# transformers built on it) is imported only where a file is really parsed ("lazy" below):
# importing it costs more than a whole no-op build, which serves every file from the cache
# (docs/rewrite.md, "Speed").

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tooling.rewrite._text import _Text

__all__: list[str] = []

def _walk(tree: ast.AST, hits: list[int]) -> Iterator[ast.AST]:
    """Yield import statements and outermost candidate expressions on lines with a hit."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        lineno = getattr(node, "lineno", None)
        if lineno is not None:
            end = getattr(node, "end_lineno", lineno) or lineno
            i = bisect.bisect_left(hits, lineno)
            if i == len(hits) or hits[i] > end:
                continue
        if isinstance(node, (ast.Import, ast.ImportFrom)) or statement_candidate(node):
            yield node
            continue
        if isinstance(node, ast.JoinedStr):
            continue
        if isinstance(node, ast.expr) and expr_candidate(node):
            yield node
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


_IMPORT_KEYWORD = re.compile(r"\bimport\b")


def _rewrite_statement(snippet: str, names: frozenset[str], package: str) -> tuple[str, str]:
    """Rewrite one import statement; returns (new text, kind counts as 'kind=n,...').

    Only the head of ``from M import (...long list...)`` can change, so libcst sees
    ``from M import _`` alone: a long name list costs nothing and heads repeat (memoized).
    Between ``from`` and ``import`` there is no string or comment, so the first ``import``
    word is the keyword.
    """
    if snippet.startswith("from"):
        keyword = _IMPORT_KEYWORD.search(snippet, 4)
        if keyword is not None:
            head = snippet[: keyword.start()]
            new_head, packed = _rewrite_statement_text(f"{head}import _", names, package)
            return new_head[: -len("import _")] + snippet[keyword.start() :], packed
    return _rewrite_statement_text(snippet, names, package)


@lru_cache(maxsize=8192)
def _rewrite_statement_text(snippet: str, names: frozenset[str], package: str) -> tuple[str, str]:
    import libcst as cst

    from tooling.rewrite._imports import ImportRewriter

    module = cst.parse_module(snippet)
    rewriter = ImportRewriter(names, package)
    return module.visit(rewriter).code, _pack(rewriter.counts)


@lru_cache(maxsize=1024)
def _rewrite_strings_statement(
    snippet: str, names: frozenset[str], package: str
) -> tuple[str, str]:
    """Rewrite the module-name strings of one non-import statement (``pytest_plugins = ...``)."""
    import libcst as cst

    from tooling.rewrite._strings import ModuleStringRewriter

    rewriter = ModuleStringRewriter(names, package)
    return cst.parse_module(snippet).visit(rewriter).code, _pack(rewriter.counts)


@lru_cache(maxsize=8192)
def _rewrite_expression(snippet: str, names: frozenset[str], package: str) -> tuple[str, str]:
    """Rewrite one candidate expression; returns (new text, packed kind counts)."""
    import libcst as cst

    from tooling.rewrite._strings import ModuleStringRewriter

    expression = cst.parse_expression(snippet)
    rewriter = ModuleStringRewriter(names, package)
    new = expression.visit(rewriter)
    if not isinstance(new, cst.CSTNode):  # pragma: no cover - expressions are never removed
        raise Unsupported
    return cst.Module([]).code_for_node(new), _pack(rewriter.counts)


def _pack(counts: Mapping[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(counts.items()) if v)


def _unpack(packed: str) -> Iterable[tuple[str, int]]:
    for item in filter(None, packed.split(",")):
        kind, _, count = item.partition("=")
        yield kind, int(count)


def _prefixed_module(module: str, names: frozenset[str], package: str) -> str:
    return f"{package}.{module}" if module.split(".", 1)[0] in names else module


def _import_refs(
    node: ast.Import | ast.ImportFrom, changed: bool, names: frozenset[str], package: str
) -> Iterator[ImportRef]:
    """The imports of one statement as they read after rewriting."""
    col = node.col_offset + 1
    if isinstance(node, ast.Import):
        for alias in node.names:
            module = _prefixed_module(alias.name, names, package) if changed else alias.name
            yield ImportRef(node.lineno, col, 0, module)
        return
    module = node.module or ""
    if node.level == 0 and changed:
        module = _prefixed_module(module, names, package)
    yield ImportRef(node.lineno, col, node.level, module, tuple(a.name for a in node.names))


def _call_ref(node: ast.AST, names: frozenset[str], package: str) -> ImportRef | None:
    """``import_module("a.b")`` / ``__import__("a.b")`` as the closure check sees it."""
    if not isinstance(node, ast.Call) or last_name(node.func) not in IMPORT_CALLS:
        return None
    if not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    value = node.args[0].value
    if not isinstance(value, str) or value.startswith("."):
        return None
    return ImportRef(node.lineno, node.col_offset + 1, 0, _prefixed_module(value, names, package))


def _fast(  # noqa: C901, PLR0912 - locate, rewrite and splice read best as one loop
    code: bytes, text: _Text, names: frozenset[str], package: str, terms: frozenset[str]
) -> tuple[str, Counter[str], list[ImportRef]]:
    import libcst as cst

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        raise Unsupported from exc
    hits = _hit_lines(text, term_pattern(terms))
    counts: Counter[str] = Counter()
    imports: list[ImportRef] = []
    edits: list[tuple[int, int, str]] = []
    for node in _walk(tree, hits):
        assert isinstance(node, (ast.stmt, ast.expr))  # noqa: S101 - _walk yields only these
        end_line, end_col = node.end_lineno, node.end_col_offset
        if end_line is None or end_col is None:  # pragma: no cover - parsed code has positions
            raise Unsupported
        start = text.offset(node.lineno, node.col_offset)
        end = text.offset(end_line, end_col)
        snippet = text.text[start:end]
        is_import = isinstance(node, (ast.Import, ast.ImportFrom))
        try:
            if is_import:
                new, packed = _rewrite_statement(snippet, names, package)
            elif isinstance(node, ast.stmt):
                new, packed = _rewrite_strings_statement(snippet, names, package)
            elif term_pattern(names).search(snippet):
                new, packed = _rewrite_expression(snippet, names, package)
            else:
                new, packed = snippet, ""
        except cst.ParserSyntaxError as exc:
            raise Unsupported from exc
        counts.update(dict(_unpack(packed)))
        if new != snippet:
            edits.append((start, end, new))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.extend(_import_refs(node, new != snippet, names, package))
        else:
            for sub in ast.walk(node):
                ref = _call_ref(sub, names, package)
                if ref is not None:
                    imports.append(ref)
    from tooling.rewrite._flow import constant_edits

    flow = constant_edits(tree, text, names, package)
    if flow:
        taken = sorted(edits)
        for edit in flow:
            i = bisect.bisect_left(taken, edit)
            if (i == 0 or taken[i - 1][1] <= edit[0]) and (
                i == len(taken) or edit[1] <= taken[i][0]
            ):
                edits.append(edit)
                counts["constant"] += 1
    pieces: list[str] = []
    last = 0
    for start, end, new in sorted(edits):
        pieces.extend((text.text[last:start], new))
        last = end
    pieces.append(text.text[last:])
    return "".join(pieces), counts, imports
