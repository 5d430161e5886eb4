"""The rewriter's per-file result types: problems, import references and the file result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ImportRef", "Problem", "SourceResult"]


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
