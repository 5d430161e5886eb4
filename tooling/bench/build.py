"""Build + smoke benchmark: naive loop, cold and warm ``nox -s build smoke``, side by side.

Warm is measured twice: as run by default (a Python whose inputs match an earlier pass reports
that pass from the smoke cache) and with ``-- --no-cache`` (every check proved again).
Everything runs in a throwaway copy of the repository (its own ``.nox/``, ``build/`` and
``dist/``), restricted to one Python (``RUNTIME_SMOKE_PYTHONS``, default 3.11) so the figures
compare.  The naive loop is what a developer would type: ``python -m venv``, ``pip install
build``, ``python -m build``, ``pip install dist/*.whl``, one import.  Caches of pip and uv stay
as they are (warm), for all scenarios alike.  A benchmark, never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.cli import guarded
from tooling.config import find_root
from tooling.errors import ToolingError
from tooling.files import outputs_ignored
from tooling.proc import run
from tooling.smoke.pythons import PYTHONS_ENV, find_pythons, parse_restriction

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["Figure", "main"]

NOOP_BUILD_TARGET = 2.0
"""Seconds of tooling time a no-op ``nox -s build`` may take."""
WARM_SPEEDUP_TARGET = 5.0
"""How much faster than the naive loop a warm build + smoke must be."""


@dataclass(frozen=True)
class Figure:
    """One scenario's time."""

    label: str
    """What was run."""
    seconds: float
    """Best wall time over the repetitions."""


def _nox() -> list[str]:
    found = shutil.which("nox")
    if found:
        return [found]
    try:
        import nox  # noqa: F401 - only to learn whether `python -m nox` works
    except ImportError as exc:
        raise ToolingError(
            "nox: not installed here; run the benchmark through `nox -s bench` or install "
            "the dev group"
        ) from exc
    return [sys.executable, "-m", "nox"]


def _copy_repo(root: Path, dest: Path) -> Path:
    shutil.copytree(root, dest, ignore=outputs_ignored(root))
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"}
    run(["git", "init", "-q", "-b", "main"], cwd=dest, env=env)
    run(["git", "add", "-A"], cwd=dest, env=env)
    run(["git", "commit", "-q", "-m", "chore: bench snapshot"], cwd=dest, env=env)
    return dest


def _timed(argv: Sequence[str | os.PathLike[str]], cwd: Path, env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    run(argv, cwd=cwd, env=env, timeout=1800, what=" ".join(str(a) for a in argv[:4]))
    return time.perf_counter() - start


def _best(label: str, times: int, once: Callable[[], float]) -> Figure:
    return Figure(label, min(once() for _ in range(times)))


def _naive(python: Path, repo: Path, scratch: Path, env: Mapping[str, str]) -> float:
    venv = scratch / "naive-venv"
    out = scratch / "naive-dist"
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    run([python, "-m", "venv", venv], env=env, timeout=600)
    vpy = venv / "bin" / "python"
    run([vpy, "-m", "pip", "install", "--quiet", "build"], env=env, timeout=600)
    run([vpy, "-m", "build", "--outdir", out, repo], env=env, timeout=900, what="python -m build")
    (wheel,) = out.glob("*.whl")
    run([vpy, "-m", "pip", "install", "--quiet", wheel], env=env, timeout=600)
    run([vpy, "-c", "import molecule_runtime"], cwd=scratch, env=env, timeout=60)
    return time.perf_counter() - start


def _print(
    figures: Sequence[Figure], naive: Figure, python: str, warm: Figure, noop: Figure
) -> None:
    width = max(len(f.label) for f in figures)
    print(f"build + smoke on one Python ({python}); seconds, best of the runs; x = naive / it")
    for figure in figures:
        ratio = naive.seconds / figure.seconds if figure.seconds else 0.0
        print(f"  {figure.label.ljust(width)}  {figure.seconds:7.2f}  {ratio:5.1f}x")
    speedup = naive.seconds / warm.seconds if warm.seconds else 0.0
    verdict = "meets" if speedup >= WARM_SPEEDUP_TARGET else "misses"
    print(f"warm build + smoke {speedup:.1f}x the naive loop ({verdict} the "
          f"{WARM_SPEEDUP_TARGET:.0f}x target)")
    verdict = "meets" if noop.seconds < NOOP_BUILD_TARGET else "misses"
    print(f"no-op build tooling time {noop.seconds:.2f}s ({verdict} the {NOOP_BUILD_TARGET:.0f}s "
          "target)")


def run_bench(root: Path, *, quick: bool, python_version: str) -> list[Figure]:
    """Run every scenario in a copy of ``root``; return the figures, naive loop first."""
    (python,) = find_pythons([python_version])
    nox = _nox()
    reps = 1 if quick else 2
    env = {**os.environ, PYTHONS_ENV: python_version}
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch_name:
        scratch = Path(scratch_name)
        repo = _copy_repo(root, scratch / "repo")
        build_py = repo / ".nox" / "build" / "bin" / "python"
        smoke_py = repo / ".nox" / "smoke" / "bin" / "python"
        nox_build_smoke = [*nox, "-s", "build", "smoke"]
        naive = _best("naive loop: venv, pip install build, python -m build, pip install, import",
                      1, lambda: _naive(python.executable, repo, scratch, env))
        cold = Figure("cold  nox -s build smoke (no venvs, no caches)",
                      _timed(nox_build_smoke, repo, env))
        warm = _best("warm  nox -s build smoke (venvs reused, nothing changed; smoke cache)",
                     reps, lambda: _timed(nox_build_smoke, repo, env))
        uncached = _best(
            "warm  nox -s build smoke -- --no-cache (every check proved again)", reps,
            lambda: _timed([*nox_build_smoke, "--", "--no-cache"], repo, env),
        )
        tooling = _best("warm  tooling only: python -m tooling.build + tooling.smoke.run", reps,
                        lambda: _timed([build_py, "-m", "tooling.build"], repo, env)
                        + _timed([smoke_py, "-m", "tooling.smoke"], repo, env))
        noop_nox = _best("no-op nox -s build (nox start + install check + tooling)", reps,
                         lambda: _timed([*nox, "-s", "build"], repo, env))
        noop = _best("no-op build, tooling time: python -m tooling.build", 3,
                     lambda: _timed([build_py, "-m", "tooling.build"], repo, env))
    figures = [naive, cold, warm, uncached, tooling, noop_nox, noop]
    _print(figures, naive, python.version, warm, noop)
    return figures


def main(argv: list[str] | None = None) -> int:
    """``python -m tooling.bench build [--quick]``: print the build + smoke figures."""
    parser = argparse.ArgumentParser(prog="python -m tooling.bench.build", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run per scenario")
    parser.add_argument("--python", help="the one Python to smoke on (default 3.11)")
    args = parser.parse_args(argv)
    chosen = args.python or next(iter(parse_restriction([os.environ.get(PYTHONS_ENV, "")])), "3.11")

    def work() -> int:
        run_bench(find_root(), quick=args.quick, python_version=chosen)
        return 0

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
