"""The one root exception of the pipeline and the way errors reach the user."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

__all__ = ["ToolingError", "annotate", "report_error"]


class ToolingError(Exception):
    """A failure the user can act on: one line naming the file, field or value, then what to do.

    ``path`` and ``line`` locate the cause for CI annotations when it lives in a file;
    ``exit_code`` lets a caller pick a code other than 1 (drift uses 2 for real errors).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        col: int | None = None,
        exit_code: int = 1,
    ) -> None:
        """Keep the message and where it points."""
        super().__init__(message)
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.col = col
        self.exit_code = exit_code

    def __str__(self) -> str:
        """Return the one-line message."""
        return self.message


@dataclass(frozen=True)
class _Location:
    path: str | None
    line: int | None
    col: int | None


def _in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITEA_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    # Workflow-command escaping, so a message with a newline or % stays one annotation.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(
    level: str,
    message: str,
    *,
    path: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> None:
    """Print an Actions annotation (``::error file=...,line=...::msg``) under GitHub or Gitea."""
    if not _in_actions():
        return
    props = []
    if path:
        props.append(f"file={_escape_property(path)}")
    if line:
        props.append(f"line={line}")
    if col:
        props.append(f"col={col}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    print(f"{head}::{_escape_data(message)}", flush=True)


def report_error(exc: ToolingError) -> int:
    """Print ``error: ...`` (and an annotation under Actions); return the exit code."""
    # Imported here: tooling.proc imports this module for ToolingError.
    from tooling.proc import redact  # noqa: PLC0415

    message = redact(exc.message)
    where = _Location(exc.path, exc.line, exc.col)
    print(f"error: {message}", file=sys.stderr, flush=True)
    annotate("error", message, path=where.path, line=where.line, col=where.col)
    return exc.exit_code
