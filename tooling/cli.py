"""The output sink every ``main(argv)`` shares: errors to exit codes, annotations, progress, tables.

Everything printed here is scrubbed of secrets once, on the way out.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tooling.errors import ToolingError
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["annotate", "format_table", "guarded", "report_error", "step"]


def guarded(work: Callable[[], int]) -> int:
    """Run ``work``; a ToolingError becomes ``error: ...`` and its exit code.

    Anything else keeps its traceback: it is a bug, not bad input.
    """
    try:
        return work()
    except ToolingError as exc:
        return report_error(exc)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


@contextmanager
def step(name: str, *, quiet: bool = False) -> Iterator[None]:
    """Print one line as a step starts and one as it ends, with its duration."""
    start = time.perf_counter()
    if not quiet:
        print(f"==> {name}", file=sys.stderr, flush=True)
    try:
        yield
    except BaseException:
        if not quiet:
            took = time.perf_counter() - start
            print(f"<== {name}: failed after {took:.2f}s", file=sys.stderr, flush=True)
        raise
    if not quiet:
        took = time.perf_counter() - start
        print(f"<== {name}: done in {took:.2f}s", file=sys.stderr, flush=True)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, rule: bool = False
) -> str:
    """A plain fixed-width table (readable in any log), every cell scrubbed of secrets.

    Columns are two spaces apart; ``rule`` adds a line of dashes under the headers.
    """
    cells = [[redact(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    ruled = ["  ".join("-" * w for w in widths)] if rule else []
    return "\n".join([line(headers), *ruled, *(line(r) for r in cells)])


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
    message = redact(exc.message)
    where = _Location(exc.path, exc.line, exc.col)
    print(f"error: {message}", file=sys.stderr, flush=True)
    annotate("error", message, path=where.path, line=where.line, col=where.col)
    return exc.exit_code
