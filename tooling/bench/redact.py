"""Benchmark: the secret scrubber on 5 MB of worst-case text, beside 0.5 MB and a plain copy.

Every line the tools print and every journal write goes through ``tooling.secrets.redact``,
and it is applied to untrusted text (commit messages, tool output).  The figures show it stays
linear: ten times the text takes about ten times as long.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from typing import TYPE_CHECKING

from tooling.cli import format_table
from tooling.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable

# Inputs that make a backtracking userinfo pattern quadratic, and one with many redactions.
UNITS = {
    "scheme run": "a" * 64,
    "many ://": "a://",
    "unfinished userinfo": "aaaa://bbbb:",
    "redact every 6 chars": "a://b@",
    "long scheme and userinfo": "a" * 50 + "://" + "b" * 50 + "@",
}


def _best(reps: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.bench redact [--quick]``: print the table; never a pass/fail."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench redact", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition, not three")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else 3
    rows = []
    for name, unit in UNITS.items():
        small = unit * (500_000 // len(unit))
        large = unit * (5_000_000 // len(unit))
        t_small = _best(reps, functools.partial(redact, small))
        t_large = _best(reps, functools.partial(redact, large))
        t_copy = _best(reps, functools.partial(large.encode, "utf-8"))  # one plain pass
        rows.append([name, f"{t_small:.3f} s", f"{t_large:.3f} s",
                     f"{t_large / max(t_small, 1e-9):.1f}x", f"{t_copy:.4f} s"])
    print(format_table(["input", "0.5 MB", "5 MB", "5 MB / 0.5 MB", "encode 5 MB"], rows,
                       rule=True))
    print("linear: the 5 MB / 0.5 MB column stays near 10x (quadratic would be 100x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
