"""What every ``main(argv)`` shares: mapping errors to exit codes, and step progress lines."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tooling.errors import ToolingError, report_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["guarded", "step"]


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
