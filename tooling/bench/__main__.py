"""``python -m tooling.bench [NAME ...]``: run the stage benchmarks (never a pass/fail test)."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from tooling.cli import guarded

# Each module has ``main(argv) -> int`` and prints its own table.
BENCHMARKS = ("rewrite", "build", "apidiff", "cascade", "redact")
# Run only when named: the corpus downloads real projects from the package index.  As a
# benchmark it only times the rewrite on them (their tests run under ``nox -s corpus``).
OPT_IN = ("corpus",)
ARGS = {"corpus": ["--speed-only"]}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (default: all) one after another."""
    parser = argparse.ArgumentParser(prog="nox -s bench --", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, *OPT_IN, []], default=[])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller inputs")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)

    def work() -> int:
        status = 0
        for name in names:
            module = importlib.import_module(f"tooling.bench.{name}")
            print(f"\n## bench: {name}", flush=True)
            start = time.perf_counter()
            status |= module.main([*ARGS.get(name, []), *(["--quick"] if args.quick else [])])
            print(f"(bench {name} took {time.perf_counter() - start:.1f}s)", flush=True)
        return status

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
