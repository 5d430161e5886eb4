"""Rewrite one file: bytes in, bytes out; the pure core of the rewriter.

Fast path (issue 2 "Speed"): a regex pre-filter skips files that cannot mention a workspace
name; ``ast`` (C speed) locates candidate statements and expressions, visiting only the lines a
name appears on; libcst parses and rewrites just those snippets, which are spliced back into the
original text.  Everything outside a snippet keeps its exact bytes by construction.  When the fast
path cannot be used (``ast`` of this interpreter rejects newer syntax, or a snippet does not parse
on its own) the same transformers run over a full libcst parse of the file.
"""

from __future__ import annotations

import ast
import bisect
import io
import itertools
import re
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

# libcst (and the transformers built on it) is imported only where a file is really parsed
# ("lazy" below): importing it costs more than a whole no-op build, which serves every file from
# the cache (issue 4, "Speed").

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    import libcst as cst

__all__ = ["ImportRef", "Problem", "SourceResult", "rewrite_source", "term_pattern"]

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Line breaks for str.splitlines() that are not line breaks for Python's tokenizer.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SYS_MODULES_CALLS = frozenset(
    {"get", "pop", "setdefault", "update", "__getitem__", "__setitem__", "__delitem__",
     "__contains__"}
)
_IMPORT_CALLS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Problem:
    """A problem in user code, located for ``path:line:col`` reporting."""

    path: str
    """The file, as the caller named it."""
    line: int
    """1-based line."""
    col: int
    """1-based column."""
    message: str
    """What is wrong, one line."""

    def __str__(self) -> str:
        """``path:line:col: message``, the form editors and CI annotations understand."""
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass(frozen=True)
class ImportRef:
    """One import in the *rewritten* code, for the closure check."""

    line: int
    """1-based line of the import."""
    col: int
    """1-based column."""
    level: int
    """Relative-import level (0: absolute)."""
    module: str
    """The imported module (after rewriting); empty for ``from . import x``."""
    names: tuple[str, ...] = ()
    """For ``from m import a, b``: the imported names (each may be a submodule)."""


@dataclass(frozen=True)
class SourceResult:
    """The outcome of rewriting one file."""

    code: bytes
    """The rewritten file (the input itself when nothing changed)."""
    changed: bool
    """Whether ``code`` differs from the input."""
    references: Mapping[str, int] = field(default_factory=dict)
    """References rewritten, counted by kind (``import``, ``from_import``, ``sys_modules``, ...)."""
    problems: tuple[Problem, ...] = ()
    """User-code problems (syntax errors, undecodable bytes); ``code`` is the input then."""
    imports: tuple[ImportRef, ...] = ()
    """Imports of workspace, package or watched names in the result, for the closure check."""
    parsed: bool = True
    """False when the pre-filter proved the file cannot mention a name and it was not parsed."""


@lru_cache(maxsize=64)
def term_pattern(terms: frozenset[str]) -> re.Pattern[str]:
    """A regex finding any of ``terms`` as a whole word."""
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b" if terms else r"(?!x)x")


@lru_cache(maxsize=64)
def _byte_pattern(terms: frozenset[str]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(t.encode()) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rb"\b(?:" + alternatives + rb")\b" if terms else rb"(?!x)x")


def _may_mention(code: bytes, terms: frozenset[str]) -> bool:
    """The cheap textual pre-filter: False only if no term can appear in the file."""
    if all(t.isascii() for t in terms):
        return _byte_pattern(terms).search(code) is not None
    # A non-ASCII name may be encoded differently by a coding cookie: compare text.
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(code).readline)
        text = code.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return True
    return term_pattern(terms).search(text) is not None


class _Unsupported(Exception):  # noqa: N818 - internal signal, never escapes this module
    """The fast path cannot handle this file; use the full libcst parse."""


class _Text:
    """Decoded source with ast-position (line, UTF-8 byte column) to text-offset mapping."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        if _OTHER_BREAKS.search(text) is None:
            # splitlines() agrees with Python's tokenizer here, and runs at C speed.
            lengths = map(len, text.splitlines(keepends=True))
            self.starts = [0, *itertools.accumulate(lengths)]
            if self.starts[-1] == len(text) and len(self.starts) > 1:
                self.starts.pop()
            if text.endswith(("\n", "\r")):
                self.starts.append(len(text))
        else:
            self.starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]

    def offset(self, line: int, col: int) -> int:
        start = self.starts[line - 1]
        if self.ascii:
            return start + col
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return start + len(self.text[start:end].encode("utf-8")[:col].decode("utf-8"))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_modules_attr(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "modules"


def _call_candidate(node: ast.Call) -> bool:
    """A superset of the calls ModuleStringRewriter.leave_Call rewrites."""
    from tooling.rewrite._transform import CALL_NAMES  # noqa: PLC0415 - lazy

    last = _last_name(node.func)
    if last not in CALL_NAMES:
        return False
    if last in _SYS_MODULES_CALLS:
        return isinstance(node.func, ast.Attribute) and _is_modules_attr(node.func.value)
    if last in {"setitem", "delitem"}:
        return bool(node.args) and _is_modules_attr(node.args[0])
    if last == "run":
        return isinstance(node.func, ast.Attribute) and _last_name(node.func.value) == "uvicorn"
    return True


def _is_name_attr(node: ast.expr) -> bool:
    from tooling.rewrite._transform import MODULE_NAME_ATTRS  # noqa: PLC0415 - lazy

    if isinstance(node, ast.Name):
        return node.id == "__name__"
    return isinstance(node, ast.Attribute) and node.attr in MODULE_NAME_ATTRS


def _expr_candidate(node: ast.AST) -> bool:
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


def _statement_candidate(node: ast.AST) -> bool:
    """``pytest_plugins = ...``: rewritten as a statement (the target gives the position)."""
    from tooling.rewrite._transform import PYTEST_PLUGINS  # noqa: PLC0415 - lazy

    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == PYTEST_PLUGINS
    )


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
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _statement_candidate(node):
            yield node
            continue
        if isinstance(node, ast.JoinedStr):
            continue
        if isinstance(node, ast.expr) and _expr_candidate(node):
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
    import libcst as cst  # noqa: PLC0415 - lazy

    from tooling.rewrite._transform import ImportRewriter  # noqa: PLC0415 - lazy

    module = cst.parse_module(snippet)
    rewriter = ImportRewriter(names, package)
    return module.visit(rewriter).code, _pack(rewriter.counts)


@lru_cache(maxsize=1024)
def _rewrite_strings_statement(
    snippet: str, names: frozenset[str], package: str
) -> tuple[str, str]:
    """Rewrite the module-name strings of one non-import statement (``pytest_plugins = ...``)."""
    import libcst as cst  # noqa: PLC0415 - lazy

    from tooling.rewrite._transform import ModuleStringRewriter  # noqa: PLC0415 - lazy

    rewriter = ModuleStringRewriter(names, package)
    return cst.parse_module(snippet).visit(rewriter).code, _pack(rewriter.counts)


@lru_cache(maxsize=8192)
def _rewrite_expression(snippet: str, names: frozenset[str], package: str) -> tuple[str, str]:
    """Rewrite one candidate expression; returns (new text, packed kind counts)."""
    import libcst as cst  # noqa: PLC0415 - lazy

    from tooling.rewrite._transform import ModuleStringRewriter  # noqa: PLC0415 - lazy

    expression = cst.parse_expression(snippet)
    rewriter = ModuleStringRewriter(names, package)
    new = expression.visit(rewriter)
    if not isinstance(new, cst.CSTNode):  # pragma: no cover - expressions are never removed
        raise _Unsupported
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
    if not isinstance(node, ast.Call) or _last_name(node.func) not in _IMPORT_CALLS:
        return None
    if not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    value = node.args[0].value
    if not isinstance(value, str) or value.startswith("."):
        return None
    return ImportRef(node.lineno, node.col_offset + 1, 0, _prefixed_module(value, names, package))


def _hit_lines(text: _Text, pattern: re.Pattern[str]) -> list[int]:
    """Sorted 1-based lines holding a term: one regex search per such line."""
    hits: list[int] = []
    position = 0
    starts = text.starts
    while (match := pattern.search(text.text, position)) is not None:
        line = text.line_of(match.start())
        hits.append(line)
        if line >= len(starts):
            break
        position = starts[line]
    return hits


def _fast(  # noqa: C901, PLR0912 - locate, rewrite and splice read best as one loop
    code: bytes, text: _Text, names: frozenset[str], package: str, terms: frozenset[str]
) -> tuple[str, Counter[str], list[ImportRef]]:
    import libcst as cst  # noqa: PLC0415 - lazy

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        raise _Unsupported from exc
    hits = _hit_lines(text, term_pattern(terms))
    counts: Counter[str] = Counter()
    imports: list[ImportRef] = []
    edits: list[tuple[int, int, str]] = []
    for node in _walk(tree, hits):
        assert isinstance(node, (ast.stmt, ast.expr))  # noqa: S101 - _walk yields only these
        end_line, end_col = node.end_lineno, node.end_col_offset
        if end_line is None or end_col is None:  # pragma: no cover - parsed code has positions
            raise _Unsupported
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
            raise _Unsupported from exc
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
    from tooling.rewrite._flow import constant_edits  # noqa: PLC0415 - lazy

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


@lru_cache(maxsize=1)
def _import_collector() -> Callable[[list[ImportRef]], cst.CSTVisitor]:
    """The visitor class collecting every import with its position (defined on first use)."""
    import libcst as cst  # noqa: PLC0415 - lazy
    from libcst.metadata import PositionProvider  # noqa: PLC0415 - lazy

    class _ImportCollector(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def __init__(self, refs: list[ImportRef]) -> None:
            super().__init__()
            self.refs = refs

        def _where(self, node: cst.CSTNode) -> tuple[int, int]:
            start = self.get_metadata(PositionProvider, node).start
            return start.line, start.column + 1

        def visit_Import(self, node: cst.Import) -> None:  # noqa: N802 - libcst visitor protocol
            line, col = self._where(node)
            for alias in node.names:
                self.refs.append(ImportRef(line, col, 0, cst.Module([]).code_for_node(alias.name)))

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:  # noqa: N802 - libcst protocol
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
    import libcst as cst  # noqa: PLC0415 - lazy
    from libcst.metadata import MetadataWrapper  # noqa: PLC0415 - lazy

    from tooling.rewrite._transform import (  # noqa: PLC0415 - lazy
        ImportRewriter,
        ModuleStringRewriter,
    )

    module = cst.parse_module(text)
    imports = ImportRewriter(names, package)
    strings = ModuleStringRewriter(names, package)
    new = module.visit(imports).visit(strings)
    refs: list[ImportRef] = []
    MetadataWrapper(new).visit(_import_collector()(refs))
    return new.code, imports.counts + strings.counts, refs


def rewrite_source(
    code: bytes,
    names: frozenset[str],
    package: str,
    *,
    path: str = "<string>",
    watch: frozenset[str] = frozenset(),
) -> SourceResult:
    """Rewrite the workspace imports and module-name strings in one file's bytes.

    ``watch`` adds words (such as the leaf names of excluded modules) that make the pre-filter
    parse a file so its imports reach the closure check.
    """
    terms = names | {package} | watch
    if not _may_mention(code, terms):
        # Not rewritten, but a syntax error must still fail the build rather than ship.
        problem = _compile_problem(path, code)
        problems = () if problem is None else (problem,)
        return SourceResult(code=code, changed=False, problems=problems, parsed=False)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(code).readline)
        text = _Text(code.decode(encoding))
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return SourceResult(code, changed=False, problems=(_problem(path, exc),))
    try:
        new_text, counts, imports = _fast(code, text, names, package, terms)
    except _Unsupported:
        import libcst as cst  # noqa: PLC0415 - lazy

        try:
            new_text, counts, imports = _full(text.text, names, package)
        except cst.ParserSyntaxError as exc:
            return SourceResult(code, changed=False, problems=(_syntax_problem(path, code, exc),))
    if new_text == text.text:
        new_code = code
    else:
        new_code = new_text.encode(encoding)
        if not encoding.startswith("utf-8") and text.text.encode(encoding) != code:
            message = f"{encoding} does not round-trip this file's bytes; save it as UTF-8"
            return SourceResult(code, changed=False, problems=(Problem(path, 1, 1, message),))
    return SourceResult(
        code=new_code,
        changed=new_code != code,
        references={k: v for k, v in sorted(counts.items()) if v},
        imports=tuple(imports),
    )


def _problem(path: str, exc: Exception) -> Problem:
    if isinstance(exc, UnicodeDecodeError):
        return Problem(path, 1, 1, f"cannot decode: {exc.reason} at byte {exc.start}")
    return Problem(path, 1, 1, str(exc))


def _compile_problem(path: str, code: bytes) -> Problem | None:
    try:
        compile(code, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as err:
        return Problem(path, err.lineno or 1, err.offset or 1, err.msg)
    except ValueError as err:  # NUL bytes
        return Problem(path, 1, 1, str(err))
    return None


def _syntax_problem(path: str, code: bytes, exc: cst.ParserSyntaxError) -> Problem:
    """Prefer CPython's own message and position; libcst's when CPython accepts the file."""
    try:
        ast.parse(code)
    except SyntaxError as err:
        return Problem(path, err.lineno or 1, err.offset or 1, err.msg)
    except ValueError as err:
        return Problem(path, 1, 1, str(err))
    return Problem(path, exc.raw_line, exc.raw_column + 1, exc.message)
