"""Benchmark: api-diff on a large real tree (the pygments sdist) against itself minus one function.

The sdist is the one the rewriter benchmark uses (``pip download --no-binary :all: --no-deps
pygments`` into ``.cache/bench/``).  Its ``pygments/`` package is committed to a temporary git
repository and tagged as a release; then one public function is deleted in the working tree, so
the diff must report exactly that one removal.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.api.compare import compare_api
from tooling.api.diff import api_floor, load_ref_api, load_worktree_api
from tooling.api.values import api_fingerprint
from tooling.cli import guarded
from tooling.config import find_root, load_config
from tooling.errors import ToolingError
from tooling.git import git
from tooling.proc import run

if TYPE_CHECKING:
    from collections.abc import Callable

    from tooling.api.changes import ApiDiff

__all__ = ["BenchTree", "main", "make_tree", "pygments_sdist"]

TAG = "bench-v1.0.0"
VICTIM_MODULE = "pygments/util.py"
PYPROJECT = """\
[project]
name = "pygments-bench"
version = "1.0.0"
requires-python = ">=3.8"

[tool.runtime-build]
source = "src"
package = "pygbench"
tag-prefix = "bench-v"
"""


@dataclass(frozen=True)
class BenchTree:
    """The temporary repository the benchmark diffs."""

    root: Path
    """The repository (released as TAG, one function deleted in the working tree)."""
    removed: str
    """The public path of the deleted function."""
    python_files: int
    """How many .py files the package holds."""


def pygments_sdist(cache: Path) -> Path:
    """The pygments sdist in ``cache``, downloaded with pip the first time."""
    found = sorted(cache.glob("[pP]ygments-*.tar.gz"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
         "--quiet", "pygments", "-d", str(cache)], what="pip download pygments", timeout=600)
    found = sorted(cache.glob("[pP]ygments-*.tar.gz"))
    if not found:
        raise ToolingError(f"{cache}: pip download left no pygments-*.tar.gz; check the index")
    return found[-1]


def _first_public_function(module: Path) -> tuple[str, int, int]:
    tree = ast.parse(module.read_bytes())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return node.name, start, node.end_lineno or node.lineno
    raise ToolingError(f"{module}: no public top-level function to delete")


def _git(root: Path, *args: str) -> None:
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args,
        what=f"git {args[0]}")


def make_tree(sdist: Path, work: Path) -> BenchTree:
    """Unpack ``sdist`` into a git repo released as TAG, then delete one function."""
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "unpacked", filter="data")
    top = next((work / "unpacked").iterdir())
    root = work / "repo"
    shutil.copytree(top / "pygments", root / "src" / "pygments")
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "feat: pygments as released")
    _git(root, "tag", TAG)
    victim = root / "src" / VICTIM_MODULE
    name, start, end = _first_public_function(victim)
    lines = victim.read_text(encoding="utf-8").splitlines(keepends=True)
    victim.write_text("".join(lines[: start - 1] + lines[end:]), encoding="utf-8")
    files = sum(1 for _ in (root / "src").rglob("*.py"))
    module = VICTIM_MODULE.removesuffix(".py").replace("/", ".")
    return BenchTree(root, f"pygbench.{module}.{name}", files)


def _timed(repeat: int, work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def _bench(quick: bool) -> int:
    cache = find_root() / ".cache" / "bench"
    repeat = 1 if quick else 3
    sdist = pygments_sdist(cache)
    with tempfile.TemporaryDirectory(prefix="bench-apidiff-") as tmp:
        tree = make_tree(sdist, Path(tmp))
        config = load_config(tree.root)
        stage = Path(tmp) / "stages"

        def side(which: str) -> None:
            shutil.rmtree(stage, ignore_errors=True)
            if which == "ref":
                load_ref_api(config.root, TAG, stage)
            else:
                load_worktree_api(config, stage)

        ref_times = _timed(repeat, lambda: side("ref"))
        new_times = _timed(repeat, lambda: side("new"))
        old = load_ref_api(config.root, TAG, Path(tmp) / "old").model
        new = load_worktree_api(config, Path(tmp) / "new").model
        compare_times = _timed(repeat, lambda: compare_api(old, new))
        fingerprint_times = _timed(repeat, lambda: api_fingerprint(new))
        diffs: list[ApiDiff] = []
        cold_times = _timed(repeat, lambda: diffs.append(api_floor(config, None, cache=False)))
        api_floor(config, None)  # fills the rewriter cache in the bench repo
        warm_times = _timed(repeat, lambda: diffs.append(api_floor(config, None)))
        diff = diffs[-1]
    rows = [
        ("tree", f"{sdist.name}: {tree.python_files} .py files, {len(new.objects)} public objects"),
        ("stage + load REF (git archive, rewrite, griffe)", _fmt(ref_times)),
        ("stage + load working tree (rewrite, griffe)", _fmt(new_times)),
        ("compare", _fmt(compare_times)),
        ("fingerprint", _fmt(fingerprint_times)),
        ("api-diff end to end, no cache", _fmt(cold_times)),
        ("api-diff end to end, warm rewriter cache", _fmt(warm_times)),
    ]
    width = max(len(r[0]) for r in rows)
    for label, figure in rows:
        print(f"{label.ljust(width)}  {figure}")
    found = [(c.path, c.kind) for c in diff.breaking]
    expected = [(tree.removed, "removed")]
    if found != expected or diff.added or any(d != diff for d in diffs):
        print(f"UNEXPECTED diff: breaking={found} added={len(diff.added)}; expected {expected}")
        return 1
    print(f"diff ok: exactly {tree.removed} removed, required bump {diff.required_bump}")
    return 0


def _fmt(times: list[float]) -> str:
    if len(times) == 1:
        return f"{times[0]:.2f} s"
    return f"median {statistics.median(times):.2f} s, min {min(times):.2f} s ({len(times)} runs)"


def main(argv: list[str] | None = None) -> int:
    """Time api-diff on the pygments sdist diffed against itself with one function removed."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench.apidiff", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    args = parser.parse_args(argv)
    return guarded(lambda: _bench(args.quick))


if __name__ == "__main__":
    sys.exit(main())
