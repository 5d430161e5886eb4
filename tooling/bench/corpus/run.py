"""``python -m tooling.bench.corpus [NAME ...]``: the rewriter on real projects, test by test.

For each project of ``tooling/bench/corpus.toml``: fetch the pinned sdist (checked against its
sha256, cached by hash), make it a bare-module tree, run its tests there, rewrite it with
``python -m tooling.rewrite --tests``, run the rewritten tests with only the output on
PYTHONPATH from an unrelated directory, and compare the two JUnit reports test by test.  A
difference is known (corpus.toml gives the reason, docs/rewrite.md the limit) or it fails the
run.  The rewrite's time is printed next to a plain copy and a regex rewrite of the same tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tooling.bench.corpus.outcomes import Outcome, compare, read_junit
from tooling.bench.corpus.projects import CORPUS_TOML, Project, load_projects, select
from tooling.bench.corpus.report import (
    ProjectResult,
    Speed,
    Status,
    all_ok,
    as_json,
    render,
    render_speed,
    verdict,
)
from tooling.bench.corpus.tree import BareTree, convert_tree
from tooling.bench.rewrite import best, regex_rewrite
from tooling.cli import guarded, step
from tooling.errors import ToolingError
from tooling.files import sha256_of
from tooling.index import read_project
from tooling.proc import run
from tooling.release.retry import RetryPolicy, download
from tooling.rewrite import discover_names, rewrite_tree

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Settings", "main", "make_bare", "run_corpus", "run_project"]

REPO = Path(__file__).resolve().parents[3]
DEFAULT_INDEX = "https://pypi.org/simple"
_PYTEST_TIMEOUT = 900.0


@dataclass(frozen=True)
class Settings:
    """One corpus run."""

    names: tuple[str, ...]
    """Projects to run (empty: all)."""
    index_url: str
    """Simple API root the sdists come from."""
    cache: Path
    """Where sdists are kept, by sha256."""
    runs: int
    """Timings are the best of this many runs."""
    speed_only: bool
    """Only the timings, no test runs (what ``nox -s bench -- corpus`` uses)."""
    keep: Path | None
    """Keep every project's trees below this directory (for a look at a difference)."""
    corpus: Path = CORPUS_TOML
    """The project list."""


# -- acting ---------------------------------------------------------------------------------
def fetch_sdist(project: Project, index_url: str, cache: Path) -> Path:
    """The project's pinned sdist, from the cache or the index; its sha256 must match."""
    slot = cache / project.sha256
    for found in sorted(slot.glob("*.tar.gz")) if slot.is_dir() else ():
        if sha256_of(found) == project.sha256:
            return found
    listing = read_project(index_url, project.name)
    sdists = [f for f in listing.files_for(project.version) if f.filename.endswith(".tar.gz")]
    if not sdists:
        raise ToolingError(f"corpus.toml: {project.name} {project.version}: the index "
                           f"{index_url} serves no sdist of it; pin a version that has one")
    slot.mkdir(parents=True, exist_ok=True)
    dest = slot / sdists[0].filename
    digest = download(sdists[0].url, RetryPolicy(), dest)
    if digest != project.sha256:
        dest.unlink()
        raise ToolingError(f"corpus.toml: {project.name} {project.version}: the sdist's sha256 "
                           f"is {digest}, not the pinned {project.sha256}; check the pin")
    return dest


def unpack(sdist: Path, work: Path) -> Path:
    """Extract ``sdist`` into ``work``; return its top directory."""
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    tops = [p for p in work.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise ToolingError(f"{sdist.name}: expected one top directory, found {len(tops)}")
    return tops[0]


def make_bare(project: Project, root: Path, out: Path) -> BareTree:
    """Convert the unpacked release at ``root`` into a bare tree under ``out``."""
    def inside(rel: str) -> Path:
        path = root / rel
        if not path.exists():
            raise ToolingError(f"corpus.toml: {project.name}: {rel} is not in the sdist")
        return path

    bare = convert_tree(
        inside(project.package), inside(project.tests), out,
        keep=[inside(k) for k in project.keep],
        extra_tests=[inside(e) for e in project.extra_tests],
    )
    ini = "\n".join(["[pytest]", *project.ini, ""])
    (bare.tests / "pytest.ini").write_text(ini, encoding="utf-8")
    for edit in project.edits:
        path = out / edit.path
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if text.count(edit.old) != 1:
            raise ToolingError(f"corpus.toml: {project.name}: edit of {edit.path}: {edit.old!r} "
                               "does not occur exactly once in the bare tree; update the edit")
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return bare


def _env(pythonpath: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTEST_ADDOPTS", "PYTHONSTARTUP", "PYTHONSAFEPATH"}}
    env.update(PYTHONPATH=str(pythonpath), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    return env


def run_tests(
    tests: Path, pythonpath: Path, cwd: Path, report: Path, args: Sequence[str]
) -> dict[str, Outcome]:
    """Run pytest on ``tests`` with only ``pythonpath`` added; the outcome of every test."""
    done = run(
        [sys.executable, "-m", "pytest", str(tests), "-q", "-p", "no:cacheprovider",
         "--continue-on-collection-errors",
         f"--junitxml={report}", "-o", "junit_family=xunit2", *args],
        cwd=cwd, env=_env(pythonpath), check=False, timeout=_PYTEST_TIMEOUT,
        what=f"pytest {tests}",
    )
    if not report.is_file():
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise ToolingError(f"pytest {tests}: exit {done.returncode}, no report: "
                           f"{lines[-1] if lines else 'no output'}")
    return read_junit(report)


def rewrite(bare: BareTree, package: str, out: Path, tests_out: Path) -> None:
    """``python -m tooling.rewrite`` on the bare tree and its tests, as a user runs it."""
    run(
        [sys.executable, "-m", "tooling.rewrite", "--source", str(bare.source),
         "--package", package, "--out", str(out), "--tests", str(bare.tests),
         "--tests-out", str(tests_out), "--no-cache", "--json"],
        cwd=REPO, what=f"python -m tooling.rewrite --package {package}",
    )


def measure(source: Path, package: str, work: Path, runs: int) -> Speed:
    """Time a plain copy, the regex rewrite and the rewriter on the same tree."""
    names = discover_names(source)
    out = work / "out"

    def plain_copy() -> None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(source, out)

    def rewriter() -> None:
        shutil.rmtree(out, ignore_errors=True)
        rewrite_tree(source, package, out, cache_dir=None)

    copy = best(plain_copy, runs)
    regex = best(lambda: regex_rewrite(source, out, names, package), runs)
    cost = best(rewriter, runs)
    shutil.rmtree(out, ignore_errors=True)
    files = sum(1 for p in source.rglob("*") if p.is_file())
    return Speed(files, copy, regex, cost)


def run_project(project: Project, settings: Settings, work: Path) -> ProjectResult:
    """Everything for one project inside ``work``; a failure is a BROKEN result, not a raise."""
    if project.defeated is not None:
        return ProjectResult(project, Status.DEFEATED, None, None, project.defeated)
    speed = None
    try:
        with step(f"{project.name} {project.version}: fetch and convert"):
            sdist = fetch_sdist(project, settings.index_url, settings.cache)
            (work / "sdist").mkdir()
            bare = make_bare(project, unpack(sdist, work / "sdist"), work / "bare")
        package = f"ns_{bare.layout.package}"
        speed = measure(bare.source, package, work / "speed", settings.runs)
        if settings.speed_only:
            return ProjectResult(project, Status.SAME, None, speed, None)
        # Both runs start in an empty directory of their own, so a test that reads a path
        # relative to the working directory fails alike in both; only the rewrite differs.
        (work / "cwd-bare").mkdir()
        (work / "cwd-rewritten").mkdir()
        with step(f"{project.name}: tests on the bare layout"):
            before = run_tests(bare.tests, bare.source, work / "cwd-bare",
                               work / "bare.xml", project.pytest_args)
        out, tests_out = work / "out", work / "out-tests" / bare.tests.name
        with step(f"{project.name}: rewrite"):
            rewrite(bare, package, out, tests_out)
        with step(f"{project.name}: tests on the rewritten layout"):
            after = run_tests(tests_out, out, work / "cwd-rewritten", work / "rewritten.xml",
                              project.pytest_args)
    except ToolingError as exc:
        return ProjectResult(project, Status.BROKEN, None, speed, exc.message)
    # A test id that shows a module's __name__ (a parameter id) gains the package prefix;
    # without it the same test would count as one missing and one new.
    after = {test.replace(f"{package}.", ""): outcome for test, outcome in after.items()}
    comparison = compare(before, after, project.known)
    status = Status.DIFFERENT if comparison.unexplained else Status.SAME
    return ProjectResult(project, status, comparison, speed, None)


def run_corpus(settings: Settings) -> tuple[ProjectResult, ...]:
    """Run every selected project, one after another."""
    projects = select(load_projects(settings.corpus), settings.names)
    results = []
    with tempfile.TemporaryDirectory(prefix="corpus-") as temp:
        for project in projects:
            work = (settings.keep or Path(temp)) / project.name
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            results.append(run_project(project, settings, work))
    return tuple(results)


def main(argv: list[str] | None = None) -> int:
    """Run the corpus (all projects, or those named) and print a table per project."""
    parser = argparse.ArgumentParser(prog="nox -s corpus --", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="projects (default: all)")
    parser.add_argument("--json", action="store_true", help="print the whole run as JSON")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the timings, no test runs (what nox -s bench -- corpus does)")
    parser.add_argument("--quick", action="store_true", help="one run per timing")
    parser.add_argument("--runs", type=int, default=3, help="timings are the best of N")
    parser.add_argument("--index-url", default=os.environ.get("PIP_INDEX_URL", DEFAULT_INDEX),
                        help="simple API root (default: $PIP_INDEX_URL or PyPI)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each project's trees under this directory")
    parser.add_argument("--corpus", type=Path, default=CORPUS_TOML, help="the project list")
    parser.add_argument("--cache", type=Path, default=REPO / "build" / ".cache" / "corpus",
                        help="sdists by sha256 (default: build/.cache/corpus)")
    args = parser.parse_args(argv)
    settings = Settings(
        names=tuple(args.names), index_url=args.index_url, cache=args.cache.resolve(),
        runs=1 if args.quick else max(args.runs, 1), speed_only=args.speed_only,
        keep=args.keep.resolve() if args.keep else None, corpus=args.corpus,
    )

    def work() -> int:
        load_projects(settings.corpus)  # every input checked before the first download
        results = run_corpus(settings)
        if args.json:
            print(json.dumps(as_json(results), indent=2))
        elif settings.speed_only:
            print(f"rewrite time on the corpus (best of {settings.runs}; bare source tree, no "
                  f"cache):\n{render_speed(results)}")
            for r in results:
                if r.status is Status.BROKEN:
                    print(f"{r.project.name}: {r.note}")
        else:
            for result in results:
                print(render(result), end="\n\n", flush=True)
            print("rewrite time (best of "
                  f"{settings.runs}; bare source tree, no cache):\n{render_speed(results)}\n")
            print(verdict(results))
        return 0 if all_ok(results) else 1

    return guarded(work)
