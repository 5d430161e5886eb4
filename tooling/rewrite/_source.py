"""Rewrite one file, bytes in and result out: the pure core that picks fast path or fallback."""

from __future__ import annotations

import ast
import io
import tokenize
from typing import TYPE_CHECKING

from tooling.rewrite._candidates import Unsupported
from tooling.rewrite._code import set_code_rewriter
from tooling.rewrite._fallback import _full
from tooling.rewrite._fastpath import _fast
from tooling.rewrite._results import ImportRef, Problem, SourceResult
from tooling.rewrite._text import _may_mention, _Text, term_pattern

# Speed (docs/rewrite.md): a regex pre-filter skips files that cannot mention a workspace
# name; the fast path (_fastpath) rewrites only the snippets ``ast`` locates.  When it cannot
# be used (``ast`` of this interpreter rejects newer syntax, or a snippet does not parse on its
# own) the same transformers run over a full libcst parse of the file (_fallback).  libcst
# itself is imported only where a file is really parsed ("lazy" below): importing it costs more
# than a whole no-op build, which serves every file from the cache.

if TYPE_CHECKING:
    import libcst as cst

__all__ = ["ImportRef", "Problem", "SourceResult", "rewrite_source", "term_pattern"]


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
    except Unsupported:
        import libcst as cst

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


def _rewrite_code(code: bytes, names: frozenset[str], package: str) -> bytes | None:
    result = rewrite_source(code, names, package, path="<-c>")
    return None if result.problems or not result.changed else result.code


set_code_rewriter(_rewrite_code)
