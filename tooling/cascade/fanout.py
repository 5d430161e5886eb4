"""Running one job per consumer in parallel, showing them as they finish, and the final table.

A live display (rich) on a terminal; plain lines, one per finished consumer, when output is
not a terminal or `CI=true`, so logs stay readable.  Everything goes to stderr: stdout is kept
for the table or `--json`.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Self, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["DEFAULT_MAX_JOBS", "default_jobs", "fan_out", "live_display"]

DEFAULT_MAX_JOBS = 16
_T = TypeVar("_T")
_R = TypeVar("_R")


def default_jobs(count: int, jobs: int | None) -> int:
    """Workers to use: ``jobs`` if given, else one per item up to 16 (git work mostly waits)."""
    if jobs is not None and jobs > 0:
        return jobs
    return max(1, min(DEFAULT_MAX_JOBS, count))


def live_display() -> bool:
    """Whether to draw a live display: stderr is a terminal and this is not CI."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


def fan_out(
    items: Sequence[_T],
    work: Callable[[_T], _R],
    *,
    jobs: int | None,
    describe: Callable[[_R], str] | None = None,
    title: str = "consumers",
) -> list[_R]:
    """Run ``work`` on every item with up to ``jobs`` threads; results in input order.

    ``work`` must not raise: each job turns its own failure into a result, so one consumer
    never stops the others.  ``describe`` renders a finished result for the progress display
    (None: no display).
    """
    results: dict[int, _R] = {}
    workers = default_jobs(len(items), jobs)
    if not items:
        return []
    with (
        _Display(len(items), title, enabled=describe is not None) as display,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool,
    ):
        futures = {pool.submit(work, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if describe is not None:
                display.finished(describe(result))
    return [results[i] for i in range(len(items))]


class _Display:
    def __init__(self, total: int, title: str, *, enabled: bool) -> None:
        self.total = total
        self.title = title
        self.enabled = enabled
        self.done = 0
        self.start = time.perf_counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Self:
        if self.enabled and live_display():
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.title, total=self.total)
        return self

    def finished(self, line: str) -> None:
        self.done += 1
        line = redact(line)
        if self._progress is not None and self._task is not None:
            self._progress.console.print(line, markup=False, highlight=False)
            self._progress.advance(self._task)
            return
        took = time.perf_counter() - self.start
        width = len(str(self.total))
        head = f"[{self.done:>{width}}/{self.total} {took:6.1f}s]"
        print(f"{head} {line}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

