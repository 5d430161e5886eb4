"""Rewriter benchmark: copy, regex (the predecessor), cold, warm, one file changed, side by side.

Trees: the bundled ``workspace/`` and a large real tree, pygments, downloaded once as an sdist
from the package index into ``.cache/bench/`` (its top-level package is the name set, so every
module really gets rewritten).  A figure is the best of N runs (3N for the sub-second copy,
regex and warm figures); ratios are to the regex rewrite and to the plain copy.  "warm" rewrites
into the same OUT again (the no-op check), "warm,new" into a new OUT from the warm cache (what
the build's stage does).  A benchmark, never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.config import find_root
from tooling.errors import ToolingError
from tooling.proc import run
from tooling.rewrite import discover_names, rewrite_tree

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["best", "main", "regex_rewrite"]

PYGMENTS = "pygments==2.19.1"
PACKAGE = "molecule_runtime"


@dataclass(frozen=True)
class Figures:
    """Best-of-N seconds of each way to produce the package from one tree."""

    tree: str
    """What was rewritten."""
    files: int
    """Files in the tree."""
    copy: float
    """A plain copy (the I/O floor)."""
    regex: float
    """Copy plus a regex rewrite over the same names (what the predecessor did)."""
    cold: float
    """rewrite_tree with an empty cache."""
    warm: float
    """rewrite_tree again into the same OUT, nothing changed (the no-op check)."""
    warm_new: float
    """rewrite_tree into a new OUT, warm cache (what the build's stage does)."""
    one_changed: float
    """rewrite_tree after one file changed."""


def best(action: Callable[[], object], runs: int) -> float:
    """The fastest of ``runs`` timed calls of ``action``, in seconds."""
    fastest = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def regex_rewrite(
    source: Path, out: Path, names: frozenset[str], package: str = PACKAGE
) -> None:
    """The predecessor: one regex over import lines, applied to every .py file."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out)
    alternatives = "|".join(sorted(names))
    pattern = re.compile(rf"^(\s*)(from|import)\s+({alternatives})\b", re.MULTILINE)
    for path in out.rglob("*.py"):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        new = pattern.sub(rf"\1\2 {package}.\3", text)
        if new != text:
            path.write_text(new, encoding="utf-8", errors="surrogateescape")


def measure(tree: str, source: Path, work: Path, runs: int, jobs: int | None) -> Figures:
    """Time the five ways on ``source``."""
    names = discover_names(source)
    out = work / "out"
    def plain_copy() -> None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(source, out)

    # Sub-second figures are the noisiest on a shared machine: take the best of more runs.
    quick = runs * 3
    copy = best(plain_copy, quick)
    regex = best(lambda: regex_rewrite(source, out, names), quick)

    def cold_run() -> None:
        cache = Path(tempfile.mkdtemp(dir=work))
        rewrite_tree(source, PACKAGE, out, jobs=jobs, cache_dir=cache)

    cold = best(cold_run, runs)
    cache = work / "cache"
    rewrite_tree(source, PACKAGE, out, jobs=jobs, cache_dir=cache)
    warm = best(lambda: rewrite_tree(source, PACKAGE, out, jobs=jobs, cache_dir=cache), quick)
    fresh = iter(range(quick))

    def warm_new_out() -> None:
        rewrite_tree(source, PACKAGE, work / f"new-{next(fresh)}", jobs=jobs, cache_dir=cache)

    warm_new = best(warm_new_out, quick)
    victim = max(source.rglob("*.py"), key=lambda p: p.stat().st_size)
    original = victim.read_bytes()
    one_changed = float("inf")
    try:
        for edit in range(runs):
            victim.write_bytes(original + f"\n# bench edit {edit}\n".encode())
            start = time.perf_counter()
            rewrite_tree(source, PACKAGE, out, jobs=jobs, cache_dir=cache)
            one_changed = min(one_changed, time.perf_counter() - start)
    finally:
        victim.write_bytes(original)
    files = sum(1 for p in source.rglob("*") if p.is_file())
    return Figures(tree, files, copy, regex, cold, warm, warm_new, one_changed)


def _pygments_tree(cache_dir: Path, work: Path) -> Path:
    """Download (once) the pygments sdist; return a SRC holding its top-level package."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    archives = sorted(cache_dir.glob("pygments-*.tar.gz"))
    if not archives:
        run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--disable-pip-version-check", PYGMENTS, "-d", cache_dir],
            timeout=300, what="pip download pygments",
        )
        archives = sorted(cache_dir.glob("pygments-*.tar.gz"))
    if not archives:
        raise ToolingError(f"{cache_dir}: pip download left no pygments sdist")
    with tarfile.open(archives[-1]) as archive:
        archive.extractall(work / "sdist", filter="data")
    (package,) = (work / "sdist").glob("pygments-*/pygments")
    source = work / "pygments-src"
    source.mkdir()
    shutil.copytree(package, source / "pygments")
    return source


def _print(figures: list[Figures]) -> None:
    print(f"{'tree':<12} {'files':>6} {'copy':>8} {'regex':>8} {'cold':>8} {'warm':>8} "
          f"{'warm,new':>9} {'1 changed':>10}   cold/regex  warm/copy  warm,new/copy")
    for f in figures:
        print(f"{f.tree:<12} {f.files:>6} {f.copy:>7.3f}s {f.regex:>7.3f}s {f.cold:>7.3f}s "
              f"{f.warm:>7.3f}s {f.warm_new:>8.3f}s {f.one_changed:>9.3f}s   "
              f"{f.cold / f.regex:>9.1f}x {f.warm / f.copy:>9.2f}x {f.warm_new / f.copy:>13.2f}x")


def main(argv: list[str] | None = None) -> int:
    """Print the rewriter figures for the bundled workspace and for pygments."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench rewrite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument("--jobs", type=int, default=None, help="rewriter processes")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else 3
    root = find_root()
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench-rewrite-") as temp:
        work = Path(temp)
        workspace = root / "workspace"
        if workspace.is_dir() and any(workspace.rglob("*.py")):
            copy = work / "workspace-src"
            shutil.copytree(workspace, copy, ignore=shutil.ignore_patterns("__pycache__", "tests"))
            (work / "ws").mkdir()
            figures.append(measure("workspace", copy, work / "ws", runs, args.jobs))
        else:
            print("workspace/: no Python files yet, skipped")
        try:
            source = _pygments_tree(root / ".cache" / "bench", work)
        except ToolingError as exc:
            print(f"pygments: skipped ({exc})")
        else:
            (work / "pyg").mkdir()
            figures.append(measure("pygments", source, work / "pyg", runs, args.jobs))
    print(f"rewrite benchmark, best of {runs} (copy, regex, warm: {runs * 3}), "
          f"jobs={args.jobs or os.cpu_count()}:")
    _print(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
