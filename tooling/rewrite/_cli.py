"""``python -m tooling.rewrite``: the rewriter alone, on any tree."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tooling.cli import guarded
from tooling.config import find_root
from tooling.errors import ToolingError
from tooling.rewrite._tree import TreeResult, rewrite_tree

__all__ = ["main", "summary"]


def summary(result: TreeResult) -> dict[str, object]:
    """The machine-readable summary printed by ``--json``."""
    return {
        "package_dir": str(result.package_dir),
        "tests_dir": str(result.tests_dir) if result.tests_dir else None,
        "names": sorted(result.names),
        "files_seen": result.files_seen,
        "rewritten": result.rewritten,
        "copied": result.copied,
        "prefiltered": result.prefiltered,
        "cached": result.cached,
        "references": dict(result.references),
        "seconds": round(result.seconds, 3),
    }


def _default_cache() -> Path | None:
    try:
        return find_root() / ".cache" / "rewrite"
    except ToolingError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Rewrite SRC into OUT/PKG (and TESTS into TESTS_OUT); exit 0, or 1 with one error line."""
    parser = argparse.ArgumentParser(
        prog="python -m tooling.rewrite",
        description="Rewrite a tree of bare modules into one namespaced package.",
    )
    parser.add_argument("--source", required=True, type=Path, help="the bare-module tree (SRC)")
    parser.add_argument("--package", required=True, help="the import package to create (PKG)")
    parser.add_argument("--out", required=True, type=Path, help="OUT: receives OUT/PKG/")
    parser.add_argument("--tests", type=Path, help="a test tree to rewrite against PKG")
    parser.add_argument("--tests-out", type=Path, help="where the rewritten tests go")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="never ship paths matching GLOB (relative to SRC; repeatable)")
    parser.add_argument("--alias", action="append", default=[], metavar="NAME",
                        help="keep bare NAME importable through a deprecation hook (repeatable)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel parser processes (default: all cores)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="result cache (default: .cache/rewrite under the project root)")
    parser.add_argument("--no-cache", action="store_true", help="parse every file afresh")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = parser.parse_args(argv)

    def work() -> int:
        if args.jobs is not None and args.jobs < 1:
            raise ToolingError(f"--jobs {args.jobs}: must be 1 or more")
        cache = None if args.no_cache else (args.cache_dir or _default_cache())
        result = rewrite_tree(
            args.source,
            args.package,
            args.out,
            tests=args.tests,
            tests_out=args.tests_out,
            exclude=args.exclude,
            jobs=args.jobs or os.cpu_count(),
            cache_dir=cache,
            aliases=args.alias,
        )
        if args.json:
            print(json.dumps(summary(result), indent=2))
        else:
            refs = ", ".join(f"{k} {v}" for k, v in result.references.items()) or "none"
            print(
                f"rewrote {result.rewritten} of {result.files_seen} files into "
                f"{result.package_dir} ({result.prefiltered} pre-filtered, {result.cached} "
                f"cached; references: {refs}) in {result.seconds:.2f}s"
            )
        return 0

    return guarded(work)
