"""What every ``main(argv)`` shares: mapping errors to exit codes, and step progress lines."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tooling.errors import ToolingError, report_error
from tooling.proc import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["format_table", "guarded", "step"]


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
