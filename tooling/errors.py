"""The one root exception of the pipeline.  A leaf: it imports nothing of ours."""

from __future__ import annotations

import os

__all__ = ["ToolingError"]


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
